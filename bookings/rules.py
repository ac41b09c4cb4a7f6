"""The booking rules as pure functions of an offering (and a booking) at a moment.

``bookings.services`` enforces them inside its locked transactions, and
``bookings.selectors.booking_decision`` shows them on pages, so a page never
re-implements a deadline or a booking window: both ask these functions.
No database access here.
"""

from __future__ import annotations

import datetime

from django.conf import settings

from .models import Booking, Offering


def booking_refusal(*, offering: Offering, now: datetime.datetime) -> str | None:
    """Why nobody may book ``offering`` at ``now`` (a bookings.errors code), or None."""
    if offering.status == Offering.Status.CANCELLED:
        return "offering_cancelled"
    if offering.status == Offering.Status.FINISHED or offering.starts_at <= now:
        return "offering_started"
    if offering.booking_opens_at and now < offering.booking_opens_at:
        return "booking_not_open"
    if offering.booking_closes_at and now > offering.booking_closes_at:
        return "booking_closed"
    return None


def cancel_deadline(offering: Offering) -> datetime.datetime:
    """Until when a confirmed booking may be cancelled by the family itself.

    The offering's own ``cancel_closes_hours`` before the start, else
    ``BOOKING_CANCEL_CLOSES_HOURS``.
    """
    hours = offering.cancel_closes_hours
    if hours is None:
        hours = settings.BOOKING_CANCEL_CLOSES_HOURS
    return offering.starts_at - datetime.timedelta(hours=hours)


def cancel_refusal(*, booking: Booking, offering: Offering, now: datetime.datetime) -> str | None:
    """Why the family may not cancel ``booking`` itself at ``now``, or None.

    A waiting family may always leave the list; a confirmed one until the deadline.
    """
    if booking.status == Booking.Status.CANCELLED:
        return "already_cancelled"
    if booking.status == Booking.Status.CONFIRMED and now > cancel_deadline(offering):
        return "cancel_closed"
    return None
