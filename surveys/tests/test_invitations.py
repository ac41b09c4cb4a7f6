"""Invitations after a session ends and the one reminder before closing, through
the outbox (events.services.notice_send); the skip hook drops a message to a
family that answered meanwhile."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from events.models import Delivery, Notice
from events.reminders import reminder_pass_run
from surveys import services
from surveys.models import Invitation, Survey
from surveys.selectors import survey_notice_check
from surveys.tests.world import ANSWERS, attend, family_with_parent, session_survey, term_survey


def _invited(survey, topic="surveys.invite"):
    return {
        int(k.rsplit(":", 1)[1])
        for k in Notice.objects.filter(topic=topic, key__contains=f":{survey.pk}:").values_list(
            "key", flat=True
        )
    }


def test_attending_families_are_invited_once_after_the_delay_and_absent_ones_never(world):
    # given a session survey whose session ended 3 hours ago, delay 4 hours
    survey = session_survey(world, invite_delay_minutes=240)
    ended = world.offering.ends_at

    # before the delay: nobody
    assert services.invitations_send(survey_id=survey.pk, now=ended + dt.timedelta(hours=3)) == 0
    assert not Notice.objects.exists()

    # when the delay has passed
    now = ended + dt.timedelta(hours=4, minutes=1)
    assert services.invitations_send(survey_id=survey.pk, now=now) == 2

    # then each attending family has one invitation and one notice on its channels
    assert _invited(survey) == {world.attended.pk, world.attended2.pk}
    assert set(Invitation.objects.values_list("family_id", flat=True)) == {
        world.attended.pk,
        world.attended2.pk,
    }
    rows = Delivery.objects.filter(notice__topic="surveys.invite")
    # both guardians of the first family, one of the second; in-site and email each
    assert set(rows.values_list("user_id", flat=True)) == {
        world.attended_parent.pk,
        world.second_parent.pk,
        world.attended2_parent.pk,
    }
    assert {"inbox", "email"} <= set(rows.values_list("channel", flat=True))
    notice = Notice.objects.filter(topic="surveys.invite").first()
    assert "请为“" in notice.subject and notice.path == f"/surveys/{survey.pk}/"
    survey.refresh_from_db()
    assert survey.invited_at == now

    # and a second run invites nobody again
    before = rows.count()
    assert services.invitations_send(survey_id=survey.pk, now=now) == 0
    assert rows.count() == before

    # a family that checks in late is invited by the next run, alone
    late, _parent = family_with_parent(world.school, "陈静")
    attend(late, world.offering)
    assert services.invitations_send(survey_id=survey.pk, now=now + dt.timedelta(minutes=10)) == 1
    assert _invited(survey) == {world.attended.pk, world.attended2.pk, late.pk}


def test_a_family_that_answered_before_the_invitation_is_not_invited(world):
    survey = session_survey(world, invite_delay_minutes=0)
    services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    assert services.invitations_send(survey_id=survey.pk) == 1
    assert _invited(survey) == {world.attended2.pk}


def test_the_reminder_goes_once_to_invited_families_that_have_not_answered(world):
    survey = session_survey(world, invite_delay_minutes=0)
    services.invitations_send(survey_id=survey.pk)
    services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    closes = survey.closes_at
    # too early: nothing
    assert services.reminders_send(survey_id=survey.pk, now=closes - dt.timedelta(hours=30)) == 0
    # a day before closing
    now = closes - dt.timedelta(hours=23)
    assert services.reminders_send(survey_id=survey.pk, now=now) == 1
    assert _invited(survey, "surveys.remind") == {world.attended2.pk}
    assert Notice.objects.get(topic="surveys.remind").subject.startswith("提醒")
    # once
    assert services.reminders_send(survey_id=survey.pk, now=now + dt.timedelta(hours=1)) == 0
    survey.refresh_from_db()
    assert survey.reminded_at == now


def test_a_family_that_answers_between_the_reminder_and_its_sending_is_skipped(
    world, django_capture_on_commit_callbacks
):
    survey = session_survey(world, invite_delay_minutes=0)
    services.invitations_send(survey_id=survey.pk)
    # invitations went out
    Delivery.objects.update(status=Delivery.Status.SENT, sent_at=timezone.now())
    now = timezone.now()
    survey.closes_at = now + dt.timedelta(hours=5)
    survey.invited_at = now - dt.timedelta(hours=13)  # a reminder waits 12 h after inviting
    survey.save(update_fields=["closes_at", "invited_at"])
    # the reminder rows are written (no worker has sent them yet) …
    assert services.reminders_send(survey_id=survey.pk, now=now) == 2
    # … and one family answers before they go out
    services.response_submit(user=world.attended2_parent, survey_id=survey.pk, answers=ANSWERS)

    with django_capture_on_commit_callbacks(execute=True):
        reminder_pass_run(now=timezone.now())

    rows = Delivery.objects.filter(notice__topic="surveys.remind")
    statuses = set(rows.values_list("user_id", "status", "note"))
    assert (world.attended2_parent.pk, "skipped", "已填写") in statuses
    assert all(
        status == "sent"
        for user_id, status, _note in statuses
        if user_id != world.attended2_parent.pk
    )


def test_the_skip_hook_says_closed_once_the_survey_closed(world):
    survey = session_survey(world, invite_delay_minutes=0)
    services.invitations_send(survey_id=survey.pk)
    notice = Notice.objects.filter(topic="surveys.invite").first()
    assert survey_notice_check(notice) == ""
    services.survey_close(actor=world.unit_coordinator, survey_id=survey.pk)
    assert survey_notice_check(notice) == "问卷已截止"


def test_the_reminder_waits_12_hours_after_the_invitation_and_is_dropped_when_too_late(world):
    from surveys.selectors import remind_due_at

    now = timezone.now()
    survey = session_survey(world, invite_delay_minutes=0)
    # a week's window: the reminder is due 24 hours before closing
    survey.invited_at = now
    survey.closes_at = now + dt.timedelta(days=7)
    assert remind_due_at(survey) == survey.closes_at - dt.timedelta(hours=24)
    # a 20-hour window: 24 h before closing is before the invitation, so 12 h after it
    survey.closes_at = now + dt.timedelta(hours=20)
    assert remind_due_at(survey) == now + dt.timedelta(hours=12)
    # a 10-hour window: 12 h after inviting is after closing, so no reminder at all
    survey.closes_at = now + dt.timedelta(hours=10)
    assert remind_due_at(survey) is None

    # and the services keep to it: invited now, closing in 20 hours
    Survey.objects.filter(pk=survey.pk).update(closes_at=now + dt.timedelta(hours=20))
    assert services.invitations_send(survey_id=survey.pk, now=now) == 2
    assert services.surveys_due(now=now + dt.timedelta(minutes=10))["reminders"] == []
    assert services.reminders_send(survey_id=survey.pk, now=now + dt.timedelta(hours=1)) == 0
    later = now + dt.timedelta(hours=12, minutes=1)
    assert services.surveys_due(now=later)["reminders"] == [survey.pk]
    assert services.reminders_send(survey_id=survey.pk, now=later) == 2


def test_a_term_survey_is_scanned_for_invitations_at_most_hourly(world):
    now = timezone.now()
    term = term_survey(world, opens_at=now - dt.timedelta(hours=1))
    session = session_survey(world, invite_delay_minutes=0)

    first = services.surveys_due(now=now)["invitations"]
    assert set(first) >= {term.pk, session.pk}
    term.refresh_from_db()
    assert term.invitations_checked_at == now
    # a second sweep within the hour enqueues the session survey (late check-ins)
    # but not the term survey
    again = services.surveys_due(now=now + dt.timedelta(minutes=50))["invitations"]
    assert session.pk in again and term.pk not in again
    # after the hour, the term survey is scanned again
    assert term.pk in services.surveys_due(now=now + dt.timedelta(minutes=61))["invitations"]


def test_each_invitation_chunk_tells_the_roll_up_its_figures_changed(world, monkeypatch):
    from surveys.signals import responses_changed

    monkeypatch.setattr(services, "NOTICE_CHUNK", 1)
    sent = []

    def receiver(sender, survey_ids, **kwargs):
        from django.db import connection

        sent.append((tuple(survey_ids), connection.in_atomic_block))

    responses_changed.connect(receiver, weak=False)
    try:
        survey = session_survey(world, invite_delay_minutes=0)
        assert services.invitations_send(survey_id=survey.pk) == 2
    finally:
        responses_changed.disconnect(receiver)
    # one signal per chunk of one family, each inside the chunk's transaction
    assert sent == [((survey.pk,), True), ((survey.pk,), True)]
