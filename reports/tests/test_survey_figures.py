"""The questionnaires' figures (reports.SurveySnapshot) and 考核 (reports.UnitAttainment):
the one aggregate against numbers worked out here from the rows, the marks
that keep them fresh, attainment met / not met / 暂无数据, the dashboards and
the workbook's two sheets."""

from __future__ import annotations

import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from evaluation.models import Responsibility, UnitTarget
from members.tests.factories import AllianceFactory, FamilyFactory, MemberUnitFactory
from parent_school.tests.factories import TermFactory
from reports import exports
from reports.models import SnapshotMark, SurveySnapshot, UnitAttainment
from reports.rollup import survey_figures
from reports.services import (
    attainment_compute,
    participation_rollup,
    snapshot_marks_rollup,
    survey_marks_write,
)
from reports.tests.factories import CourseFactory, ParentSchoolFactory, local, session_make
from surveys.models import Survey
from surveys.tests.factories import (
    AnswerFactory,
    InvitationFactory,
    ParticipationFactory,
    ResponseFactory,
    SurveyFactory,
    with_questions,
)


def _answered(survey, version, family, satisfaction, *, anonymous=False):
    """A family's answer: its participation and, released, its response with a
    satisfaction rating and an NPS answer (which no satisfaction figure counts)."""
    ParticipationFactory(survey=survey, family=family)
    response = ResponseFactory(
        survey=survey,
        version=version,
        family=None if anonymous else family,
        submitted_at=None if anonymous else timezone.now(),
        batch=1 if anonymous else None,
    )
    questions = {q.key: q for q in version.questions.all()}
    AnswerFactory(response=response, question=questions["satisfaction"], number=satisfaction)
    AnswerFactory(response=response, question=questions["recommend"], number=9)
    return response


@pytest.fixture
def world(db):
    w = SimpleNamespace()
    w.term = TermFactory(
        code="2030-2031-1", starts_on=local(2030, 9, 1).date(), ends_on=local(2031, 1, 20).date()
    )
    w.other_term = TermFactory(
        code="2029-2030-2", starts_on=local(2030, 2, 20).date(), ends_on=local(2030, 7, 10).date()
    )
    w.u1 = MemberUnitFactory(name="问卷第一小学")
    w.u2 = MemberUnitFactory(name='=HYPERLINK("x")问卷社区')
    w.u3 = MemberUnitFactory(name="问卷第三中学")  # no survey at all
    w.version = with_questions()
    w.template = w.version.template
    w.families = [FamilyFactory() for _ in range(9)]
    f = w.families

    def survey(unit, **kwargs):
        return SurveyFactory(
            template=w.template, term=kwargs.pop("term", w.term), unit=unit, **kwargs
        )

    # u1's term survey: 6 invited (f0–f5); f0–f3 answered (one of them anonymously
    # counted as released, named here for the test), f6 answered before its invitation.
    w.s1 = survey(w.u1)
    for family in f[:6]:
        InvitationFactory(survey=w.s1, family=family)
    for family, rating in zip([f[0], f[1], f[2], f[3], f[6]], [5, 4, 3, 4, 2], strict=True):
        _answered(w.s1, w.version, family, rating)
    # u1's alliance-term survey, anonymous: 2 invited, 2 answered, both still pending
    # (participations only: fewer than a batch is released; a released answer here
    # would be a survey below SURVEYS_MIN_GROUP inside u1's satisfaction, which the
    # small-group rule then withholds — see the tests at the end).
    alliance = AllianceFactory()
    w.s1b = survey(
        w.u1,
        scope=Survey.Scope.ALLIANCE_TERM,
        parent_school=None,
        alliance=alliance,
        is_anonymous=True,
    )
    for family in f[:2]:
        InvitationFactory(survey=w.s1b, family=family)
    ParticipationFactory(survey=w.s1b, family=f[0])  # pending: no response yet
    ParticipationFactory(survey=w.s1b, family=f[1])
    # u1's session survey: its answers count in the response rate, not in satisfaction.
    school = ParentSchoolFactory(host_unit=w.u1)
    course = CourseFactory(parent_school=school, term=w.term)
    offering = session_make(course=course, starts_at=local(2030, 10, 10)).offering
    w.s2 = survey(w.u1, scope=Survey.Scope.SESSION, offering=offering, parent_school=None)
    for family in f[:3]:
        InvitationFactory(survey=w.s2, family=family)
    _answered(w.s2, w.version, f[0], 1)
    # Not counted: an unpublished survey, a course series, another term's survey.
    hidden = survey(w.u1, is_published=False)
    InvitationFactory(survey=hidden, family=f[7])
    _answered(hidden, w.version, f[7], 1)
    survey(w.u1, scope=Survey.Scope.COURSE, course=course, parent_school=None)
    earlier = survey(w.u1, term=w.other_term)
    InvitationFactory(survey=earlier, family=f[8])
    _answered(earlier, w.version, f[8], 1)
    # u2: a term survey with invitations and no answer yet.
    w.s3 = survey(w.u2)
    for family in f[:4]:
        InvitationFactory(survey=w.s3, family=family)
    return w


def expected_figures(term) -> dict[int, dict]:
    """The figures worked out from the rows in Python, by the definitions."""
    from surveys.models import Answer, Invitation, Participation

    result: dict[int, dict] = {}
    counted = Survey.objects.filter(term=term, is_published=True).exclude(scope="course")
    for survey in counted:
        row = result.setdefault(
            survey.unit_id,
            {"surveys": 0, "invited": 0, "answered": 0, "sat_n": 0, "sat_sum": 0},
        )
        invited = set(Invitation.objects.filter(survey=survey).values_list("family_id", flat=True))
        answered = set(
            Participation.objects.filter(survey=survey).values_list("family_id", flat=True)
        )
        row["surveys"] += 1
        row["invited"] += len(invited | answered)
        row["answered"] += len(answered)
        if survey.scope in ("parent_school_term", "alliance_term"):
            ratings = list(
                Answer.objects.filter(
                    response__survey=survey, question__measure="satisfaction"
                ).values_list("number", flat=True)
            )
            row["sat_n"] += len(ratings)
            row["sat_sum"] += sum(ratings)
    return result


def test_survey_figures_are_the_rows_counted_by_the_definitions(world):
    w = world
    # when
    with CaptureQueriesContext(connection) as ctx:
        figures = {f["unit_id"]: f for f in survey_figures(term=w.term)}
    # then one aggregate statement (inside its savepoint and planner settings)
    statements = [q["sql"] for q in ctx.captured_queries if "surveys_survey" in q["sql"]]
    assert len(statements) == 1
    expected = expected_figures(w.term)
    assert set(figures) == set(expected) == {w.u1.pk, w.u2.pk}
    for unit_id, e in expected.items():
        f = figures[unit_id]
        assert (f["surveys"], f["invited"], f["answered"]) == (
            e["surveys"],
            e["invited"],
            e["answered"],
        )
        assert f["satisfaction_answers"] == e["sat_n"]
        assert f["satisfaction_sum"] == e["sat_sum"]
        rate = (Decimal(e["answered"]) * 100 / e["invited"]).quantize(Decimal("0.1"))
        assert f["response_rate"] == rate
        mean = (
            (Decimal(e["sat_sum"]) / e["sat_n"]).quantize(Decimal("0.01"))
            if e["sat_n"] >= settings.SURVEYS_MIN_GROUP
            else None
        )
        assert f["satisfaction"] == mean
    # and by hand, u1: 3 surveys; invited 7 + 2 + 3; answered 5 + 2 + 1; satisfaction
    # of the term surveys' released answers 5, 4, 3, 4, 2 (not the session's 1)
    u1 = figures[w.u1.pk]
    assert (u1["surveys"], u1["invited"], u1["answered"]) == (3, 12, 8)
    assert u1["response_rate"] == Decimal("66.7")
    assert (u1["satisfaction_answers"], u1["satisfaction_sum"]) == (5, 18)
    assert u1["satisfaction"] == Decimal("3.60")
    u2 = figures[w.u2.pk]
    assert (u2["invited"], u2["answered"], u2["response_rate"], u2["satisfaction"]) == (
        4,
        0,
        Decimal("0.0"),
        None,
    )
    # and restricted to one unit: the same row
    assert survey_figures(term=w.term, unit_ids=[w.u2.pk]) == [figures[w.u2.pk]]


def test_the_full_roll_up_writes_survey_rows_and_a_pass_keeps_them_fresh(world):
    w = world
    participation_rollup(term=w.term)
    assert SurveySnapshot.objects.get(term=w.term, unit=w.u2).answered == 0
    assert not SnapshotMark.objects.filter(term=w.term).exists()
    SnapshotMark.objects.all().delete()  # the other term's, left by the world

    # when a family answers u2's survey: the participation marks u2's row
    _answered(w.s3, w.version, w.families[0], 5)
    marks = list(SnapshotMark.objects.values_list("term_id", "unit_id", "figures"))
    assert set(marks) == {(w.term.pk, w.u2.pk, SnapshotMark.Figures.SURVEYS)}

    # and a bulk write (a release, invitations) marks through the service in one statement
    with CaptureQueriesContext(connection) as ctx:
        survey_marks_write(survey_ids=[w.s1.pk, w.s3.pk])
    assert len([q for q in ctx.captured_queries if "reports_snapshotmark" in q["sql"]]) == 1

    # then one pass re-rolls exactly the marked units
    before_u1 = SurveySnapshot.objects.get(term=w.term, unit=w.u1).computed_at
    assert snapshot_marks_rollup() >= 2
    assert not SnapshotMark.objects.exists()
    u2 = SurveySnapshot.objects.get(term=w.term, unit=w.u2)
    # (one satisfaction answer: counted, its mean withheld by the small-group rule)
    assert (u2.answered, u2.response_rate, u2.satisfaction_answers, u2.satisfaction) == (
        1,
        Decimal("25.0"),
        1,
        None,
    )
    assert SurveySnapshot.objects.get(term=w.term, unit=w.u1).computed_at != before_u1
    # and the pass's rows are the full roll-up's
    passed = {
        row.pop("unit"): row
        for row in SurveySnapshot.objects.filter(term=w.term).values(
            "unit", "surveys", "invited", "answered", "response_rate", "satisfaction"
        )
    }
    participation_rollup(term=w.term)
    full = {
        row.pop("unit"): row
        for row in SurveySnapshot.objects.filter(term=w.term).values(
            "unit", "surveys", "invited", "answered", "response_rate", "satisfaction"
        )
    }
    assert passed == full


def test_a_survey_signal_marks_its_unit(world):
    from surveys import signals

    SnapshotMark.objects.all().delete()  # the world's own
    signals.responses_changed.send(sender=None, survey_ids=[world.s3.pk])
    assert set(SnapshotMark.objects.values_list("unit_id", "figures")) == {
        (world.u2.pk, SnapshotMark.Figures.SURVEYS)
    }


def _responsibility(code, metric, value="1"):
    return Responsibility.objects.create(
        code=code, name=f"测试职责{code}", metric=metric, default_value=Decimal(value)
    )


def _target(unit, term, responsibility, value):
    return UnitTarget.objects.create(
        unit=unit,
        term=term,
        responsibility=responsibility,
        value=Decimal(value),
        set_at=timezone.now(),
    )


def test_attainment_met_not_met_and_nothing_to_measure(world):
    w = world
    Metric = Responsibility.Metric
    satisfaction = _responsibility("t-satisfaction", Metric.SATISFACTION, "4.0")
    response = _responsibility("t-response", Metric.RESPONSE_RATE, "30")
    sessions = _responsibility("t-sessions", Metric.SESSIONS_HELD, "10")
    attendance = _responsibility("t-attendance", Metric.ATTENDANCE_RATE, "80")
    _target(w.u1, w.term, satisfaction, "3.5")  # 3.60: met
    _target(w.u1, w.term, response, "70")  # 66.7 %: not met
    _target(w.u1, w.term, sessions, "10")  # nothing held here: 0, not met
    _target(w.u2, w.term, satisfaction, "4.0")  # no answer: 暂无数据
    _target(w.u3, w.term, attendance, "80")  # no enrolment: 暂无数据
    _target(w.u2, w.term, response, "0")  # 0 % of 0 target: met

    # when the roll-up runs (the targets' marks are covered by it)
    participation_rollup(term=w.term)

    rows = {(a.unit_id, a.responsibility_id): a for a in UnitAttainment.objects.filter(term=w.term)}
    got = {key: (a.achieved, a.met) for key, a in rows.items()}
    assert got == {
        (w.u1.pk, satisfaction.pk): (Decimal("3.60"), True),
        (w.u1.pk, response.pk): (Decimal("66.70"), False),
        (w.u1.pk, sessions.pk): (Decimal("0.00"), False),
        (w.u2.pk, satisfaction.pk): (None, False),
        (w.u3.pk, attendance.pk): (None, False),
        (w.u2.pk, response.pk): (Decimal("0.00"), True),
    }
    assert rows[(w.u1.pk, response.pk)].target == Decimal("70.0")

    # when a target changes: its unit is marked, and the pass re-assesses it
    target = UnitTarget.objects.get(unit=w.u1, responsibility=response)
    target.value = Decimal("60")
    target.save()
    assert SnapshotMark.objects.filter(unit=w.u1, figures="surveys").exists()
    snapshot_marks_rollup()
    assert UnitAttainment.objects.get(unit=w.u1, responsibility=response).met is True

    # and a target removed loses its row
    target.delete()
    snapshot_marks_rollup()
    assert not UnitAttainment.objects.filter(unit=w.u1, responsibility=response).exists()
    # a direct computation for one unit touches only that unit
    assert attainment_compute(term=w.term, unit_ids=[w.u2.pk]) == 2
    assert UnitAttainment.objects.filter(term=w.term).count() == 5


def test_the_default_fill_signal_marks_its_units(world):
    from evaluation.signals import targets_changed

    SnapshotMark.objects.all().delete()  # the world's own
    targets_changed.send(sender=None, term_id=world.term.pk, unit_ids=[world.u1.pk, world.u3.pk])
    assert set(SnapshotMark.objects.values_list("unit_id", flat=True)) == {
        world.u1.pk,
        world.u3.pk,
    }


def test_the_workbook_has_the_survey_and_attainment_sheets(world):
    w = world
    responsibility = _responsibility("t-sat2", Responsibility.Metric.SATISFACTION, "4.0")
    _target(w.u1, w.term, responsibility, "4.0")
    _target(w.u2, w.term, responsibility, "4.0")
    participation_rollup(term=w.term)

    buffer = io.BytesIO()
    exports.xlsx_write(term=w.term, unit_ids=None, out=buffer)
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    assert "问卷调查" in book.sheetnames and "目标达成" in book.sheetnames

    def data(sheet):
        rows = [
            list(r)
            for r in book[sheet].iter_rows(min_row=exports.TITLE_LINES + 2, values_only=True)
        ]
        return rows[:-1], rows[-1]

    rows, totals = data("问卷调查")
    by_unit = {r[0]: r for r in rows}
    # the formula-like name is escaped by the one rule
    assert set(by_unit) == {"问卷第一小学", '\'=HYPERLINK("x")问卷社区'}
    assert by_unit["问卷第一小学"][1:7] == [3, 12, 8, pytest.approx(0.667), 5, pytest.approx(3.6)]
    assert by_unit['\'=HYPERLINK("x")问卷社区'][6] is None
    # totals: sums, the rate and mean of the sums
    assert totals[:4] == ["合计", 4, 16, 8]
    assert totals[4] == pytest.approx(0.5)
    assert totals[6] == pytest.approx(3.6)

    rows, totals = data("目标达成")
    by_unit = {r[0]: r[1:] for r in rows}
    assert by_unit == {
        "问卷第一小学": ["测试职责t-sat2", 4.0, pytest.approx(3.6), "否"],
        '\'=HYPERLINK("x")问卷社区': ["测试职责t-sat2", 4.0, None, "暂无数据"],
    }
    assert totals[0] == "合计" and totals[4] == "0 / 2 项达标"

    # and scoped: one unit's workbook has only its rows
    buffer = io.BytesIO()
    exports.xlsx_write(term=w.term, unit_ids=[w.u1.pk], out=buffer)
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    rows, _totals = data("问卷调查")
    assert [r[0] for r in rows] == ["问卷第一小学"]


def test_the_dashboards_show_survey_figures_and_attainment(world, client):
    from django.urls import reverse

    from members.models import RoleAssignment
    from members.tests.factories import RoleAssignmentFactory, UserFactory

    w = world
    Metric = Responsibility.Metric
    _target(w.u1, w.term, _responsibility("d-satisfaction", Metric.SATISFACTION, "4.0"), "3.5")
    _target(w.u1, w.term, _responsibility("d-response", Metric.RESPONSE_RATE, "30"), "70")
    _target(w.u1, w.term, _responsibility("d-attendance", Metric.ATTENDANCE_RATE, "80"), "80")
    participation_rollup(term=w.term)
    admin = UserFactory()
    RoleAssignmentFactory(user=admin, role=RoleAssignment.Role.CITY_ADMIN, unit=None)
    client.force_login(admin)

    # the unit's page: its survey figures, the attainment table, the evaluation panel
    page = client.get(reverse("reports:unit", args=[w.u1.pk]), {"term": w.term.code})
    assert page.status_code == 200
    figures = {f["key"]: f["value"] for f in page.context["survey_figures"]}
    assert figures["response_rate"] == Decimal("66.7")
    assert figures["satisfaction"] == Decimal("3.60")
    html = page.content.decode()
    assert "66.7%" in html and "3.60" in html
    rows = {a.responsibility.code: a for a in page.context["attainment"]}
    assert rows["d-satisfaction"].met and not rows["d-response"].met
    assert rows["d-attendance"].achieved is None
    section = html[html.index('id="attainment-title"') :]
    section = section[: section.index("</section>")]
    assert "✔ 达标" in section and "✘ 未达标" in section and "暂无数据" in section
    assert 'id="evaluation-title"' in html  # evaluation/_panel.html

    # u2 has no satisfaction answer yet: 暂无数据 in its figures
    page = client.get(reverse("reports:unit", args=[w.u2.pk]), {"term": w.term.code})
    figures = {f["key"]: f["value"] for f in page.context["survey_figures"]}
    assert figures["satisfaction"] is None and figures["response_rate"] == Decimal("0.0")
    assert "暂无数据" in page.content.decode()

    # the overview: district totals (rates of the sums) and survey columns per unit
    page = client.get(reverse("reports:overview"), {"term": w.term.code})
    figures = {f["key"]: f["value"] for f in page.context["survey_figures"]}
    assert figures["answered"] == 8 and figures["invited"] == 16
    assert figures["response_rate"] == Decimal("50.0")
    by_unit = {row["unit_id"]: row for row in page.context["units_page"]}
    if w.u1.pk in by_unit:  # units with participation rows are compared
        assert by_unit[w.u1.pk]["response_rate"] == Decimal("66.7")
        assert by_unit[w.u1.pk]["satisfaction"] == Decimal("3.60")
