"""Test data for events and reminders. Other apps' tests may import these."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from bookings.models import Booking, Offering
from events.models import Delivery, Event
from events.services import event_create
from members.models import Family, Guardian
from members.tests.factories import MemberUnitFactory


def make_event(**overrides) -> Event:
    """A published event through the real service (event + its Offering)."""
    starts_at = overrides.pop("starts_at", timezone.now() + datetime.timedelta(days=3))
    fields = {
        "created_by": None,
        "title": "家庭教育讲座：如何陪伴孩子度过青春期",
        "kind": Event.Kind.LECTURE,
        "organiser_unit": overrides.pop("organiser_unit", None) or MemberUnitFactory(),
        "audience": Event.Audience.PARENTS,
        "venue": "溪口镇成校报告厅",
        "starts_at": starts_at,
        "ends_at": starts_at + datetime.timedelta(hours=2),
        "capacity": 2000,
        "status": Event.Status.PUBLISHED,
    }
    fields.update(overrides)
    return event_create(**fields)


def bulk_registered_families(
    offering: Offering, count: int, *, confirmed_at: datetime.datetime, prefix: str = "fam"
) -> list[Guardian]:
    """``count`` families of one guardian each, confirmed on ``offering`` at ``confirmed_at``.

    Bulk inserts, for tests that need many registrants quickly; the places
    counter is kept in step as the bookings service would.
    """
    User = get_user_model()
    users = User.objects.bulk_create(
        [
            User(
                username=f"{prefix}{i}",
                email=f"{prefix}{i}@example.cn",
                phone=None,
                display_name=f"家长{prefix}{i}",
            )
            for i in range(count)
        ]
    )
    families = Family.objects.bulk_create([Family() for _ in range(count)])
    guardians = Guardian.objects.bulk_create(
        [
            Guardian(user=user, family=family, relation=Guardian.Relation.MOTHER)
            for user, family in zip(users, families, strict=True)
        ]
    )
    Booking.objects.bulk_create(
        [
            Booking(
                offering=offering,
                family=family,
                booked_by=user,
                status=Booking.Status.CONFIRMED,
                party_size=1,
                confirmed_at=confirmed_at,
            )
            for user, family in zip(users, families, strict=True)
        ]
    )
    Booking.objects.filter(offering=offering).update(created_at=confirmed_at)
    offering.places_taken = Booking.objects.filter(
        offering=offering, status=Booking.Status.CONFIRMED
    ).count()
    offering.save(update_fields=["places_taken"])
    return guardians


def receipts_sent_earlier(bookings, *, when: datetime.datetime | None = None) -> int:
    """For tests that start from bookings made days ago: their receipts went out
    back then, so a pass run now has only the reminders to send."""
    return Delivery.objects.filter(
        booking__in=list(bookings),
        purpose=Delivery.Purpose.CONFIRMATION,
        status=Delivery.Status.PENDING,
    ).update(status=Delivery.Status.SENT, sent_at=when or timezone.now())
