"""The satisfaction questionnaire of a held consultation: a published survey of
the slot's offering (scope consultation) from the district template
「指导咨询满意度」, made once however often; the family marked present is invited
through surveys' own path (the sweep → invitations_send → the outbox)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from bookings.models import Offering
from events.models import Notice
from guidance import services
from guidance.tests.test_notes import NEED, PRIVATE, booked_consultation
from surveys import services as survey_services
from surveys.models import Question, Survey, SurveyTemplate

pytestmark = pytest.mark.django_db


def _held(w):
    consultation = booked_consultation(w)
    services.note_write(
        user=w.psych.user, consultation_id=consultation.pk, level="private", body=PRIVATE
    )
    Offering.objects.filter(pk=consultation.slot.offering_id).update(
        starts_at=timezone.now() - dt.timedelta(hours=4),
        ends_at=timezone.now() - dt.timedelta(hours=3),
    )
    return services.consultation_mark(user=w.psych.user, consultation_id=consultation.pk, held=True)


def test_marking_held_makes_the_survey_and_the_family_is_invited(station_world):
    w = station_world
    consultation = _held(w)

    survey = Survey.objects.get(scope=Survey.Scope.CONSULTATION)
    assert survey.offering_id == consultation.slot.offering_id
    # anonymous: a slot is one family, so a named sheet would tell the station's
    # coordinators who consulted and what they said
    assert survey.is_published and survey.is_anonymous
    assert survey.unit_id == w.station.unit_id
    assert survey.template.name == "指导咨询满意度" and survey.template.alliance_id is None
    assert Question.objects.filter(version=survey.version).count() == 4

    # surveys' sweep lists it, and its invitation goes through the outbox
    assert survey.pk in survey_services.surveys_due()["invitations"]
    assert survey_services.invitations_send(survey_id=survey.pk) == 1
    notice = Notice.objects.get(key=f"surveys.invite:{survey.pk}:{w.mum.family.pk}")
    assert notice.path == f"/surveys/{survey.pk}/"
    for text in (NEED, PRIVATE):
        assert text not in notice.subject + notice.lead + notice.sms
    assert survey_services.invitations_send(survey_id=survey.pk) == 0


def test_the_template_and_survey_are_made_once(station_world):
    w = station_world
    consultation = _held(w)
    services.satisfaction_invite(consultation=consultation)
    services.satisfaction_invite(consultation=consultation)
    assert SurveyTemplate.objects.filter(name="指导咨询满意度").count() == 1
    assert Survey.objects.filter(scope=Survey.Scope.CONSULTATION).count() == 1
    # a second consultation reuses the template, with its own survey
    other = _held_for(w, w.family_mentor, w.dad)
    assert other.slot.offering_id != consultation.slot.offering_id
    assert SurveyTemplate.objects.filter(name="指导咨询满意度").count() == 1
    assert Survey.objects.filter(scope=Survey.Scope.CONSULTATION).count() == 2


def _held_for(w, mentor, guardian):
    consultation = booked_consultation(w, mentor=mentor, guardian=guardian)
    Offering.objects.filter(pk=consultation.slot.offering_id).update(
        starts_at=timezone.now() - dt.timedelta(hours=4),
        ends_at=timezone.now() - dt.timedelta(hours=3),
    )
    return services.consultation_mark(user=mentor.user, consultation_id=consultation.pk, held=True)


def test_a_missed_consultation_gets_no_survey(station_world):
    w = station_world
    consultation = booked_consultation(w)
    Offering.objects.filter(pk=consultation.slot.offering_id).update(
        starts_at=timezone.now() - dt.timedelta(minutes=50), ends_at=timezone.now()
    )
    services.consultation_mark(user=w.psych.user, consultation_id=consultation.pk, held=False)
    assert not Survey.objects.filter(scope=Survey.Scope.CONSULTATION).exists()
