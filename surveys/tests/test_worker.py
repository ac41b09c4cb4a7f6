"""The beat's sweep on a real Celery worker through Redis (PostgreSQL): invitations
after a session ends, the anonymous release after a submit and at closing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from events.models import Delivery, Notice
from surveys import services, tasks
from surveys.models import Invitation, PendingResponse, Response, Survey
from surveys.tests.world import ANSWERS, attend, build_world, family_with_parent, session_survey
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker


def test_the_beat_entry_runs_the_sweep_every_ten_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["surveys-due-sweep"]
    assert entry["task"] == "surveys.tasks.surveys_due_sweep"
    assert entry["schedule"] == 600.0


def test_after_a_session_ends_each_attending_family_is_invited_once_by_the_worker(
    celery_worker_process,
):
    # given a published course series whose session ended 3 hours ago (delay 2 h)
    world = build_world()
    series = Survey.objects.create(
        template=world.template,
        version=world.version,
        title="亲子沟通课后问卷",
        scope="course",
        course=world.course,
        term=world.term,
        unit=world.school,
        is_published=True,
    )

    # when the beat's sweep runs (it only enqueues)
    queued = tasks.surveys_due_sweep()
    assert queued["series"] == 1

    # then a worker makes the session's survey and invites its attending families
    notices = Notice.objects.filter(topic="surveys.invite")
    wait_for(lambda: notices.count() == 2, timeout=60)
    child = Survey.objects.get(series=series)
    assert child.offering == world.offering
    assert {int(n.key.rsplit(":", 1)[1]) for n in notices.all()} == {
        world.attended.pk,
        world.attended2.pk,
    }
    rows = Delivery.objects.filter(notice__in=notices)
    wait_for(
        lambda: rows.exists() and set(rows.values_list("status", flat=True)) == {"sent"},
        timeout=60,
    )
    assert not rows.filter(user__in=[world.absent_parent, world.stranger_parent]).exists()

    # and a second sweep (a family checked in late meanwhile) invites only it
    late, _user = family_with_parent(world.school, "陈静")
    attend(late, world.offering)
    before = rows.count()
    tasks.surveys_due_sweep()
    wait_for(lambda: notices.all().count() == 3, timeout=60)
    assert Invitation.objects.filter(survey=child).count() == 3
    assert rows.exclude(notice__key__endswith=f":{late.pk}").count() == before


def test_anonymous_answers_are_released_by_the_worker_and_the_rest_at_closing(
    celery_worker_process, settings
):
    world = build_world()
    survey = session_survey(world, is_anonymous=True)
    size = settings.SURVEYS_ANONYMOUS_BATCH
    users = [world.attended_parent, world.attended2_parent]
    for i in range(2 * size + 1 - len(users)):
        family, user = family_with_parent(world.school, f"家长{i}")
        attend(family, world.offering)
        users.append(user)

    # when 2 × BATCH + 1 families answer, the worker releases one batch after the
    # commits (a batch goes out only while twice a batch waits)
    for user in users:
        services.response_submit(user=user, survey_id=survey.pk, answers=ANSWERS)
    responses = Response.objects.filter(survey=survey)
    wait_for(lambda: responses.count() == size, timeout=60)
    assert PendingResponse.objects.filter(survey=survey).count() == size + 1

    # when the survey has closed, the sweep has the worker release the rest as
    # one last batch of BATCH + 1; the first batch stays as it was
    Survey.objects.filter(pk=survey.pk).update(closes_at=world.now - dt.timedelta(minutes=1))
    queued = tasks.surveys_due_sweep()
    assert queued["final_releases"] == 1
    wait_for(lambda: responses.count() == 2 * size + 1, timeout=60)
    assert responses.filter(batch=1).count() == size
    assert responses.filter(batch=2).count() == size + 1
