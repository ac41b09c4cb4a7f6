"""The guidance and volunteers demos (``manage.py load_demo``): the 海天舒 station
with a chief and 29 invented mentors across the five areas and slots ahead, the
demo parent's two consultations, 渝中家长成长指导中心's 138 volunteers; through the
services, and a second load changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.utils import timezone

from events.models import Delivery
from guidance import demo
from guidance.models import Consultation, FollowUp, Mentor, Note, Slot, Station
from members.models import AuditLog
from members.sealing import unseal
from parent_school.models import GuidanceArea, Instructor
from volunteers import demo as volunteers_demo
from volunteers.models import ServiceHour, VolunteerApplication

pytestmark = pytest.mark.django_db


def _rows() -> dict[str, list[tuple]]:
    rows = {}
    models = [
        *apps.get_app_config("guidance").get_models(),
        *apps.get_app_config("volunteers").get_models(),
        Instructor,
        Delivery,
    ]
    for model in models:
        fields = [f.attname for f in model._meta.concrete_fields]
        rows[model._meta.label] = list(model.objects.order_by("pk").values_list(*fields))
    return rows


@pytest.fixture
def demo_base(db):
    from courses import demo as courses_demo
    from members import demo as members_demo

    members_demo.load()
    members_demo.families_load()
    courses_demo.load(history=False)


def test_the_station_demo_has_a_chief_29_mentors_slots_ahead_and_loads_once(demo_base):
    # when the guidance and volunteers demos run twice
    first = (demo.load(), volunteers_demo.load())
    rows = _rows()
    audited = AuditLog.objects.count()
    second = (demo.load(), volunteers_demo.load())

    # then the second load changes nothing, not even the audit log
    assert first == second
    assert _rows() == rows and AuditLog.objects.count() == audited

    # the station at 海天舒's unit (hosted at 澥浦中学), a chief and 29 mentors
    station = Station.objects.get(unit__code="ZH-HTS")
    mentors = Mentor.objects.filter(station=station)
    assert mentors.filter(is_chief=True).count() == 1
    assert mentors.filter(is_chief=False).count() == 29
    assert all(m.is_invented for m in mentors)
    assert all(m.bio and m.audiences and m.modes for m in mentors)
    # the five areas are all served (by more than one mentor each)
    for area in GuidanceArea.values:
        assert mentors.filter(is_chief=False, areas__contains=[area]).count() >= 5, area
    # weekly patterns of several mentors, with their slots for the coming weeks
    assert mentors.filter(patterns__isnull=False).distinct().count() >= 5
    ahead = Slot.objects.filter(
        mentor__station=station,
        pattern__isnull=False,
        offering__starts_at__gt=timezone.now(),
        offering__starts_at__lt=timezone.now() + dt.timedelta(weeks=5),
    )
    assert ahead.count() >= 20
    assert ahead.filter(offering__starts_at__gt=timezone.now() + dt.timedelta(weeks=3)).exists()
    # offerings say the area and the mentor, never a family
    assert all("·" in slot.offering.title for slot in ahead[:5])


def test_the_demo_parent_has_one_booked_and_one_held_consultation(demo_base):
    demo.load()
    consultations = Consultation.objects.filter(family__guardians__user__username="demo_parent")
    booked = consultations.get(status=Consultation.Status.BOOKED)
    held = consultations.get(status=Consultation.Status.HELD)
    # the booked one is for her child, in a slot ahead, with a short sealed need
    assert booked.for_whom == Consultation.ForWhom.CHILD and booked.child.nickname == "小溪"
    assert booked.area == "mental_health" and booked.slot.offering.starts_at > timezone.now()
    assert unseal(booked.need_sealed, purpose="guidance.need") == demo.BOOKED_NEED
    assert demo.BOOKED_NEED not in booked.need_sealed
    # the held one has a shared summary and a follow-up to come
    assert held.held_at < timezone.now() and held.booking.attendance == "present"
    summary = Note.objects.get(consultation=held)
    assert summary.level == Note.Level.SUMMARY and summary.body == demo.HELD_SUMMARY
    followup = FollowUp.objects.get(consultation=held)
    assert followup.status == FollowUp.Status.SCHEDULED and followup.due_at > timezone.now()
    # the held consultation of the chief (a volunteer expert) counts as service hours
    volunteers_demo.load()
    assert ServiceHour.objects.filter(
        offering=held.slot.offering, source=ServiceHour.Source.CONSULTATION
    ).exists()


def test_the_centre_has_138_volunteers_in_three_tiers_and_hours(demo_base):
    demo.load()
    volunteers_demo.load()
    volunteers = Instructor.objects.filter(unit__code="YZ-PGC", is_volunteer=True)
    assert volunteers.count() == 138
    tiers = {t: volunteers.filter(tier=t).count() for t in Instructor.Tier.values}
    assert tiers == {"expert": 18, "research": 40, "lecturer": 80}
    invented = volunteers.filter(bio__startswith=volunteers_demo.INVENTED)
    assert invented.count() == 137  # the demo volunteer applied herself
    applications = VolunteerApplication.objects.filter(centre__code="YZ-PGC")
    assert applications.filter(status=VolunteerApplication.Status.SUBMITTED).count() == 2
    approved = applications.get(status=VolunteerApplication.Status.APPROVED)
    assert approved.tier == Instructor.Tier.LECTURER and approved.instructor.user is not None
    manual = ServiceHour.objects.get(instructor=approved.instructor)
    assert manual.source == ServiceHour.Source.MANUAL
    assert manual.status == ServiceHour.Status.VERIFIED
    assert manual.verified_by.username == "demo_yuzhong_centre_coordinator"
