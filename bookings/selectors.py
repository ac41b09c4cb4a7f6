"""Reads for limited places."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .models import Booking


def booking_annotate_waiting_position(queryset: QuerySet[Booking]) -> QuerySet[Booking]:
    """Annotate ``waiting_position`` (1 = next in line) in the same query.

    One correlated count per row, so a page of bookings costs one query however
    many are waiting. Meaningful only for waiting bookings.
    """
    ahead = (
        Booking.objects.filter(offering=OuterRef("offering"), status=Booking.Status.WAITING)
        .filter(
            Q(created_at__lt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk"))
        )
        .order_by()
        .values("offering")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(
        waiting_position=Coalesce(Subquery(ahead, output_field=IntegerField()), Value(0)) + 1
    )


def booking_waiting_position(*, booking: Booking) -> int | None:
    if booking.status != Booking.Status.WAITING:
        return None
    return (
        Booking.objects.filter(offering_id=booking.offering_id, status=Booking.Status.WAITING)
        .filter(
            Q(created_at__lt=booking.created_at)
            | Q(created_at=booking.created_at, pk__lt=booking.pk)
        )
        .count()
        + 1
    )


def booking_active_for_family(*, family, offering_ids) -> dict[int, Booking]:
    """The family's confirmed or waiting bookings on these offerings, by offering id."""
    if family is None:
        return {}
    rows = Booking.objects.filter(
        family=family,
        offering_id__in=list(offering_ids),
        status__in=[Booking.Status.CONFIRMED, Booking.Status.WAITING],
    )
    return {b.offering_id: b for b in rows}
