"""The station listens to bookings: whichever path cancels a consultation's
booking or promotes it from the waiting list (guidance.services, the bookings
admin, a family deleted), the consultation follows in the same transaction."""

from django.dispatch import receiver

from bookings import signals
from bookings.models import Offering


@receiver(signals.booking_cancelled, dispatch_uid="guidance.booking_cancelled")
def _booking_cancelled(sender, booking, cancelled_by=None, **kwargs):
    if booking.offering.kind != Offering.Kind.CONSULTATION:
        return
    from . import services

    services.booking_closed(booking=booking, cancelled_by=cancelled_by)


@receiver(signals.bookings_promoted, dispatch_uid="guidance.bookings_promoted")
def _bookings_promoted(sender, offering, bookings, **kwargs):
    if offering.kind != Offering.Kind.CONSULTATION:
        return
    from . import services

    services.bookings_confirmed(bookings=bookings)
