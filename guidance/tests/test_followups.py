"""Follow-ups: the mentor schedules, cancels and closes them; followups_send (the
beat's task every 5 minutes) sends each due one once through the outbox, never
with a note; a real Celery worker on Redis runs the task."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from events.models import Notice
from guidance import services, tasks
from guidance.errors import GuidanceError
from guidance.models import FollowUp
from guidance.tests.test_notes import PRIVATE, booked_consultation
from guidance.tests.world import build_station_world
from tests.helpers import wait_for


def _schedule(w, consultation, *, hours=1, message="两周后我们再聊聊孩子的作息"):
    return services.followup_schedule(
        user=w.psych.user,
        consultation_id=consultation.pk,
        due_at=timezone.now() + dt.timedelta(hours=hours),
        message=message,
    )


def test_the_beat_entry_runs_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["guidance-followups-send"]
    assert entry["task"] == "guidance.tasks.followups_send"
    assert entry["schedule"].minute == set(range(0, 60, 5))


@pytest.mark.django_db
def test_a_due_follow_up_is_sent_once_without_any_note(station_world):
    w = station_world
    consultation = booked_consultation(w)
    services.note_write(
        user=w.psych.user, consultation_id=consultation.pk, level="private", body=PRIVATE
    )
    followup = _schedule(w, consultation)
    later = _schedule(w, consultation, hours=48)

    assert services.followups_send() == 0  # not due yet
    now = timezone.now() + dt.timedelta(hours=2)
    assert services.followups_send(now=now) == 1
    assert services.followups_send(now=now) == 0  # idempotent

    followup.refresh_from_db()
    later.refresh_from_db()
    assert (followup.status, followup.sent_at) == (FollowUp.Status.SENT, now)
    assert later.status == FollowUp.Status.SCHEDULED
    notice = Notice.objects.get(key=f"guidance.followup:{followup.pk}")
    assert "两周后我们再聊聊孩子的作息" in notice.lead and "林老师" in notice.lead
    assert PRIVATE not in notice.subject + notice.lead + notice.sms
    assert notice.path == reverse("guidance:consultation", args=[consultation.pk])


@pytest.mark.django_db
def test_cancel_and_done_and_who_may(station_world):
    w = station_world
    consultation = booked_consultation(w)
    first, second = _schedule(w, consultation), _schedule(w, consultation)
    cancelled = services.followup_cancel(user=w.chief.user, followup_id=first.pk)
    assert cancelled.status == FollowUp.Status.CANCELLED
    assert services.followups_send(now=timezone.now() + dt.timedelta(hours=2)) == 1
    done = services.followup_done(user=w.psych.user, followup_id=second.pk)
    assert done.status == FollowUp.Status.DONE and done.done_at
    with pytest.raises(GuidanceError) as refused:
        services.followup_cancel(user=w.psych.user, followup_id=second.pk)
    assert refused.value.code == "followup_closed"
    for outsider in (w.mum.user, w.family_mentor.user, w.coordinator, w.other_mentor.user):
        with pytest.raises(GuidanceError) as refused:
            services.followup_done(user=outsider, followup_id=first.pk)
        assert refused.value.code == "followup_missing"
        with pytest.raises(GuidanceError):
            _schedule_as(outsider, consultation)


def _schedule_as(user, consultation):
    return services.followup_schedule(
        user=user,
        consultation_id=consultation.pk,
        due_at=timezone.now() + dt.timedelta(hours=1),
    )


@pytest.mark.django_db
def test_bad_input_names_the_field(station_world):
    w = station_world
    consultation = booked_consultation(w)
    for due_at, code in (
        ("明天", "due_at_invalid"),
        (timezone.now() - dt.timedelta(1), "due_at_past"),
    ):
        with pytest.raises(GuidanceError) as refused:
            services.followup_schedule(
                user=w.psych.user, consultation_id=consultation.pk, due_at=due_at
            )
        assert (refused.value.code, refused.value.field) == (code, "due_at")
    with pytest.raises(GuidanceError) as refused:
        _schedule(w, consultation, message="字" * 201)
    assert refused.value.field == "message"
    assert not FollowUp.objects.exists()


@pytest.mark.django_db
def test_the_pages_schedule_and_close_a_follow_up(station_world, client):
    w = station_world
    consultation = booked_consultation(w)
    client.force_login(w.psych.user)
    url = reverse("guidance:followup_new", args=[consultation.pk])
    assert client.get(url).status_code == 200
    due = (timezone.localtime() + dt.timedelta(days=14)).strftime("%Y-%m-%dT%H:%M")
    answer = client.post(url, {"due_at": due, "message": "再聊聊作息"})
    assert answer.status_code == 302
    followup = FollowUp.objects.get()
    page = client.get(reverse("guidance:consultation", args=[consultation.pk])).content.decode()
    assert "再聊聊作息" in page
    client.post(reverse("guidance:followup_done", args=[followup.pk]))
    followup.refresh_from_db()
    assert followup.status == FollowUp.Status.DONE
    # the family and outsiders: 404
    for outsider in (w.mum.user, w.dad.user, w.family_mentor.user):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
        assert (
            client.post(reverse("guidance:followup_cancel", args=[followup.pk])).status_code == 404
        )


@pytest.mark.celery_worker
def test_a_real_worker_sends_a_due_follow_up_once(celery_worker_process):
    # given a due follow-up
    w = build_station_world()
    consultation = booked_consultation(w)
    followup = _schedule(w, consultation)
    FollowUp.objects.filter(pk=followup.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))

    # when the beat's task is queued twice (a redelivery, a second beat)
    tasks.followups_send.delay()
    tasks.followups_send.delay()

    # then it is sent once
    wait_for(
        lambda: FollowUp.objects.filter(pk=followup.pk, status=FollowUp.Status.SENT).exists(),
        timeout=60,
    )
    wait_for(
        lambda: Notice.objects.filter(key=f"guidance.followup:{followup.pk}").exists(), timeout=60
    )
    assert Notice.objects.filter(key__startswith="guidance.followup:").count() == 1
