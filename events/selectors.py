"""Reads for events, calendars and the delivery log."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.models import Booking, Offering
from bookings.selectors import BookingDecision, booking_decision
from members import access, formatting
from members.sharing import ShareCard, absolute_url, default_share_image_url, plain_summary

from .errors import EventError
from .models import CalendarFeed, Delivery, Event, ReminderRule

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_OFFSETS = (24 * 60, 2 * 60)


def local_time_label(when: datetime.datetime) -> str:
    """``12月3日 周三 18:00`` in Asia/Shanghai: the portal's one rule (members.formatting)."""
    return formatting.when_label(when)


@dataclass
class OfferingInfo:
    """What a message or a calendar entry says about an event or a course session."""

    offering: Offering
    title: str
    kind_label: str
    venue: str
    online_url: str
    path: str
    organiser: str
    event: Event | None = None

    @property
    def url(self) -> str:
        return settings.PORTAL_BASE_URL.rstrip("/") + self.path if self.path else ""

    @property
    def when_label(self) -> str:
        return local_time_label(self.offering.starts_at)

    @property
    def end_label(self) -> str:
        return f"{self.offering.ends_at.astimezone(SHANGHAI):%H:%M}"


def offering_info(offering: Offering) -> OfferingInfo:
    if offering.kind == Offering.Kind.EVENT:
        try:
            event = offering.event
        except ObjectDoesNotExist:
            event = None
        if event is not None:
            return OfferingInfo(
                offering=offering,
                title=event.title,
                kind_label=event.get_kind_display(),
                venue=event.venue,
                online_url=event.online_url,
                path=reverse("events:detail", args=[event.pk]),
                organiser=str(event.organiser_alliance or event.organiser_unit),
                event=event,
            )
    venue = online_url = path = ""
    try:
        session = offering.course_session
        venue, online_url = session.venue, session.online_url
        try:
            path = reverse("courses:detail", args=[session.course_id])
        except NoReverseMatch:
            path = ""
    except ObjectDoesNotExist:
        pass
    return OfferingInfo(
        offering=offering,
        title=offering.title,
        kind_label=offering.get_kind_display(),
        venue=venue,
        online_url=online_url,
        path=path,
        organiser=str(offering.unit),
    )


def reminder_offsets_for_offerings(offerings: list[Offering]) -> dict[int, list[int]]:
    """Offsets (minutes before the start) that apply to each offering, largest first.

    An event's own rules win over its kind's; course sessions use the
    ``course_session`` scope; without rules, 24 h and 2 h.
    """
    event_rows = {
        row["offering_id"]: row
        for row in Event.objects.filter(offering__in=[o.pk for o in offerings]).values(
            "offering_id", "id", "kind"
        )
    }
    rules = ReminderRule.objects.filter(
        Q(event_id__in=[r["id"] for r in event_rows.values()]) | Q(event__isnull=True)
    ).values("event_id", "scope", "offset_minutes", "is_active")
    by_event: dict[int, list[int]] = {}
    by_scope: dict[str, list[int]] = {}
    for rule in rules:
        bucket = (
            by_event.setdefault(rule["event_id"], [])
            if rule["event_id"]
            else by_scope.setdefault(rule["scope"], [])
        )
        if rule["is_active"]:
            bucket.append(rule["offset_minutes"])
    result = {}
    for offering in offerings:
        event = event_rows.get(offering.pk)
        if event is not None and event["id"] in by_event:
            offsets = by_event[event["id"]]
        else:
            scope = event["kind"] if event is not None else ReminderRule.COURSE_SESSION
            offsets = by_scope.get(scope, list(DEFAULT_OFFSETS))
        result[offering.pk] = sorted(set(offsets), reverse=True)
    return result


def max_reminder_offset() -> int:
    largest = (
        ReminderRule.objects.filter(is_active=True)
        .order_by("-offset_minutes")
        .values_list("offset_minutes", flat=True)
        .first()
    )
    return max(largest or 0, *DEFAULT_OFFSETS)


# Events: public list and coordinator lists.


def event_list_public(*, kind: str = "") -> QuerySet[Event]:
    events = (
        Event.objects.filter(status=Event.Status.PUBLISHED, offering__ends_at__gt=timezone.now())
        .select_related("offering", "organiser_unit", "organiser_alliance")
        .order_by("offering__starts_at", "pk")
    )
    if kind:
        events = events.filter(kind=kind)
    return events


def event_public(*, pk: int) -> Event | None:
    """An event anyone may look at (published, cancelled or finished: its page stays
    up); None for a draft or a missing one, as the event page's 404."""
    return (
        Event.objects.exclude(status=Event.Status.DRAFT)
        .select_related("offering", "organiser_unit", "organiser_alliance")
        .filter(pk=pk)
        .first()
    )


def event_list_for_coordinator(*, user, status: str = "") -> QuerySet[Event]:
    events = Event.objects.select_related("offering", "organiser_unit", "organiser_alliance")
    if not access.sees_every_district(user):
        events = events.filter(organiser_unit__in=access.visible_unit_ids(user))
    if status:
        events = events.filter(status=status)
    return events.order_by("-offering__starts_at", "-pk")


def event_get_for_coordinator(*, user, event_id: int) -> Event:
    """The event if the user may see its unit; raises Event.DoesNotExist (→ 404) otherwise."""
    return event_list_for_coordinator(user=user).get(pk=event_id)


def event_roster(*, event: Event) -> QuerySet[Booking]:
    return (
        Booking.objects.filter(
            offering_id=event.offering_id,
            status__in=[Booking.Status.CONFIRMED, Booking.Status.WAITING],
        )
        .select_related("booked_by")
        .prefetch_related("attendees__guardian__user", "attendees__child", "family__guardians")
        .order_by("status", "created_at", "pk")
    )


def family_booking_for_event(*, family, event: Event) -> Booking | None:
    if family is None:
        return None
    return (
        Booking.objects.filter(
            offering_id=event.offering_id,
            family=family,
            status__in=[Booking.Status.CONFIRMED, Booking.Status.WAITING],
        )
        .prefetch_related("attendees")
        .first()
    )


def event_booking_decision(
    *, event: Event, booking: Booking | None, now: datetime.datetime | None = None
) -> BookingDecision:
    """What the family may do on the event's page: the booking rules of its offering
    (windows, start, cancel deadline), and no new registration unless published,
    as ``events.services.event_register`` decides."""
    decision = booking_decision(offering=event.offering, booking=booking, now=now)
    if event.status != Event.Status.PUBLISHED and decision.refusal is None:
        decision = dataclasses.replace(decision, refusal=EventError("not_published"))
    return decision


def delivery_log_for_event(*, event: Event, status: str = "") -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(offering_id=event.offering_id).select_related("user")
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-scheduled_for", "purpose", "pk")


def delivery_summary_for_event(*, event: Event) -> list[dict]:
    """Counts per purpose, channel and status, aggregated in SQL, with display labels."""
    purposes = dict(Delivery.Purpose.choices)
    channels = dict(Delivery.Channel.choices)
    statuses = dict(Delivery.Status.choices)
    rows = list(
        Delivery.objects.filter(offering_id=event.offering_id)
        .values("purpose", "channel", "status")
        .annotate(count=Count("pk"))
        .order_by("purpose", "channel", "status")
    )
    for row in rows:
        row["purpose_label"] = purposes.get(row["purpose"], row["purpose"])
        row["channel_label"] = channels.get(row["channel"], row["channel"])
        row["status_label"] = statuses.get(row["status"], row["status"])
    return rows


def calendar_feed_for_family(*, family) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(family=family, revoked_at__isnull=True).first()


def calendar_offerings_for_family(*, family) -> QuerySet[Offering]:
    since = timezone.now() - datetime.timedelta(days=60)
    return (
        Offering.objects.filter(
            bookings__family=family,
            bookings__status=Booking.Status.CONFIRMED,
            starts_at__gte=since,
        )
        .select_related(
            "unit", "event__organiser_unit", "event__organiser_alliance", "course_session"
        )
        .order_by("starts_at")
        .distinct()[:500]
    )


def event_share(event: Event) -> ShareCard:
    """The card a link to this event shows in a chat (its page's Open Graph tags,
    the API's event answer) and the mini-program page for it: when and where
    first, then the description. Events carry no picture, so the portal's one."""
    place = event.venue or _("线上")
    lead = f"{formatting.when_label(event.offering.starts_at)} · {place}"
    description = plain_summary(event.description, limit=10_000)
    return ShareCard(
        title=event.title,
        summary=plain_summary(f"{lead}｜{description}" if description else lead),
        image_url=default_share_image_url(),
        url=absolute_url(reverse("events:detail", args=[event.pk])),
        miniprogram_path=f"pages/event/detail?id={event.pk}",
    )
