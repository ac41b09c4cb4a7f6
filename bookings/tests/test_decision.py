"""The decision a page shows (bookings.selectors.booking_decision) is the one the
services make: both read bookings/rules.py, so what a family is offered is what
it gets."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.errors import BookingError
from bookings.models import Booking, Offering
from bookings.selectors import booking_decision
from bookings.tests.conftest import make_family
from bookings.tests.factories import OfferingFactory

pytestmark = pytest.mark.django_db


def _book(offering, family, guardians):
    return services.booking_create(
        offering_id=offering.pk,
        family=family,
        booked_by=guardians[0].user,
        guardian_ids=[g.pk for g in guardians],
    )


def _refused_code(offering) -> str | None:
    family, guardians, _ = make_family()
    try:
        _book(offering, family, guardians)
    except BookingError as error:
        return error.code
    return None


@pytest.mark.parametrize(
    "window, reason",
    [
        ({"booking_opens_at": timedelta(days=1)}, "booking_not_open"),
        ({"booking_closes_at": -timedelta(hours=1)}, "booking_closed"),
        ({"status": Offering.Status.CANCELLED}, "offering_cancelled"),
        ({"starts_at": -timedelta(minutes=5)}, "offering_started"),
    ],
)
def test_a_closed_offering_is_shown_closed_for_the_reason_the_service_refuses(window, reason):
    # given an offering outside its booking window (or cancelled, or started)
    now = timezone.now()
    fields = {
        key: (now + value if isinstance(value, timedelta) else value)
        for key, value in window.items()
    }
    offering = OfferingFactory(**fields)

    # when the page asks, and when a family tries anyway
    decision = booking_decision(offering=offering)

    # then both say no, for the same reason, in the portal's words
    assert not decision.can_book and not decision.is_open
    assert decision.reason == reason
    assert decision.message
    assert _refused_code(offering) == reason


def test_an_open_offering_can_be_booked_and_says_when_it_is_full():
    # given an open offering with one place and a booking window that closes tomorrow
    closes = timezone.now() + timedelta(days=1)
    offering = OfferingFactory(capacity=1, booking_closes_at=closes)

    # then the page offers booking, with the closing time
    decision = booking_decision(offering=offering)
    assert decision.can_book and decision.reason is None and decision.message == ""
    assert decision.closes_at == closes and not decision.joins_waiting_list

    # when the one place is taken, the next family is told it joins the waiting list
    family, guardians, _ = make_family()
    _book(offering, family, guardians)
    offering.refresh_from_db()
    assert booking_decision(offering=offering).joins_waiting_list
    assert _refused_code(offering) is None  # and the service does put it on the list


def test_a_family_with_a_booking_cannot_book_again_but_may_cancel_until_the_deadline():
    # given a confirmed booking on an offering in three days (deadline: 2 hours before)
    offering = OfferingFactory()
    family, guardians, _ = make_family()
    booking = _book(offering, family, guardians)
    offering.refresh_from_db()

    # then the page offers cancelling, until the deadline the service applies
    decision = booking_decision(offering=offering, booking=booking)
    assert decision.booking == booking and not decision.can_book
    assert decision.can_cancel and decision.cancel_message == ""
    assert decision.cancel_allowed_until == services.cancel_deadline(offering)
    assert decision.cancel_allowed_until == offering.starts_at - timedelta(hours=2)


def test_after_the_cancel_deadline_the_page_and_the_service_both_refuse(settings):
    # given a confirmed booking, and the deadline (3 hours before the start) passed
    offering = OfferingFactory(starts_at=timezone.now() + timedelta(hours=2), cancel_closes_hours=3)
    family, guardians, _ = make_family()
    booking = _book(offering, family, guardians)
    offering.refresh_from_db()

    # when the page asks
    decision = booking_decision(offering=offering, booking=booking)

    # then no cancel button, and the reason the service would give
    assert not decision.can_cancel
    assert decision.cancel_refusal.code == "cancel_closed"
    assert decision.cancel_message == str(BookingError("cancel_closed").message)
    with pytest.raises(BookingError) as refused:
        services.booking_cancel(booking_id=booking.pk, family=family, cancelled_by=None)
    assert refused.value.code == "cancel_closed"


def test_a_waiting_family_may_always_leave_the_list():
    # given a full offering starting in an hour (past the cancel deadline) and a waiting family
    offering = OfferingFactory(capacity=1, starts_at=timezone.now() + timedelta(hours=1))
    first, first_guardians, _ = make_family()
    _book(offering, first, first_guardians)
    family, guardians, _ = make_family()
    waiting = _book(offering, family, guardians)
    assert waiting.status == Booking.Status.WAITING
    offering.refresh_from_db()

    # then it may leave, with no deadline, and the service agrees
    decision = booking_decision(offering=offering, booking=waiting)
    assert decision.can_cancel and decision.cancel_allowed_until is None
    services.booking_cancel(booking_id=waiting.pk, family=family, cancelled_by=None)
    waiting.refresh_from_db()
    assert waiting.status == Booking.Status.CANCELLED
    # and a cancelled booking is no longer the family's booking on the page
    assert booking_decision(offering=offering, booking=waiting).booking is None
