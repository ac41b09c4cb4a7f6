"""Reads for the signed-in home page and 我的学习: one list of a family's course
sessions and events.

Courses sit left of events in the layers, so the list that joins both lives here,
at the top. Each read is a fixed number of queries whatever the number of
bookings: one for the bookings (offering, course session and course, or event, in
the same join), one for the people each booking is for. What the family may still
do (cancel, until when) is ``bookings.selectors.booking_decision``; pages only show it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from bookings.models import Booking, BookingAttendee, Offering
from bookings.party import attendee_label
from bookings.selectors import (
    BookingDecision,
    booking_annotate_waiting_position,
    booking_decision,
)
from courses.selectors import CreditBalance, credit_balances, credit_recent
from courses.services import family_of
from events.models import Event
from events.services import ticket_code
from members.models import Family
from members.privacy import person_name
from notifications.models import Notification
from notifications.selectors import notification_list_for_user

MY_LEARNING_PATH_NAME = "portal:my_learning"
UPCOMING_LIMIT = 50  # a family rarely holds more; the list stays one query
WAITING_LIMIT = 50
HISTORY_PAGE_SIZE = 20
HOME_UPCOMING = 3
HOME_WAITING = 5
HOME_NOTICES = 3


@dataclass
class AgendaItem:
    """One course session or event of the family, as 我的学习 and the home page show it."""

    booking: Booking
    is_event: bool
    kind_label: str  # 课程 / 活动 · 讲座
    title: str
    url: str
    venue: str
    online_url: str
    people: list[str]
    decision: BookingDecision
    cancel_url: str = ""
    # The ticket code staff scan or type at the door, grouped in fours; confirmed only.
    ticket: str = ""
    called_off: bool = False  # the organiser cancelled the session or event
    waiting_position: int | None = None
    credits: Decimal | None = None

    @property
    def offering(self) -> Offering:
        return self.booking.offering

    @property
    def children_count(self) -> int:
        return self.booking.children_count


@dataclass
class MyLearning:
    family: Family
    upcoming: list[AgendaItem]
    waiting: list[AgendaItem]
    history: Page
    history_items: list[AgendaItem]
    balances: list[CreditBalance]
    recent_credits: list
    now: datetime.datetime


@dataclass
class HomeOverview:
    greeting_name: str
    family: Family | None
    upcoming: list[AgendaItem] = field(default_factory=list)
    more_upcoming: bool = False
    waiting: list[AgendaItem] = field(default_factory=list)
    unread: list[Notification] = field(default_factory=list)


# --- the family's bookings --------------------------------------------------------


def _family_bookings(family: Family) -> QuerySet[Booking]:
    return Booking.objects.filter(family=family).select_related(
        "offering",
        "offering__course_session",
        "offering__course_session__course",
        "offering__event",
        "offering__group_session",
        "offering__group_session__group",
        "offering__guidance_slot",
        "guidance_consultation",
    )


def _with_people(bookings: QuerySet[Booking]) -> QuerySet[Booking]:
    return bookings.prefetch_related(
        Prefetch(
            "attendees",
            queryset=BookingAttendee.objects.select_related("guardian__user", "child").order_by(
                "is_child", "pk"
            ),
        )
    )


def _event_of(offering: Offering) -> Event | None:
    try:
        return offering.event
    except ObjectDoesNotExist:
        return None


def _session_of(offering: Offering):
    try:
        return offering.course_session
    except ObjectDoesNotExist:
        return None


def _group_session_of(offering: Offering):
    try:
        return offering.group_session
    except ObjectDoesNotExist:
        return None


def _consultation_of(booking: Booking):
    try:
        return booking.guidance_consultation
    except ObjectDoesNotExist:
        return None


def _ticket_display(code: str) -> str:
    """Grouped in fours from the right, as on the event page, so it is easy to read out."""
    groups = [code[max(i - 4, 0) : i] for i in range(len(code), 0, -4)][::-1]
    return " ".join(groups)


def _with_next(url: str, next_path: str) -> str:
    return f"{url}?{urlencode({'next': next_path})}" if next_path else url


def _item(booking: Booking, *, me_guardian_id: int | None, now, next_path: str) -> AgendaItem:
    offering = booking.offering
    decision = booking_decision(offering=offering, booking=booking, now=now)
    labels = [attendee_label(a, me_guardian_id=me_guardian_id) for a in booking.attendees.all()]
    event = _event_of(offering)
    if event is not None:
        item = AgendaItem(
            booking=booking,
            is_event=True,
            kind_label=_("活动 · %(kind)s") % {"kind": event.get_kind_display()},
            title=event.title,
            url=reverse("events:detail", args=[event.pk]),
            venue=event.venue,
            online_url=event.online_url,
            people=labels,
            decision=decision,
            cancel_url=_with_next(reverse("events:unregister", args=[event.pk]), next_path),
            called_off=event.status == Event.Status.CANCELLED
            or offering.status == Offering.Status.CANCELLED,
        )
        if booking.status == Booking.Status.CONFIRMED and not item.called_off:
            item.ticket = _ticket_display(ticket_code(booking=booking))
    elif (group_session := _group_session_of(offering)) is not None:
        # A buddy group's own session (groups): 「小组活动 · <group name>」.
        item = AgendaItem(
            booking=booking,
            is_event=False,
            kind_label=_("小组活动 · %(name)s") % {"name": group_session.group.name},
            title=offering.title,
            url=reverse("groups:session", args=[group_session.pk]),
            venue=group_session.venue,
            online_url=group_session.online_url,
            people=labels,
            decision=decision,
            cancel_url=_with_next(reverse("groups:session_cancel", args=[booking.pk]), next_path),
            called_off=offering.status == Offering.Status.CANCELLED,
        )
        if booking.status == Booking.Status.CONFIRMED and not item.called_off:
            item.ticket = _ticket_display(ticket_code(booking=booking))
    elif (consultation := _consultation_of(booking)) is not None:
        # A guidance consultation (guidance): 「指导咨询 · <area>」, its page, and
        # cancelling there (the station's rules). Never the need or a note.
        slot = offering.guidance_slot
        item = AgendaItem(
            booking=booking,
            is_event=False,
            kind_label=_("指导咨询 · %(area)s") % {"area": consultation.get_area_display()},
            title=offering.title,
            url=reverse("guidance:consultation", args=[consultation.pk]),
            venue=slot.venue,
            online_url=slot.online_url,
            people=labels,
            decision=decision,
            cancel_url=reverse("guidance:cancel", args=[consultation.pk]),
            called_off=offering.status == Offering.Status.CANCELLED,
        )
    else:
        session = _session_of(offering)
        item = AgendaItem(
            booking=booking,
            is_event=False,
            kind_label=_("课程"),
            title=session.course.title if session is not None else offering.title,
            url=reverse("courses:detail", args=[session.course_id]) if session else "",
            venue=session.venue if session is not None else "",
            online_url=session.online_url if session is not None else "",
            people=labels,
            decision=decision,
            cancel_url=_with_next(reverse("courses:cancel", args=[booking.pk]), next_path),
            called_off=offering.status == Offering.Status.CANCELLED,
        )
        # A course session's ticket works the same way (a check-in kiosk scans it).
        if booking.status == Booking.Status.CONFIRMED and not item.called_off:
            item.ticket = _ticket_display(ticket_code(booking=booking))
    item.waiting_position = getattr(booking, "waiting_position", None)
    item.credits = getattr(booking, "credits_earned", None)
    return item


def _items(bookings, *, user, next_path: str) -> list[AgendaItem]:
    now = timezone.now()
    me = getattr(getattr(user, "guardian", None), "pk", None)
    return [_item(b, me_guardian_id=me, now=now, next_path=next_path) for b in bookings]


def agenda_upcoming(*, family: Family, limit: int = UPCOMING_LIMIT) -> list[Booking]:
    """Confirmed course sessions and events not yet over, soonest first (today's
    evening included until it ends)."""
    return list(
        _with_people(_family_bookings(family))
        .filter(status=Booking.Status.CONFIRMED, offering__ends_at__gte=timezone.now())
        .order_by("offering__starts_at", "pk")[:limit]
    )


def agenda_waiting(*, family: Family, limit: int = WAITING_LIMIT) -> list[Booking]:
    """Waiting places not yet started, with their position in the queue (same query)."""
    return list(
        booking_annotate_waiting_position(
            _with_people(_family_bookings(family)).filter(
                status=Booking.Status.WAITING, offering__starts_at__gte=timezone.now()
            )
        ).order_by("offering__starts_at", "pk")[:limit]
    )


def agenda_history(*, family: Family) -> QuerySet[Booking]:
    """What is over or was cancelled, latest first, with the credits each booking
    earned (attendance credits, net of corrections), summed in the same query."""
    now = timezone.now()
    return (
        _with_people(_family_bookings(family))
        .filter(Q(offering__ends_at__lt=now) | Q(status=Booking.Status.CANCELLED))
        .annotate(credits_earned=Sum("credit_entries__amount"))
        .order_by("-offering__starts_at", "-pk")
    )


def my_learning(*, user, family: Family, page: str | None) -> MyLearning:
    next_path = reverse(MY_LEARNING_PATH_NAME)
    history = Paginator(agenda_history(family=family), HISTORY_PAGE_SIZE).get_page(page)
    options = {"user": user, "next_path": next_path}
    return MyLearning(
        family=family,
        upcoming=_items(agenda_upcoming(family=family), **options),
        waiting=_items(agenda_waiting(family=family), **options),
        history=history,
        history_items=_items(history.object_list, **options),
        balances=credit_balances(family=family),
        recent_credits=credit_recent(family=family, limit=10),
        now=timezone.now(),
    )


def home_overview(*, user) -> HomeOverview:
    """The signed-in home: the next few sessions and events, waiting places and the
    latest unread notices. (The unread count and the staff shortcuts come from the
    layout's context processor, computed once per page.)"""
    family = family_of(user)
    overview = HomeOverview(
        greeting_name=person_name(user),
        family=family,
        unread=list(
            notification_list_for_user(user=user).filter(read_at__isnull=True)[:HOME_NOTICES]
        ),
    )
    if family is not None:
        options = {"user": user, "next_path": reverse("portal:home")}
        upcoming = agenda_upcoming(family=family, limit=HOME_UPCOMING + 1)
        overview.upcoming = _items(upcoming[:HOME_UPCOMING], **options)
        overview.more_upcoming = len(upcoming) > HOME_UPCOMING
        overview.waiting = _items(agenda_waiting(family=family, limit=HOME_WAITING), **options)
    return overview
