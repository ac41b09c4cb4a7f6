"""The term-end beat entry's task on a real Celery worker through Redis."""

import datetime as dt

import pytest
from django.conf import settings

from events.models import Delivery, Notice
from recognition import services, tasks
from recognition.models import LearningFamilyList
from recognition.tests.world import build_world
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker


def test_the_beat_entry_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["recognition-learning-families-term-end"]
    assert entry["task"] == "recognition.tasks.learning_families_term_end"


def test_term_end_enqueues_one_computation_per_due_alliance_and_a_worker_computes(
    celery_worker_process,
):
    # given an ended term (build_world's ends 2026-01-31; today is later), the
    # alliance's rule, and another alliance with a rule whose list is published
    world = build_world()
    services.rule_save(
        user=None, alliance_id=world.other_alliance.pk, term_id=world.term.pk, min_credits="0"
    )
    services.learning_families_compute(alliance_id=world.other_alliance.pk, term_id=world.term.pk)
    services.list_publish(
        user=None, list_id=LearningFamilyList.objects.get(alliance=world.other_alliance).pk
    )
    assert services.alliances_due_for_computation() == [(world.alliance.pk, world.term.pk)]

    # when the beat's task runs (it only enqueues)
    queued = tasks.learning_families_term_end()

    # then the worker computes the one due list
    assert queued["computations"] == 1
    done = wait_for(
        lambda: LearningFamilyList.objects.filter(
            alliance=world.alliance, computed_at__isnull=False
        ).first(),
        timeout=60,
    )
    assert done.entries.count() == 5
    assert set(done.entries.filter(included=True).values_list("family_id", flat=True)) == {
        world.meets.pk,
        world.closed_rejection.pk,
    }
    # and once computed after the term was over, the beat leaves the draft alone
    assert services.alliances_due_for_computation() == []


def test_a_real_worker_tells_the_published_list_s_families_once(celery_worker_process):
    # given a computed list of the world's alliance (two families qualify)
    world = build_world()
    family_list = services.learning_families_compute(
        alliance_id=world.alliance.pk, term_id=world.term.pk
    ).family_list

    # when the coordinator publishes (the request only marks it published)
    services.list_publish(user=world.alliance_coordinator, list_id=family_list.pk)

    # then after the commit the worker writes one notice per included family and
    # the outbox's workers send their rows
    notices = Notice.objects.filter(topic="recognition.learning_family")
    wait_for(lambda: notices.count() == 2, timeout=60)
    assert {int(n.key.rsplit(":", 1)[1]) for n in notices} == {
        world.meets.pk,
        world.closed_rejection.pk,
    }
    rows = Delivery.objects.filter(notice__in=notices)
    wait_for(
        lambda: rows.exists() and set(rows.values_list("status", flat=True)) == {"sent"},
        timeout=60,
    )

    # and the beat's retry finds nobody untold, so a rerun tells nobody twice
    assert services.lists_with_untold_families() == []
    before = rows.count()
    assert services.learning_family_notices_send(list_id=family_list.pk) == 0
    assert rows.count() == before and notices.count() == 2


def test_not_due_before_the_last_day(db):
    world = build_world()
    before = world.term.ends_on - dt.timedelta(days=1)
    assert services.alliances_due_for_computation(today=before) == []
    assert services.alliances_due_for_computation(today=world.term.ends_on) == [
        (world.alliance.pk, world.term.pk)
    ]
