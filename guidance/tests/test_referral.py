"""A mentor refers a case to another area or mentor: the family is told (the
outbox, never a note) and books the offered slot outside its limits."""

from __future__ import annotations

import pytest

from events.models import Notice
from guidance import services
from guidance.errors import GuidanceError
from guidance.models import Consultation, GuidanceQuota, Referral

from .test_booking import book, slot_for

pytestmark = pytest.mark.django_db


def test_a_referral_tells_the_family_and_its_booking_skips_the_limits(station_world):
    # given a family at its open limit
    w = station_world
    first = book(w.mum, slot_for(w.psych, days=2))
    book(w.mum, slot_for(w.psych, days=3))
    # when 林老师 refers the case to 家庭教育指导 with 郑老师
    referral = services.referral_create(
        user=w.psych.user,
        consultation_id=first.pk,
        to_area="family_education",
        to_mentor_id=w.family_mentor.pk,
        message="建议爸爸妈妈一起来聊聊家里的作息安排。",
    )
    # then the family is told, with a link to the mentor's slots
    notice = Notice.objects.get(key=f"guidance.referral:{referral.pk}")
    assert "家庭教育指导" in notice.subject
    assert "郑老师" in notice.lead and "不占用家庭的预约次数" in notice.lead
    assert notice.path == f"/guidance/mentors/{w.family_mentor.pk}/?referral={referral.pk}"
    # and the booking answering it goes through past the limit, marking it booked
    answered = book(
        w.mum, slot_for(w.family_mentor, days=4), area="mental_health", referral_id=referral.pk
    )
    assert answered.area == "family_education"  # the referral's area
    assert answered.referral == referral
    referral.refresh_from_db()
    assert referral.status == Referral.Status.BOOKED
    assert GuidanceQuota.objects.get(key=f"open:{w.station.pk}:{w.mum.family.pk}").used == 2
    # and a second use of it is refused
    with pytest.raises(GuidanceError) as refused:
        book(w.mum, slot_for(w.family_mentor, days=5), referral_id=referral.pk)
    assert refused.value.code == "referral_missing"
    # cancelling it gives nothing back it never took
    services.consultation_cancel(user=w.mum.user, consultation_id=answered.pk)
    assert GuidanceQuota.objects.get(key=f"open:{w.station.pk}:{w.mum.family.pk}").used == 2


def test_a_referral_is_the_case_mentors_and_only_for_that_family(station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    for user in (w.family_mentor.user, w.other_mentor.user, w.mum.user, w.coordinator):
        with pytest.raises(GuidanceError) as refused:
            services.referral_create(
                user=user, consultation_id=consultation.pk, to_area="family_education"
            )
        assert refused.value.code == "consultation_missing"
    referral = services.referral_create(
        user=w.chief.user, consultation_id=consultation.pk, to_area="family_education"
    )
    assert Notice.objects.get(key=f"guidance.referral:{referral.pk}").path == (
        f"/guidance/stations/{w.station.pk}/areas/family_education/?referral={referral.pk}"
    )
    # another family cannot use it
    with pytest.raises(GuidanceError) as refused:
        book(w.dad, slot_for(w.family_mentor), referral_id=referral.pk)
    assert refused.value.code == "referral_missing"
    assert not Consultation.objects.filter(family=w.dad.family).exists()


def test_a_referral_to_a_mentor_who_does_not_serve_the_area_is_refused(station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    with pytest.raises(GuidanceError) as refused:
        services.referral_create(
            user=w.psych.user,
            consultation_id=consultation.pk,
            to_area="career",
            to_mentor_id=w.family_mentor.pk,
        )
    assert refused.value.field == "to_mentor_id"


def test_a_referral_opens_only_its_own_station_s_slots(client, station_world):
    # given a referral at 海天舒 and the family at the other station's open limit
    w = station_world
    first = book(w.mum, slot_for(w.psych))
    referral = services.referral_create(
        user=w.psych.user, consultation_id=first.pk, to_area="mental_health"
    )
    book(w.mum, slot_for(w.other_mentor, days=2))
    book(w.mum, slot_for(w.other_mentor, days=3))
    elsewhere = slot_for(w.other_mentor, days=4)
    # when she tries to book the other station's slot with it, it is not hers there
    with pytest.raises(GuidanceError) as refused:
        book(w.mum, elsewhere, referral_id=referral.pk)
    assert refused.value.code == "referral_missing"
    assert GuidanceQuota.objects.get(key=f"open:{w.other_station.pk}:{w.mum.family.pk}").used == 2
    # and the other station's pages do not offer it as 「不占用次数」
    client.force_login(w.mum.user)
    page = client.get(f"/guidance/slots/{elsewhere.pk}/book/?referral={referral.pk}")
    assert page.status_code == 200 and page.context["referral"] is None
    referral.refresh_from_db()
    assert referral.status == Referral.Status.OPEN
