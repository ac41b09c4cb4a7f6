"""The evaluation services: who may do each step, every field checked with a
message naming it, nothing half-written, one audit entry per step, and the
feedback notice through the outbox."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from evaluation import selectors, services
from evaluation.errors import EvaluationError
from evaluation.models import (
    ActionUpdate,
    Feedback,
    ImprovementAction,
    Responsibility,
    UnitTarget,
    UnitTargetChange,
)
from evaluation.signals import targets_changed
from evaluation.tests.factories import (
    FeedbackFactory,
    ImprovementActionFactory,
    ResponsibilityFactory,
    UnitTargetFactory,
)
from events.models import Delivery
from members.models import AuditLog

pytestmark = pytest.mark.django_db

Status = ImprovementAction.Status


def _code(call) -> EvaluationError:
    with pytest.raises(EvaluationError) as caught:
        call()
    return caught.value


def _resp(code):
    return Responsibility.objects.get(code=code)


# --- the default list (migration 0002) ---------------------------------------------


def test_the_district_list_of_responsibilities_is_there_with_its_defaults(world):
    rows = {r.code: (r.name, r.metric, r.default_value) for r in Responsibility.objects.all()}
    assert rows["sessions-held"] == ("开课次数", "sessions_held", Decimal("10.0"))
    assert rows["families"] == ("覆盖家庭数", "families", Decimal("50.0"))
    assert rows["satisfaction"] == ("学期问卷满意度", "satisfaction", Decimal("4.0"))
    assert rows["response-rate"] == ("问卷回收率", "response_rate", Decimal("30.0"))
    assert rows["events-held"][1] == "events_held"


def test_the_default_list_migration_is_reversible_and_keeps_used_rows(world):
    from django.apps import apps as global_apps

    migration = __import__("evaluation.migrations.0002_default_responsibilities", fromlist=["x"])
    UnitTargetFactory(unit=world.school, term=world.term, responsibility=_resp("families"))
    migration.responsibilities_remove(global_apps, None)
    assert list(
        Responsibility.objects.filter(code__in=["families", "sessions-held"]).values_list(
            "code", "is_active"
        )
    ) == [("families", False)]
    migration.responsibilities_upsert(global_apps)
    assert Responsibility.objects.filter(is_active=True, code="families").exists()


# --- 定标 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, value, expected",
    [
        ("sessions-held", "12", Decimal("12.0")),
        ("sessions-held", "12.5", "value_not_whole"),
        ("sessions-held", "-1", "value_out_of_range"),
        ("satisfaction", "4.2", Decimal("4.2")),
        ("satisfaction", "5.5", "value_out_of_range"),
        ("satisfaction", "4.25", "value_one_decimal"),
        ("response-rate", "100", Decimal("100.0")),
        ("response-rate", "101", "value_out_of_range"),
        ("response-rate", "abc", "value_not_number"),
        ("response-rate", "NaN", "value_not_number"),
        ("families", "", "value_missing"),
    ],
)
def test_a_target_value_is_checked_by_its_metric(world, code, value, expected):
    call = lambda: services.unit_target_set(  # noqa: E731
        actor=world.district,
        unit_id=world.school.pk,
        term_id=world.term.pk,
        responsibility_id=_resp(code).pk,
        value=value,
    )
    if isinstance(expected, Decimal):
        assert call().value == expected
    else:
        error = _code(call)
        assert (error.code, error.field) == (expected, "value")
        assert not UnitTarget.objects.exists()
    if expected == "value_out_of_range":
        assert _resp(code).name in error.message


def test_targets_are_set_by_the_district_and_the_units_alliance_only(world):
    def set_by(user, unit):
        return services.unit_target_set(
            actor=user,
            unit_id=unit.pk,
            term_id=world.term.pk,
            responsibility_id=_resp("families").pk,
            value="60",
        )

    set_by(world.alliance_coordinator, world.school)
    target = set_by(world.district, world.school)  # a second set replaces the value
    assert UnitTarget.objects.count() == 1 and target.set_by == world.district
    # the unit itself does not set its own targets; another alliance cannot see it
    assert _code(lambda: set_by(world.unit_coordinator, world.school)).code == "not_target_setter"
    assert _code(lambda: set_by(world.other_alliance_coordinator, world.school)).code == (
        "unit_missing"
    )
    assert _code(lambda: set_by(world.alliance_coordinator, world.other_school)).code == (
        "unit_missing"
    )
    entries = AuditLog.objects.filter(action="evaluation.target.set").order_by("pk")
    assert [e.data["previous"] for e in entries] == [None, "60.0"]


def test_the_default_fill_covers_the_scope_keeps_set_values_and_is_idempotent(world):
    received = []

    def receiver(sender, term_id, unit_ids, **kwargs):
        received.append((term_id, unit_ids))

    targets_changed.connect(receiver)
    try:
        services.unit_target_set(
            actor=world.district,
            unit_id=world.school.pk,
            term_id=world.term.pk,
            responsibility_id=_resp("families").pk,
            value="80",
        )
        active = Responsibility.objects.filter(is_active=True).count()
        # the alliance's coordinator fills their alliance's units only
        written = services.unit_targets_default(
            actor=world.alliance_coordinator, term_id=world.term.pk
        )
        assert written == active - 1
        assert not UnitTarget.objects.filter(unit=world.other_school).exists()
        assert (
            UnitTarget.objects.get(unit=world.school, responsibility__code="families").value == 80
        )
        # a second fill writes nothing
        assert (
            services.unit_targets_default(actor=world.alliance_coordinator, term_id=world.term.pk)
            == 0
        )
        # a foreign unit named explicitly is refused
        error = _code(
            lambda: services.unit_targets_default(
                actor=world.alliance_coordinator,
                term_id=world.term.pk,
                unit_ids=[world.other_school.pk],
            )
        )
        assert error.code == "unit_missing"
        assert (
            _code(
                lambda: services.unit_targets_default(
                    actor=world.unit_coordinator, term_id=world.term.pk
                )
            ).code
            == "not_target_setter"
        )
    finally:
        targets_changed.disconnect(receiver)
    assert AuditLog.objects.filter(action="evaluation.target.default").count() == 2


def test_targets_changed_is_sent_inside_the_change_s_transaction(world):
    received = []

    def receiver(sender, term_id, unit_ids, **kwargs):
        received.append((term_id, unit_ids))

    targets_changed.connect(receiver)
    try:
        services.unit_targets_default(actor=world.district, term_id=world.term.pk)
    finally:
        targets_changed.disconnect(receiver)
    # This test's transaction never commits and no on_commit callback runs here: the
    # signal came while the targets were written, so the receivers' marks commit
    # (or roll back) with them.
    assert received == [(world.term.pk, sorted([world.school.pk, world.other_school.pk]))]


# --- 反馈 ------------------------------------------------------------------------------


def test_feedback_is_written_by_the_district_or_the_alliance_and_tells_the_unit(
    world, django_capture_on_commit_callbacks
):
    feedback = services.feedback_write(
        actor=world.district,
        unit_id=world.school.pk,
        term_id=world.term.pk,
        strengths="  课程规范  ",
        problems="",
    )
    assert (feedback.strengths, feedback.written_as) == ("课程规范", "区级")
    by_alliance = services.feedback_write(
        actor=world.alliance_coordinator,
        unit_id=world.school.pk,
        term_id=world.term.pk,
        strengths="",
        problems="回收率低",
    )
    assert by_alliance.written_as == "溪口联盟"
    # the unit's coordinator is told through the outbox (a Delivery row of the notice)
    rows = Delivery.objects.filter(
        purpose=Delivery.Purpose.NOTICE, notice__key=f"evaluation.feedback:{feedback.pk}"
    )
    assert set(rows.values_list("user_id", flat=True)) == {world.unit_coordinator.pk}
    notice = rows.first().notice
    assert notice.topic == "evaluation.feedback" and notice.unit_id == world.school.pk
    assert notice.path == f"/evaluation/units/{world.school.pk}/?term={world.term.code}"
    assert "溪口中学" in notice.subject
    assert AuditLog.objects.filter(action="evaluation.feedback.write").count() == 2


@pytest.mark.parametrize(
    "strengths, problems, code, field",
    [
        ("", "  ", "feedback_empty", "strengths"),
        ("好" * 2001, "", "strengths_too_long", "strengths"),
        ("", "差" * 2001, "problems_too_long", "problems"),
    ],
)
def test_bad_feedback_is_refused_on_its_field(world, strengths, problems, code, field):
    error = _code(
        lambda: services.feedback_write(
            actor=world.district,
            unit_id=world.school.pk,
            term_id=world.term.pk,
            strengths=strengths,
            problems=problems,
        )
    )
    assert (error.code, error.field) == (code, field)
    assert not Feedback.objects.exists() and not Delivery.objects.exists()


def test_feedback_writers_are_the_district_and_the_units_alliance(world):
    def write(user, unit):
        return services.feedback_write(
            actor=user, unit_id=unit.pk, term_id=world.term.pk, strengths="好", problems=""
        )

    assert _code(lambda: write(world.unit_coordinator, world.school)).code == "not_feedback_writer"
    assert _code(lambda: write(world.other_alliance_coordinator, world.school)).code == (
        "unit_missing"
    )
    assert _code(lambda: write(world.other_coordinator, world.school)).code == "unit_missing"
    assert (
        _code(
            lambda: services.feedback_write(
                actor=world.district,
                unit_id=world.school.pk,
                term_id=999999,
                strengths="好",
                problems="",
            )
        ).code
        == "term_missing"
    )


def test_feedback_is_acknowledged_once_by_the_units_coordinator(world):
    feedback = FeedbackFactory(unit=world.school, term=world.term, written_by=world.district)
    for user, code in [
        (world.district, "not_unit_coordinator"),
        (world.alliance_coordinator, "not_unit_coordinator"),
        (world.other_coordinator, "feedback_missing"),
    ]:
        error = _code(
            lambda u=user: services.feedback_acknowledge(actor=u, feedback_id=feedback.pk)
        )
        assert error.code == code
    done = services.feedback_acknowledge(actor=world.unit_coordinator, feedback_id=feedback.pk)
    assert done.acknowledged_by == world.unit_coordinator and done.acknowledged_at
    again = _code(
        lambda: services.feedback_acknowledge(actor=world.unit_coordinator, feedback_id=feedback.pk)
    )
    assert again.code == "already_acknowledged"
    assert AuditLog.objects.filter(action="evaluation.feedback.acknowledge").count() == 1


def test_acknowledging_tells_the_writer_through_the_outbox_once(world):
    feedback = FeedbackFactory(unit=world.school, term=world.term, written_by=world.district)
    key = f"evaluation.feedback_ack:{feedback.pk}"

    services.feedback_acknowledge(actor=world.unit_coordinator, feedback_id=feedback.pk)
    _code(
        lambda: services.feedback_acknowledge(actor=world.unit_coordinator, feedback_id=feedback.pk)
    )

    rows = Delivery.objects.filter(purpose=Delivery.Purpose.NOTICE, notice__key=key)
    assert rows.exists() and set(rows.values_list("user_id", flat=True)) == {world.district.pk}
    notice = rows.select_related("notice").first().notice
    assert notice.topic == "evaluation.feedback_ack" and notice.unit_id == world.school.pk
    assert "已确认" in notice.subject and world.school.name in notice.subject
    # the unit's own coordinator is not told of their own click
    assert not rows.filter(user=world.unit_coordinator).exists()


# --- 提升 ------------------------------------------------------------------------------


def _add(world, **fields):
    values = {
        "actor": world.unit_coordinator,
        "unit_id": world.school.pk,
        "term_id": world.term.pk,
        "what": "增加周末场次",
        "owner": "王老师",
        "due_on": timezone.localdate() + datetime.timedelta(days=20),
    }
    values.update(fields)
    return services.action_add(**values)


@pytest.mark.parametrize(
    "fields, code, field",
    [
        ({"what": " "}, "what_missing", "what"),
        ({"what": "字" * 301}, "what_too_long", "what"),
        ({"owner": ""}, "owner_missing", "owner"),
        ({"owner": "名" * 51}, "owner_too_long", "owner"),
        ({"due_on": ""}, "due_missing", "due_on"),
        ({"due_on": "2026-02-30"}, "due_missing", "due_on"),
        ({"due_on": timezone.localdate() - datetime.timedelta(days=1)}, "due_past", "due_on"),
        ({"due_on": timezone.localdate() + datetime.timedelta(days=900)}, "due_too_late", "due_on"),
        ({"feedback_id": 999999}, "feedback_other_unit", "feedback"),
    ],
)
def test_a_bad_action_is_refused_on_its_field(world, fields, code, field):
    error = _code(lambda: _add(world, **fields))
    assert (error.code, error.field) == (code, field)
    assert not ImprovementAction.objects.exists()


def test_actions_are_added_by_the_units_coordinator_only(world):
    assert _code(lambda: _add(world, actor=world.district)).code == "not_unit_coordinator"
    assert _code(lambda: _add(world, actor=world.alliance_coordinator)).code == (
        "not_unit_coordinator"
    )
    assert _code(lambda: _add(world, actor=world.other_coordinator)).code == "unit_missing"
    other_feedback = FeedbackFactory(unit=world.other_school, term=world.term)
    assert _code(lambda: _add(world, feedback_id=other_feedback.pk)).code == "feedback_other_unit"
    action = _add(world, due_on=(timezone.localdate() + datetime.timedelta(days=3)).isoformat())
    assert action.status == Status.PLANNED and action.created_by == world.unit_coordinator


def test_an_action_moves_forward_done_needs_evidence_and_is_final(world):
    action = _add(world)

    def move(status, **kw):
        return services.action_update(
            actor=world.unit_coordinator, action_id=action.pk, status=status, **kw
        )

    assert _code(lambda: move("planned")).code == "status_unchanged"
    assert _code(lambda: move("finished")).code == "status_bad"
    move("planned", note="已联系讲师")  # a progress note in the same status
    move("in_progress", note="第一场已开")
    assert _code(lambda: move("planned")).code == "status_backwards"
    error = _code(lambda: move("done", evidence="  "))
    assert (error.code, error.field) == ("evidence_required", "evidence")
    action.refresh_from_db()
    assert action.status == Status.IN_PROGRESS and action.done_at is None
    move("done", evidence="共开 4 场，签到表存档。")
    action.refresh_from_db()
    assert action.status == Status.DONE and action.done_at and action.evidence
    assert _code(lambda: move("done", evidence="再来")).code == "status_done_already"
    assert list(action.updates.values_list("status", flat=True)) == [
        "planned",
        "in_progress",
        "done",
    ]
    assert (
        _code(
            lambda: services.action_update(
                actor=world.other_coordinator, action_id=action.pk, status="done", evidence="x"
            )
        ).code
        == "action_missing"
    )
    assert AuditLog.objects.filter(action="evaluation.action.update").count() == 3


# --- the panel -------------------------------------------------------------------------


def test_the_panel_flags_overdue_actions_and_shows_last_terms(world):
    today = timezone.localdate()
    late = ImprovementActionFactory(
        unit=world.school, term=world.term, due_on=today - datetime.timedelta(days=1)
    )
    due_today = ImprovementActionFactory(unit=world.school, term=world.term, due_on=today)
    late_but_done = ImprovementActionFactory(
        unit=world.school,
        term=world.term,
        due_on=today - datetime.timedelta(days=5),
        status=Status.DONE,
        evidence="做完了",
        done_at=timezone.now(),
    )
    last = ImprovementActionFactory(
        unit=world.school, term=world.last_term, due_on=today - datetime.timedelta(days=50)
    )
    ImprovementActionFactory(unit=world.other_school, term=world.term)

    panel = selectors.evaluation_panel(
        user=world.unit_coordinator, unit=world.school, term=world.term
    )

    flags = {a.pk: a.overdue for a in panel["actions"]}
    assert flags == {late.pk: True, due_today.pk: False, late_but_done.pk: False}
    assert panel["previous_term"] == world.last_term
    assert [(a.pk, a.overdue) for a in panel["last_term_actions"]] == [(last.pk, True)]
    assert panel["can_acknowledge"] and panel["can_add_action"]
    assert not panel["can_write_feedback"] and not panel["can_set_targets"]
    district = selectors.evaluation_panel(user=world.district, unit=world.school, term=world.term)
    assert district["can_write_feedback"] and not district["can_acknowledge"]


def test_the_timeline_is_newest_first_and_covers_every_step(world):
    base = timezone.now() - datetime.timedelta(days=10)

    def at(hours):
        return base + datetime.timedelta(hours=hours)

    services.unit_targets_default(actor=world.district, term_id=world.term.pk, now=at(0))
    feedback = services.feedback_write(
        actor=world.district,
        unit_id=world.school.pk,
        term_id=world.term.pk,
        strengths="好",
        problems="",
        now=at(1),
    )
    services.feedback_acknowledge(actor=world.unit_coordinator, feedback_id=feedback.pk, now=at(2))
    action = _add(world, feedback_id=feedback.pk, now=at(3))
    services.action_update(
        actor=world.unit_coordinator,
        action_id=action.pk,
        status="in_progress",
        now=at(4),
        note="开始",
    )

    panel = selectors.evaluation_panel(user=world.district, unit=world.school, term=world.term)

    kinds = [(e.kind, e.at) for e in panel["timeline"]]
    assert kinds == [
        ("update", at(4)),
        ("action", at(3)),
        ("acknowledge", at(2)),
        ("feedback", at(1)),
        ("target", at(0)),
    ]
    assert "开课次数" in panel["timeline"][-1].detail  # one entry for the whole fill
    assert panel["feedback"][0].acknowledged and panel["feedback"][0].action_count == 1


def test_the_timeline_shows_every_target_change_old_to_new(world):
    base = timezone.now() - datetime.timedelta(days=5)
    families = _resp("families")

    def set_to(value, hours, actor=None):
        return services.unit_target_set(
            actor=actor or world.district,
            unit_id=world.school.pk,
            term_id=world.term.pk,
            responsibility_id=families.pk,
            value=value,
            now=base + datetime.timedelta(hours=hours),
        )

    services.unit_targets_default(actor=world.district, term_id=world.term.pk, now=base)
    set_to("60", 1)
    set_to("70", 2, actor=world.alliance_coordinator)
    set_to("70", 3)  # the same value again is no change
    services.unit_targets_default(  # a second fill writes nothing
        actor=world.district, term_id=world.term.pk, now=base + datetime.timedelta(hours=4)
    )

    panel = selectors.evaluation_panel(user=world.district, unit=world.school, term=world.term)

    entries = [(e.title, e.detail, e.who) for e in panel["timeline"] if e.kind == "target"]
    assert entries[0] == ("调整目标", "覆盖家庭数 ≥ 60 户 → ≥ 70 户", "溪口联盟李老师")
    assert entries[1] == ("调整目标", "覆盖家庭数 ≥ 50 户 → ≥ 60 户", "区教育局张老师")
    assert entries[2][0] == "按默认目标设定" and "覆盖家庭数 ≥ 50 户" in entries[2][1]
    assert len(entries) == 3
    # the table shows the latest value; the other unit's and term's changes stay out
    row = next(r for r in panel["targets"] if r["responsibility"] == families)
    assert row["display"] == "≥ 70 户"
    assert UnitTargetChange.objects.filter(unit=world.school, term=world.term).count() == (
        Responsibility.objects.filter(is_active=True).count() + 2
    )


def test_the_panel_reads_in_constant_queries(world, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        user = type(world.district).objects.get(pk=world.district.pk)  # no cached roles
        with CaptureQueriesContext(connection) as ctx:
            selectors.evaluation_panel(user=user, unit=world.school, term=world.term)
        return len(ctx)

    services.unit_targets_default(actor=world.district, term_id=world.term.pk)
    FeedbackFactory(unit=world.school, term=world.term)
    ImprovementActionFactory(unit=world.school, term=world.term)
    small = count()
    for _n in range(5):
        feedback = FeedbackFactory(unit=world.school, term=world.term)
        action = ImprovementActionFactory(unit=world.school, term=world.term, feedback=feedback)
        ImprovementActionFactory(unit=world.school, term=world.last_term)
        ActionUpdate.objects.create(action=action, status="in_progress", at=timezone.now())
        services.unit_target_set(
            actor=world.district,
            unit_id=world.school.pk,
            term_id=world.term.pk,
            responsibility_id=_resp("families").pk,
            value=str(60 + _n),
        )
    ResponsibilityFactory()
    assert count() == small
    assert small <= 9


# --- the district's list ---------------------------------------------------------------


def test_responsibilities_are_the_city_admins_and_checked_like_targets(world):
    def save(actor=None, **fields):
        values = {
            "code": "volunteers",
            "name": "志愿服务场次",
            "metric": "events_held",
            "default_value": "3",
        }
        values.update(fields)
        return services.responsibility_save(actor=actor or world.city, **values)

    assert _code(lambda: save(actor=world.alliance_coordinator)).code == "not_district_admin"
    # a district administrator neither: one list for every district
    assert _code(lambda: save(actor=world.district)).code == "not_district_admin"
    assert _code(lambda: save(code="Bad Code")).field == "code"
    assert _code(lambda: save(default_value="2.5")).code == "value_not_whole"
    assert _code(lambda: save(metric="nonsense")).code == "metric_bad"
    row = save()
    assert _code(lambda: save()).code == "code_taken"
    UnitTargetFactory(unit=world.school, term=world.term, responsibility=row)
    error = _code(lambda: save(responsibility_id=row.pk, metric="families"))
    assert (error.code, error.field) == ("metric_fixed", "metric")
    changed = save(responsibility_id=row.pk, name="志愿活动场次", default_value="4")
    assert (changed.name, changed.default_value) == ("志愿活动场次", Decimal("4.0"))
    assert list(
        AuditLog.objects.filter(action__startswith="evaluation.responsibility")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["evaluation.responsibility.create", "evaluation.responsibility.change"]
