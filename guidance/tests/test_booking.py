"""Slots, weekly patterns, booking, the waiting list, cancellation and marking,
through guidance.services on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from bookings.errors import BookingError
from bookings.models import Booking, Offering
from events.models import Delivery
from guidance import services
from guidance.errors import GuidanceError
from guidance.models import Consultation, GuidanceQuota, Slot, SlotPattern
from members.models import Guardian
from members.sealing import unseal

pytestmark = pytest.mark.django_db

NEED = "孩子最近晚上睡不着，白天也不太愿意说话"


def slot_for(mentor, *, user=None, days=3, capacity=1, kind="one_to_one", hour=15):
    starts = timezone.localtime() + dt.timedelta(days=days)
    starts = starts.replace(hour=hour, minute=0, second=0, microsecond=0)
    return services.slot_create(
        user=user or mentor.user,
        mentor_id=mentor.pk,
        starts_at=starts,
        minutes=50,
        kind=kind,
        capacity=capacity,
        mode="in_person",
        venue="海天舒工作站 2 号咨询室",
    )


def book(guardian, slot, **extra):
    values = {
        "area": "mental_health",
        "for_whom": "child",
        "need": NEED,
        "child_id": guardian.family.children.first().pk,
    }
    values.update(extra)
    return services.consultation_book(user=guardian.user, slot_id=slot.pk, **values)


# --- slots and patterns --------------------------------------------------------------


def test_a_slot_is_an_offering_of_the_station_titled_by_area_and_mentor(station_world):
    w = station_world
    slot = slot_for(w.psych)
    offering = slot.offering
    assert offering.kind == Offering.Kind.CONSULTATION
    assert offering.unit_id == w.station.unit_id
    assert offering.title == "心理健康辅导 · 林老师"
    assert (offering.ends_at - offering.starts_at) == dt.timedelta(minutes=50)
    assert offering.capacity == 1


def test_slots_are_published_by_the_mentor_the_chief_or_a_manager_only(station_world):
    w = station_world
    assert slot_for(w.psych, user=w.chief.user).mentor == w.psych
    assert slot_for(w.psych, user=w.coordinator).mentor == w.psych
    for outsider in (w.family_mentor.user, w.other_coordinator, w.mum.user):
        with pytest.raises(GuidanceError) as refused:
            slot_for(w.psych, user=outsider)
        assert refused.value.code == "mentor_missing"


def test_slot_fields_are_checked_with_chinese_messages(station_world):
    w = station_world
    with pytest.raises(GuidanceError) as refused:
        services.slot_create(
            user=w.psych.user,
            mentor_id=w.psych.pk,
            starts_at=timezone.now() + dt.timedelta(days=1),
            minutes=50,
            kind="one_to_one",
            capacity=3,
            mode="in_person",
            venue="咨询室",
        )
    assert refused.value.field == "capacity" and "一对一只能是 1" in refused.value.message
    with pytest.raises(GuidanceError) as refused:
        services.slot_create(
            user=w.psych.user,
            mentor_id=w.psych.pk,
            starts_at=timezone.now() + dt.timedelta(days=1),
            minutes=50,
            kind="one_to_one",
            capacity=1,
            mode="online",
        )
    assert refused.value.field == "online_url"
    assert not Slot.objects.exists()


@override_settings(GUIDANCE_PATTERN_WEEKS=4)
def test_a_weekly_pattern_makes_its_slots_at_once_and_again_idempotently(station_world):
    w = station_world
    today = timezone.localdate()
    weekday = (today + dt.timedelta(days=2)).weekday()
    pattern = services.pattern_create(
        user=w.psych.user,
        mentor_id=w.psych.pk,
        weekday=weekday,
        starts_time=dt.time(16, 0),
        minutes=40,
        kind="small_group",
        capacity=4,
        mode="in_person",
        venue="团体辅导室",
        first_date=today,
    )
    slots = list(Slot.objects.filter(pattern=pattern).order_by("occurs_on"))
    assert len(slots) in (4, 5)  # four weeks ahead, today's weekday counted once
    assert all(s.occurs_on.weekday() == weekday for s in slots)
    assert all(s.offering.capacity == 4 for s in slots)
    # when the nightly pass runs twice
    assert services.patterns_materialise() == 0
    assert services.patterns_materialise() == 0
    assert Slot.objects.filter(pattern=pattern).count() == len(slots)
    # and a week later it adds the next week's slot only
    later = timezone.now() + dt.timedelta(days=7)
    assert services.patterns_materialise(now=later) == 1
    assert Slot.objects.filter(pattern=pattern).count() == len(slots) + 1


def test_a_pattern_with_an_end_date_stops_there(station_world):
    w = station_world
    today = timezone.localdate()
    pattern = services.pattern_create(
        user=w.psych.user,
        mentor_id=w.psych.pk,
        weekday=(today + dt.timedelta(days=1)).weekday(),
        starts_time="09:30",
        minutes=30,
        kind="one_to_one",
        capacity=1,
        mode="phone",
        first_date=today.isoformat(),
        last_date=(today + dt.timedelta(days=7)).isoformat(),
    )
    assert SlotPattern.objects.get(pk=pattern.pk).last_date == today + dt.timedelta(days=7)
    assert Slot.objects.filter(pattern=pattern).count() == 1


def test_cancelling_a_slot_cancels_its_consultations_and_gives_the_tallies_back(station_world):
    w = station_world
    slot = slot_for(w.psych)
    consultation = book(w.mum, slot)
    services.slot_cancel(user=w.psych.user, slot_id=slot.pk)
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.CANCELLED
    assert slot.offering.__class__.objects.get(pk=slot.offering_id).status == "cancelled"
    used = dict(GuidanceQuota.objects.filter(family=w.mum.family).values_list("key", "used"))
    assert set(used.values()) == {0}
    with pytest.raises(GuidanceError):
        services.slot_cancel(user=w.family_mentor.user, slot_id=slot_for(w.psych).pk)


# --- booking -------------------------------------------------------------------------


def test_a_parent_books_for_her_child_with_a_sealed_need_and_gets_the_receipt(station_world):
    w = station_world
    slot = slot_for(w.psych)
    consultation = book(w.mum, slot)
    assert consultation.status == Consultation.Status.BOOKED
    assert consultation.child == w.mum_child
    assert consultation.family == w.mum.family
    assert consultation.station == w.station and consultation.term == w.term
    assert NEED not in consultation.need_sealed
    assert unseal(consultation.need_sealed, purpose="guidance.need") == NEED
    booking = consultation.booking
    assert booking.status == Booking.Status.CONFIRMED
    assert [a.child_id for a in booking.attendees.all()] == [w.mum_child.pk]
    receipt = Delivery.objects.filter(
        booking=booking, purpose=Delivery.Purpose.CONFIRMATION, channel=Delivery.Channel.INBOX
    )
    assert receipt.exists()
    assert used_of(w, w.mum.family) == {"open": 1, "term": 1}


def used_of(w, family) -> dict:
    rows = GuidanceQuota.objects.filter(station=w.station, family=family)
    return {row.key.split(":")[0]: row.used for row in rows}


def test_booking_fields_are_refused_naming_the_field(station_world):
    w = station_world
    slot = slot_for(w.psych)
    cases = [
        ({"need": ""}, "need", "请简单写几句"),
        ({"need": "字" * 501}, "need", "不能超过 500 个字"),
        ({"area": "career"}, "area", "不负责这个领域"),
        ({"area": "nonsense"}, "area", "请选择指导领域"),
        ({"for_whom": "uncle"}, "for_whom", "为谁预约"),
        ({"child_id": ""}, "child_id", "请选择是哪个孩子"),
        ({"child_id": w.dad_child.pk}, "child_id", "家庭里的孩子"),
        ({"for_whom": "teacher"}, "for_whom", "只有教师"),
    ]
    for values, field, words in cases:
        with pytest.raises(GuidanceError) as refused:
            book(w.mum, slot, **values)
        assert refused.value.field == field, values
        assert words in refused.value.message, values
    assert not Consultation.objects.exists() and not Booking.objects.exists()
    assert not GuidanceQuota.objects.filter(used__gt=0).exists()


def test_a_full_slot_puts_the_next_family_on_the_waiting_list_and_promotes_it(station_world):
    w = station_world
    slot = slot_for(w.psych)
    first = book(w.mum, slot)
    second = book(w.dad, slot)
    assert second.status == Consultation.Status.WAITING
    assert used_of(w, w.dad.family) == {"open": 1, "term": 1}
    # when the first family cancels, the waiting one is booked
    services.consultation_cancel(user=w.mum.user, consultation_id=first.pk)
    second.refresh_from_db()
    assert second.status == Consultation.Status.BOOKED
    assert second.booking.status == Booking.Status.CONFIRMED


def test_cancelling_gives_the_open_tally_back_and_keeps_the_term_one(station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    cancelled = services.consultation_cancel(user=w.mum.user, consultation_id=consultation.pk)
    assert cancelled.status == Consultation.Status.CANCELLED
    assert cancelled.booking.status == Booking.Status.CANCELLED
    assert used_of(w, w.mum.family) == {"open": 0, "term": 1}
    with pytest.raises(GuidanceError) as refused:
        services.consultation_cancel(user=w.mum.user, consultation_id=consultation.pk)
    assert refused.value.code == "consultation_closed"


def test_another_family_cannot_cancel_or_mark(station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    for user in (w.dad.user, w.other_mentor.user, w.coordinator, w.family_mentor.user):
        with pytest.raises(GuidanceError) as refused:
            services.consultation_cancel(user=user, consultation_id=consultation.pk)
        assert refused.value.code == "consultation_missing"
    with pytest.raises(GuidanceError):
        services.consultation_mark(user=w.mum.user, consultation_id=consultation.pk, held=True)


def test_the_mentor_cancels_a_booking_and_the_family_is_told(station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    services.consultation_cancel(user=w.psych.user, consultation_id=consultation.pk)
    assert Delivery.objects.filter(
        booking=consultation.booking, purpose=Delivery.Purpose.WITHDRAWN
    ).exists()
    assert used_of(w, w.mum.family)["open"] == 0


def test_marking_missed_releases_the_open_tally(station_world):
    w = station_world
    slot = slot_for(w.psych)
    consultation = book(w.mum, slot)
    # marking opens shortly before the start
    Offering.objects.filter(pk=slot.offering_id).update(
        starts_at=timezone.now() - dt.timedelta(minutes=50), ends_at=timezone.now()
    )
    marked = services.consultation_mark(
        user=w.psych.user, consultation_id=consultation.pk, held=False
    )
    assert marked.status == Consultation.Status.MISSED
    assert marked.booking.attendance == Booking.Attendance.ABSENT
    assert used_of(w, w.mum.family) == {"open": 0, "term": 1}


def test_a_teacher_without_a_family_books_as_a_teacher(station_world):
    w = station_world
    consultation = services.consultation_book(
        user=w.teacher,
        slot_id=slot_for(w.psych).pk,
        area="mental_health",
        for_whom="teacher",
        need="班上有个孩子情绪低落，想请教怎么和家长沟通",
    )
    guardian = Guardian.objects.get(user=w.teacher)
    assert consultation.family == guardian.family
    assert consultation.for_whom == Consultation.ForWhom.TEACHER
    assert [a.guardian_id for a in consultation.booking.attendees.all()] == [guardian.pk]


def test_a_person_without_a_family_is_asked_to_set_one_up(station_world):
    w = station_world
    with pytest.raises(GuidanceError) as refused:
        services.consultation_book(
            user=w.coordinator,
            slot_id=slot_for(w.psych).pk,
            area="mental_health",
            for_whom="parent",
            need="想了解一下",
        )
    assert refused.value.code == "no_family"


def test_booking_twice_is_bookings_refusal_and_the_tallies_roll_back(station_world):
    w = station_world
    slot = slot_for(w.psych, capacity=3, kind="small_group")
    book(w.mum, slot)
    with pytest.raises(BookingError):
        book(w.mum, slot)
    assert used_of(w, w.mum.family) == {"open": 1, "term": 1}


def test_marking_held_marks_the_booking_present_and_releases_the_open_tally(station_world):
    w = station_world
    slot = slot_for(w.psych)
    consultation = book(w.mum, slot)
    Offering.objects.filter(pk=slot.offering_id).update(
        starts_at=timezone.now() - dt.timedelta(minutes=50), ends_at=timezone.now()
    )
    marked = services.consultation_mark(
        user=w.chief.user, consultation_id=consultation.pk, held=True
    )
    assert marked.status == Consultation.Status.HELD and marked.held_at is not None
    assert marked.booking.attendance == Booking.Attendance.PRESENT
    assert used_of(w, w.mum.family) == {"open": 0, "term": 1}
    with pytest.raises(GuidanceError) as refused:
        services.consultation_mark(user=w.psych.user, consultation_id=consultation.pk, held=False)
    assert refused.value.code == "consultation_closed"


def test_marking_before_the_start_is_bookings_refusal(station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych, days=5))
    with pytest.raises(BookingError):
        services.consultation_mark(user=w.psych.user, consultation_id=consultation.pk, held=True)
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.BOOKED
