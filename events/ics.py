"""iCalendar files: one event's ``.ics`` and a family's feed (icalendar)."""

from __future__ import annotations

from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from bookings.models import Offering

from .selectors import OfferingInfo


def calendar_bytes(infos: list[OfferingInfo], *, name: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Co-education Portal//events//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", "Asia/Shanghai")
    stamp = timezone.now()
    for info in infos:
        offering = info.offering
        entry = CalendarEvent()
        # Stable UID: a moved event updates the same calendar entry.
        entry.add("uid", f"offering-{offering.pk}@alliance-portal")
        entry.add("summary", info.title)
        entry.add("dtstart", offering.starts_at)
        entry.add("dtend", offering.ends_at)
        entry.add("dtstamp", stamp)
        if info.event is not None:
            # Grows with every change, so calendar apps replace a moved event.
            entry.add("sequence", int(info.event.updated_at.timestamp()))
        location = info.venue or info.online_url
        if location:
            entry.add("location", location)
        if info.url:
            entry.add("url", info.url)
        entry.add("description", f"{info.kind_label} · {info.organiser}\n{info.url}".strip())
        if offering.status == Offering.Status.CANCELLED:
            entry.add("status", "CANCELLED")
        else:
            entry.add("status", "CONFIRMED")
        calendar.add_component(entry)
    return calendar.to_ical()
