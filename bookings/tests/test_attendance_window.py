"""Attendance is marked only from check-in opening until some days after the end.

One rule (bookings.selectors.attendance_marking), enforced in the one marking
path (bookings.services.booking_mark_attendance) for course sessions and events.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.errors import BookingError
from bookings.models import Booking, Offering
from bookings.selectors import attendance_marking
from bookings.tests.conftest import make_family
from bookings.tests.factories import OfferingFactory
from members.models import AuditLog

pytestmark = pytest.mark.django_db


def test_marking_opens_at_check_in_opening_and_closes_days_after_the_end(settings):
    # given check-in opening 45 minutes before, marking closing 2 days after the end
    settings.COURSE_CHECKIN_OPENS_MINUTES_BEFORE = 45
    settings.ATTENDANCE_MARKING_CLOSES_DAYS_AFTER_END = 2
    start = timezone.now() + timedelta(days=10)
    offering = OfferingFactory.build(starts_at=start, ends_at=start + timedelta(hours=2))
    opens, closes = start - timedelta(minutes=45), start + timedelta(hours=2, days=2)

    def at(moment):
        return attendance_marking(offering=offering, now=moment)

    # then it is closed just before opening, open from opening to closing, closed after
    before = at(opens - timedelta(seconds=1))
    assert not before.is_open and before.refusal.code == "attendance_not_open"
    assert "开始前 45 分钟" in before.message
    assert f"{timezone.localtime(opens):%Y-%m-%d %H:%M}" in before.message
    assert at(opens).is_open and at(start).is_open and at(closes).is_open
    after = at(closes + timedelta(seconds=1))
    assert not after.is_open and after.refusal.code == "attendance_closed"
    assert "结束后 2 天" in after.message
    assert f"{timezone.localtime(closes):%Y-%m-%d %H:%M}" in after.message
    assert (before.opens_at, before.closes_at) == (opens, closes)


@pytest.mark.parametrize("kind", [Offering.Kind.COURSE_SESSION, Offering.Kind.EVENT])
def test_the_service_refuses_before_opening_and_after_closing_and_writes_nothing(kind):
    # given a confirmed booking on an offering in three days
    offering = OfferingFactory(kind=kind, capacity=5)
    family, guardians, _ = make_family()
    booking = services.booking_create(
        offering_id=offering.pk, family=family, booked_by=None, guardian_ids=[guardians[0].pk]
    )

    # when it is marked present three days early
    with pytest.raises(BookingError) as early:
        services.booking_mark_attendance(booking_id=booking.pk, present=True, marked_by=None)

    # and, the offering having ended eight days ago, present or absent
    ended = timezone.now() - timedelta(days=8)
    Offering.objects.filter(pk=offering.pk).update(
        starts_at=ended - timedelta(hours=2), ends_at=ended
    )
    late = []
    for present in (True, False):
        with pytest.raises(BookingError) as error:
            services.booking_mark_attendance(booking_id=booking.pk, present=present, marked_by=None)
        late.append(error.value.code)

    # then each is refused, and the booking and the audit log are untouched
    assert early.value.code == "attendance_not_open"
    assert late == ["attendance_closed", "attendance_closed"]
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.UNKNOWN and booking.checked_in_at is None
    assert not AuditLog.objects.filter(action="bookings.booking.attendance").exists()


def test_the_service_accepts_marking_while_it_is_open():
    # given a confirmed booking on an offering that ended six days ago
    offering = OfferingFactory(capacity=5)
    family, guardians, _ = make_family()
    booking = services.booking_create(
        offering_id=offering.pk, family=family, booked_by=None, guardian_ids=[guardians[0].pk]
    )
    ended = timezone.now() - timedelta(days=6)
    Offering.objects.filter(pk=offering.pk).update(
        starts_at=ended - timedelta(hours=2), ends_at=ended
    )

    # when it is marked present, then corrected to absent
    _, newly = services.booking_mark_attendance(booking_id=booking.pk, present=True, marked_by=None)
    marked, _ = services.booking_mark_attendance(
        booking_id=booking.pk, present=False, marked_by=None
    )

    # then both are accepted (seven days after the end by default)
    assert newly is True
    assert marked.attendance == Booking.Attendance.ABSENT
    assert AuditLog.objects.filter(action="bookings.booking.attendance").count() == 2
