"""Overrides with reasons, and publishing: each included family told once."""

import pytest

from events.models import Delivery, Notice
from members.models import AuditLog
from recognition import services
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


def test_publish_tells_each_included_family_once_and_names_no_child(computed):
    # given one family added by hand with a reason
    added = _entry(computed, computed.few_credits)
    services.entry_override(
        user=computed.alliance_coordinator, entry_id=added.pk, included=True, reason="学分延迟入账"
    )

    # when
    services.list_publish(user=computed.alliance_coordinator, list_id=computed.family_list.pk)

    # then: meets, closed_rejection and the added family; one notice each
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

    # and a second publish writes nothing
    before = Delivery.objects.count()
    with pytest.raises(RecognitionError) as error:
        services.list_publish(user=computed.alliance_coordinator, list_id=computed.family_list.pk)
    assert error.value.code == "already_published"
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
