"""Overrides with reasons, and publishing: each included family told once."""

import pytest

from events.models import Delivery, Notice
from members.models import AuditLog
from recognition import services, tasks
from recognition.errors import RecognitionError
from recognition.models import LearningFamilyList
from recognition.tests.world import build_world
from tests.races import run_together


@pytest.fixture
def computed(db):
    world = build_world()
    result = services.learning_families_compute(
        alliance_id=world.alliance.pk, term_id=world.term.pk
    )
    world.family_list = result.family_list
    return world


def _enqueues(callbacks) -> int:
    """How many of the commit callbacks enqueue the notices task."""
    return sum(1 for c in callbacks if getattr(c, "function", None) is services._notices_enqueue)


def _entry(world, family):
    return world.family_list.entries.get(family=family)


def test_going_against_the_computation_needs_a_reason(computed):
    entry = _entry(computed, computed.few_credits)
    with pytest.raises(RecognitionError) as error:
        services.entry_override(
            user=computed.alliance_coordinator, entry_id=entry.pk, included=True, reason="  "
        )
    assert error.value.code == "reason_required" and error.value.field == "reason"
    assert "理由" in error.value.message
    entry.refresh_from_db()
    assert not entry.included


def test_an_override_is_audit_logged_with_its_reason(computed):
    entry = _entry(computed, computed.meets)
    services.entry_override(
        user=computed.alliance_coordinator, entry_id=entry.pk, included=False, reason="家长申请退出"
    )
    entry.refresh_from_db()
    assert not entry.included and entry.override_reason == "家长申请退出"
    assert entry.overridden_by == computed.alliance_coordinator
    log = AuditLog.objects.get(action="recognition.entry.override")
    assert log.data["reason"] == "家长申请退出" and log.data["included"] is False
    assert log.actor == computed.alliance_coordinator


def test_a_unit_coordinator_overrides_only_their_units_families(computed):
    # u2's coordinator: few_credits is at u2, meets at u1
    mine = _entry(computed, computed.few_credits)
    services.entry_override(
        user=computed.unit_coordinator, entry_id=mine.pk, included=True, reason="补录学分"
    )
    other = _entry(computed, computed.meets)
    with pytest.raises(RecognitionError) as error:
        services.entry_override(
            user=computed.unit_coordinator, entry_id=other.pk, included=False, reason="x"
        )
    assert error.value.code == "entry_missing"


def test_another_alliance_coordinator_may_not_override_or_publish(computed):
    entry = _entry(computed, computed.meets)
    with pytest.raises(RecognitionError):
        services.entry_override(
            user=computed.other_coordinator, entry_id=entry.pk, included=False, reason="x"
        )
    with pytest.raises(RecognitionError) as error:
        services.list_publish(user=computed.other_coordinator, list_id=computed.family_list.pk)
    assert error.value.code == "list_missing"


def test_publish_tells_each_included_family_once_and_names_no_child(
    computed, django_capture_on_commit_callbacks
):
    # given one family added by hand with a reason
    added = _entry(computed, computed.few_credits)
    services.entry_override(
        user=computed.alliance_coordinator, entry_id=added.pk, included=True, reason="学分延迟入账"
    )

    # when (the notices task runs eagerly after the commit)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.list_publish(user=computed.alliance_coordinator, list_id=computed.family_list.pk)

    # then: one task enqueued after the commit; meets, closed_rejection and the added family; one notice each
    told = {computed.meets.pk, computed.closed_rejection.pk, computed.few_credits.pk}
    notices = Notice.objects.filter(topic="recognition.learning_family")
    assert {int(n.key.rsplit(":", 1)[1]) for n in notices} == told
    deliveries = Delivery.objects.filter(notice__in=notices)
    assert deliveries.exists()
    recipients = {d.user.guardian.family_id for d in deliveries.select_related("user__guardian")}
    assert recipients == told
    for notice in notices:
        assert "城东协同育人联盟" in notice.subject and str(computed.term) in notice.subject
        for text in (notice.subject, notice.lead, notice.sms):
            assert "孩子" not in text
    family_list = LearningFamilyList.objects.get(pk=computed.family_list.pk)
    assert family_list.status == "published" and family_list.published_at is not None
    assert AuditLog.objects.filter(action="recognition.list.publish").count() == 1

    assert _enqueues(callbacks) == 1

    # and a second publish writes nothing and enqueues nothing
    before = Delivery.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RecognitionError) as error:
            services.list_publish(
                user=computed.alliance_coordinator, list_id=computed.family_list.pk
            )
    assert error.value.code == "already_published"
    assert Delivery.objects.count() == before and _enqueues(callbacks) == 0
    # nor does running the notices task again tell anyone twice
    assert tasks.learning_family_notices(computed.family_list.pk) == 0
    assert Delivery.objects.count() == before
    # nor can the published list be changed
    with pytest.raises(RecognitionError) as error:
        services.entry_override(
            user=computed.alliance_coordinator, entry_id=added.pk, included=False, reason="x"
        )
    assert error.value.code == "list_published"


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_publishes_tell_each_family_once():
    world = build_world()
    result = services.learning_families_compute(
        alliance_id=world.alliance.pk, term_id=world.term.pk
    )

    def publish():
        return services.list_publish(user=world.alliance_coordinator, list_id=result.family_list.pk)

    outcome = run_together(
        [publish, publish], meet_before_statement=['FROM "recognition_learningfamilylist"']
    )

    assert outcome.met == 2
    assert len([r for r in outcome.results if r is not None]) == 1
    assert len(outcome.errors) == 1
    assert isinstance(outcome.errors[0], RecognitionError)
    assert outcome.errors[0].code == "already_published"
    notices = Notice.objects.filter(topic="recognition.learning_family")
    assert notices.count() == 2  # meets and closed_rejection
    per_user = Delivery.objects.filter(notice__in=notices).values_list("user_id", "channel")
    assert len(per_user) == len(set(per_user))
    assert AuditLog.objects.filter(action="recognition.list.publish").count() == 1


def test_rule_save_names_the_field_in_chinese(computed):
    with pytest.raises(RecognitionError) as error:
        services.rule_save(
            user=computed.alliance_coordinator,
            alliance_id=computed.alliance.pk,
            term_id=computed.term.pk,
            min_points="很多",
        )
    assert error.value.field == "min_points" and "最低手册积分" in error.value.message
    with pytest.raises(RecognitionError) as error:
        services.rule_save(
            user=computed.alliance_coordinator,
            alliance_id=computed.alliance.pk,
            term_id=computed.term.pk,
            min_credits="1.25",
        )
    assert error.value.code == "bad_credits_step" and error.value.field == "min_credits"
    with pytest.raises(RecognitionError) as error:
        services.rule_save(
            user=computed.unit_coordinator,
            alliance_id=computed.alliance.pk,
            term_id=computed.term.pk,
            min_points=1,
        )
    assert error.value.code == "alliance_missing"
    rule = services.rule_save(
        user=computed.alliance_coordinator,
        alliance_id=computed.alliance.pk,
        term_id=computed.term.pk,
        min_points="8",
    )
    assert rule.min_points == 8
    log = AuditLog.objects.get(action="recognition.rule.change")
    assert log.data["after"] == {"min_points": "8"} and log.data["before"] == {"min_points": "4"}


def test_publishing_sends_nothing_in_the_request_and_costs_the_same_for_more_families(
    computed, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recognition.tests.world import family_at

    # given a second alliance list with many more included families
    for n in range(20):
        family_at(computed.u1 if n % 2 else computed.u2, f"家长{n}号")
    services.rule_save(
        user=None,
        alliance_id=computed.other_alliance.pk,
        term_id=computed.term.pk,
        min_credits="0",
    )
    big = services.learning_families_compute(
        alliance_id=computed.other_alliance.pk, term_id=computed.term.pk
    ).family_list
    assert big.entries.filter(included=True).count() > 10

    # when both are published (the callbacks captured, not run: no worker yet)
    sizes = []
    for family_list in (computed.family_list, big):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            with CaptureQueriesContext(connection) as queries:
                services.list_publish(user=None, list_id=family_list.pk)
        sizes.append(len(queries))
        assert _enqueues(callbacks) == 1

    # then the request wrote no notice, whatever the size of the list
    assert sizes[0] == sizes[1]
    assert not Notice.objects.filter(topic="recognition.learning_family").exists()
    assert LearningFamilyList.objects.filter(status="published").count() == 2


def test_the_notices_go_in_chunks_once_each_and_a_rerun_is_cheap(
    computed, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given a published list whose notices were not sent (the broker was down)
    services.list_publish(user=None, list_id=computed.family_list.pk)
    included = set(
        computed.family_list.entries.filter(included=True).values_list("family_id", flat=True)
    )
    assert len(included) == 2

    # when the task's service runs in chunks of one family
    with CaptureQueriesContext(connection) as queries:
        told = services.learning_family_notices_send(list_id=computed.family_list.pk, chunk=1)

    # then each included family has one notice, in its own transaction
    assert told > 0
    notices = Notice.objects.filter(topic="recognition.learning_family")
    assert {int(n.key.rsplit(":", 1)[1]) for n in notices} == included
    assert sum(1 for q in queries if q["sql"].startswith("SAVEPOINT")) >= 2
    # and a second run writes nothing, one query per chunk to see who was told
    with django_assert_max_num_queries(8):
        assert services.learning_family_notices_send(list_id=computed.family_list.pk) == 0
    assert notices.count() == 2


def test_a_draft_list_tells_nobody(computed):
    assert services.learning_family_notices_send(list_id=computed.family_list.pk) == 0
    assert tasks.learning_family_notices(computed.family_list.pk) == 0
    assert not Notice.objects.filter(topic="recognition.learning_family").exists()


def test_the_beat_enqueues_untold_notices_of_recent_lists_again(computed):
    import datetime as dt

    from django.utils import timezone

    # given a list published without its notices (on_commit's enqueue was lost)
    services.list_publish(user=None, list_id=computed.family_list.pk)
    assert services.lists_with_untold_families() == [computed.family_list.pk]

    # when the daily beat task runs (eager here: it enqueues, the task sends)
    result = tasks.learning_families_term_end()

    # then the families are told, and the next day nothing is enqueued again
    assert result["notices"] == 1
    assert Notice.objects.filter(topic="recognition.learning_family").count() == 2
    assert services.lists_with_untold_families() == []
    assert tasks.learning_families_term_end()["notices"] == 0

    # and a list published more than 7 days ago is no longer retried
    Notice.objects.filter(topic="recognition.learning_family").delete()
    assert services.lists_with_untold_families() == [computed.family_list.pk]
    LearningFamilyList.objects.filter(pk=computed.family_list.pk).update(
        published_at=timezone.now() - dt.timedelta(days=8)
    )
    assert services.lists_with_untold_families() == []


def test_a_notice_of_a_list_not_published_is_skipped_by_the_outbox(
    computed, django_capture_on_commit_callbacks
):
    from events.services import notice_send
    from recognition.selectors import learning_family_notice_check

    # given a notice written for a family of a draft list (not through publishing)
    family_id = computed.meets.pk
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(
            key=services.notice_key(computed.family_list.pk, family_id),
            topic="recognition.learning_family",
            subject="您的家庭被评为学习型家庭",
            lead="祝贺",
            family_ids=[family_id],
            unit=computed.u1.pk,
        )

    # then the outbox's check skips each row with the reason
    rows = Delivery.objects.filter(notice__topic="recognition.learning_family")
    assert rows.exists()
    assert set(rows.values_list("status", "note")) == {("skipped", "学习型家庭名单未发布")}

    # and the check: published and included → send; left out → skip
    notice = Notice.objects.get(topic="recognition.learning_family")
    LearningFamilyList.objects.filter(pk=computed.family_list.pk).update(status="published")
    assert learning_family_notice_check(notice) == ""
    computed.family_list.entries.filter(family_id=family_id).update(
        included=False, override_reason="家长申请退出"
    )
    assert learning_family_notice_check(notice) == "家庭已不在学习型家庭名单中"
    notice.key = services.notice_key(computed.family_list.pk, 999999)
    assert learning_family_notice_check(notice) == "家庭已不在学习型家庭名单中"


@pytest.mark.django_db(transaction=True)
def test_publishing_stands_when_the_broker_is_down(monkeypatch):
    # given a computed list, and a broker that refuses the notices task
    world = build_world()
    result = services.learning_families_compute(
        alliance_id=world.alliance.pk, term_id=world.term.pk
    )

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.learning_family_notices, "delay", refuse)

    # when it is published (a real commit, so the robust callback runs)
    published = services.list_publish(
        user=world.alliance_coordinator, list_id=result.family_list.pk
    )

    # then the list is published and the beat will tell the families later
    stored = LearningFamilyList.objects.get(pk=published.pk)
    assert stored.status == LearningFamilyList.Status.PUBLISHED
    assert stored.pk in services.lists_with_untold_families()
