"""Reads of the guidance station. The first section is the access rules: every
page, API answer, admin list and export of this app asks them (docs/GUIDANCE.md,
"Who sees what")."""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Page, Paginator
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.models import Offering
from members.access import can_change_unit, sees_every_district, units_changeable_by
from members.selectors import family_for_user
from parent_school.models import GuidanceArea

from .models import Consultation, FollowUp, GuidanceQuota, Mentor, Note, Referral, Slot, Station

# --- access (lead) ---------------------------------------------------------


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def mentors_of_user(user) -> QuerySet[Mentor]:
    """The active mentor records this login is (one per station at most)."""
    if not _active(user):
        return Mentor.objects.none()
    return Mentor.objects.filter(user_id=user.pk, is_active=True)


def is_chief_of(user, station: Station | int) -> bool:
    station_id = getattr(station, "pk", station)
    return mentors_of_user(user).filter(station_id=station_id, is_chief=True).exists()


def stations_managed_by(user) -> QuerySet[Station]:
    """Stations whose settings, mentors and anonymised dashboard the user runs: the
    coordinators of the station's unit (city administrators: every station; a
    district administrator: their district's, through ``units_changeable_by``)
    and its chief mentor. Managing a station never opens a consultation's need or
    notes (those follow ``consultations_visible_to`` and ``note_readable``)."""
    if not _active(user):
        return Station.objects.none()
    if sees_every_district(user):
        return Station.objects.all()
    chief = Q(pk__in=mentors_of_user(user).filter(is_chief=True).values("station_id"))
    return Station.objects.filter(chief | Q(unit__in=units_changeable_by(user).values("pk")))


def can_manage_station(user, station: Station) -> bool:
    if not _active(user):
        return False
    return is_chief_of(user, station) or can_change_unit(user, station.unit_id)


def consultations_visible_to(user) -> QuerySet[Consultation]:
    """The consultations a person may open (the record, the family-visible parts):

    - a family: its own;
    - a mentor: those booked with them, and the cases referred to them;
    - the chief mentor: every consultation of their station.

    Coordinators see none one by one (their dashboard is anonymised)."""
    if not _active(user):
        return Consultation.objects.none()
    condition = Q(pk__in=[])
    family = family_for_user(user)
    if family is not None:
        condition |= Q(family_id=family.pk)
    mentors = mentors_of_user(user)
    mentor_ids = list(mentors.values_list("pk", flat=True))
    if mentor_ids:
        condition |= Q(mentor_id__in=mentor_ids)
        condition |= Q(referrals__to_mentor_id__in=mentor_ids)
        chief_stations = list(mentors.filter(is_chief=True).values_list("station_id", flat=True))
        if chief_stations:
            condition |= Q(station_id__in=chief_stations)
    return Consultation.objects.filter(condition).distinct()


def is_family_of(user, consultation: Consultation) -> bool:
    family = family_for_user(user)
    return family is not None and consultation.family_id == family.pk


def _case_mentor_user_ids(consultation: Consultation) -> set[int]:
    """The logins of the mentors handling the case: its own mentor and the mentors
    it was referred to (or that referred it here)."""
    users = {consultation.mentor.user_id}
    referred = Referral.objects.filter(consultation=consultation, to_mentor__isnull=False)
    users |= set(referred.values_list("to_mentor__user_id", flat=True))
    if consultation.referral_id:
        users.add(consultation.referral.consultation.mentor.user_id)
    return {pk for pk in users if pk}


def note_readable(user, note: Note) -> bool:
    """Who reads a note, by its level:

    - summary: the family, the case's mentors, the chief mentor, the author;
    - private: the author, the case's mentors and the chief mentor;
    - restricted: the author and the chief mentor only.
    """
    if not _active(user):
        return False
    consultation = note.consultation
    if note.author_id == user.pk:
        return True
    if is_chief_of(user, consultation.station_id):
        return True
    if note.level == Note.Level.RESTRICTED:
        return False
    if user.pk in _case_mentor_user_ids(consultation):
        return True
    return note.level == Note.Level.SUMMARY and is_family_of(user, consultation)


def note_levels_writable(user, consultation: Consultation) -> list[str]:
    """The levels a person may write on a consultation: the case's mentors and the
    chief mentor write all three; nobody else writes any."""
    if not _active(user):
        return []
    if user.pk in _case_mentor_user_ids(consultation) or is_chief_of(user, consultation.station_id):
        return list(Note.Level.values)
    return []


# --- pages and booking reads -------------------------------------
# Lists are a fixed number of queries whatever their length: mentors are read with
# their station in one query and filtered by area in Python (a station has tens of
# mentors; JSON containment is not portable to SQLite), their free slots in one more.

FREE_SLOTS_PER_MENTOR = 5
CONSULTATIONS_PAGE_SIZE = 20


def stations_active() -> QuerySet[Station]:
    return Station.objects.filter(is_active=True).select_related("unit").order_by("name", "pk")


def station_active(station_id) -> Station | None:
    try:
        return stations_active().filter(pk=int(station_id)).first()
    except (TypeError, ValueError):
        return None


def station_areas(station: Station) -> list[dict]:
    """The five areas with how many active mentors of the station serve each."""
    counts: dict[str, int] = {}
    for areas in Mentor.objects.filter(station=station, is_active=True).values_list(
        "areas", flat=True
    ):
        for area in set(areas or ()):
            counts[area] = counts.get(area, 0) + 1
    return [
        {"value": value, "label": label, "mentors": counts.get(value, 0)}
        for value, label in GuidanceArea.choices
    ]


def mentors_for(station: Station, area: str, audience: str | None = None) -> list[Mentor]:
    """Active mentors of the station serving ``area`` (and ``audience``, if given)."""
    mentors = Mentor.objects.filter(station=station, is_active=True).order_by(
        "-is_chief", "name", "pk"
    )
    return [
        m
        for m in mentors
        if area in (m.areas or ()) and (not audience or audience in (m.audiences or ()))
    ]


def mentor_public(mentor_id) -> Mentor | None:
    """An active mentor of an active station (the public profile), or None."""
    try:
        pk = int(mentor_id)
    except (TypeError, ValueError):
        return None
    return (
        Mentor.objects.select_related("station", "station__unit")
        .filter(pk=pk, is_active=True, station__is_active=True)
        .first()
    )


def _free_slots_query(now):
    return (
        Slot.objects.select_related("offering", "mentor")
        .filter(
            offering__status=Offering.Status.OPEN,
            offering__starts_at__gt=now,
            offering__places_taken__lt=F("offering__capacity"),
        )
        .filter(
            Q(offering__booking_closes_at__isnull=True) | Q(offering__booking_closes_at__gt=now)
        )
        .order_by("offering__starts_at", "pk")
    )


def free_slots(mentor: Mentor, *, now=None, limit: int = FREE_SLOTS_PER_MENTOR) -> list[Slot]:
    """The mentor's next slots with a free place, soonest first."""
    now = now or timezone.now()
    return list(_free_slots_query(now).filter(mentor=mentor)[:limit])


def free_slots_by_mentor(
    mentors: list[Mentor], *, now=None, limit: int = FREE_SLOTS_PER_MENTOR
) -> dict[int, list[Slot]]:
    """``free_slots`` of several mentors in one query (a window per mentor)."""
    now = now or timezone.now()
    ids = [m.pk for m in mentors]
    if not ids:
        return {}
    ranked = (
        _free_slots_query(now)
        .filter(mentor_id__in=ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("mentor_id")],
                order_by=[F("offering__starts_at").asc(), F("pk").asc()],
            )
        )
        .filter(rank__lte=limit)
    )
    by_mentor: dict[int, list[Slot]] = {pk: [] for pk in ids}
    for slot in ranked:
        by_mentor[slot.mentor_id].append(slot)
    return by_mentor


def slot_bookable(slot_id) -> Slot | None:
    """A slot families may still book (open, not started, active mentor and station)."""
    try:
        pk = int(slot_id)
    except (TypeError, ValueError):
        return None
    return (
        Slot.objects.select_related("offering", "mentor", "mentor__station")
        .filter(
            pk=pk,
            offering__status=Offering.Status.OPEN,
            offering__starts_at__gt=timezone.now(),
            mentor__is_active=True,
            mentor__station__is_active=True,
        )
        .first()
    )


def _consultation_rows() -> QuerySet[Consultation]:
    return Consultation.objects.select_related(
        "slot", "slot__offering", "mentor", "station", "child", "booking"
    )


def family_consultations(family, page) -> Page:
    """The family's consultations, latest slot first, a page at a time."""
    rows = _consultation_rows().filter(family=family).order_by("-slot__offering__starts_at", "-pk")
    return Paginator(rows, CONSULTATIONS_PAGE_SIZE).get_page(page)


def desk_consultations(user, page) -> Page:
    """A mentor's cases (their own, referred to them; the chief mentor: the whole
    station's): open ones first, soonest first; then the rest, latest first."""
    mentor_ids = list(mentors_of_user(user).values_list("pk", flat=True))
    if not mentor_ids:
        return Paginator(Consultation.objects.none(), CONSULTATIONS_PAGE_SIZE).get_page(1)
    chief_stations = list(
        mentors_of_user(user).filter(is_chief=True).values_list("station_id", flat=True)
    )
    condition = Q(mentor_id__in=mentor_ids) | Q(station_id__in=chief_stations)
    condition |= Q(
        pk__in=Referral.objects.filter(to_mentor_id__in=mentor_ids).values("consultation_id")
    )
    is_open = Case(
        When(status__in=Consultation.OPEN_STATUSES, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    rows = (
        _consultation_rows()
        .filter(condition)
        .annotate(is_closed=is_open)
        .order_by("is_closed", "slot__offering__starts_at", "pk")
    )
    return Paginator(rows, CONSULTATIONS_PAGE_SIZE).get_page(page)


def desk_slots(user, *, now=None, limit: int = 50) -> list[Slot]:
    """The signed-in mentor's slots still to come (all states), soonest first."""
    now = now or timezone.now()
    return list(
        Slot.objects.select_related("offering", "mentor")
        .filter(mentor__in=mentors_of_user(user), offering__ends_at__gt=now)
        .order_by("offering__starts_at", "pk")[:limit]
    )


def consultation_for(user, consultation_id) -> Consultation | None:
    """The consultation if ``user`` may open it (consultations_visible_to), else None."""
    try:
        pk = int(consultation_id)
    except (TypeError, ValueError):
        return None
    return (
        consultations_visible_to(user)
        .filter(pk=pk)
        .select_related(
            "slot", "slot__offering", "mentor", "station", "station__unit", "child", "booking"
        )
        .first()
    )


def consultation_referrals(consultation: Consultation) -> list[Referral]:
    return list(Referral.objects.filter(consultation=consultation).select_related("to_mentor"))


def family_limits(station: Station, family, term) -> dict:
    """The family's tallies at the station: used and allowed, open and this term."""
    from .services import quota_limits  # the one formula of the limits

    term_id = getattr(term, "pk", term)
    open_max, term_max = quota_limits(station, family.pk, term_id)
    keys = {f"open:{station.pk}:{family.pk}": "open"}
    if term_id:
        keys[f"term:{station.pk}:{family.pk}:{term_id}"] = "term"
    used = {"open": 0, "term": 0}
    for key, value in GuidanceQuota.objects.filter(key__in=keys).values_list("key", "used"):
        used[keys[key]] = value
    return {
        "open_used": used["open"],
        "open_max": open_max,
        "term_used": used["term"],
        "term_max": term_max,
    }


def consultation_offering_for_family(family, offering_id) -> Consultation | None:
    """The family's latest consultation on a slot's offering (links in receipts
    and reminders name the offering, not the consultation)."""
    if family is None:
        return None
    return (
        Consultation.objects.filter(family=family, slot__offering_id=offering_id)
        .order_by("-pk")
        .first()
    )


# --- notes, follow-ups and the station's dashboard ---------------
#
# The station's dashboard is anonymised by construction: every figure is a SQL
# GROUP BY over consultations and follow-ups that selects only an area, a mentor,
# a month, a status and counts or durations — never a family, a child, a need or
# a note — in a fixed number of queries whatever the station's size.

DASHBOARD_MONTHS = 12


class _Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)`` over an interval (the median)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _months_back(now, months: int) -> list[dt.date]:
    first = timezone.localtime(now).date().replace(day=1)
    out = []
    for _i in range(months):
        out.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return list(reversed(out))


def _month_key(value) -> dt.date:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.replace(day=1)


def _days(value: dt.timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 86400, 1)


def station_dashboard(station: Station, *, now=None, months: int = DASHBOARD_MONTHS) -> dict:
    """The figures of ``station`` for the last ``months`` months (by the slot's start
    month, Asia/Shanghai):

    - consultations (every one not cancelled) per area × month and per mentor × month;
    - held / missed / cancelled / still open per month, and in total;
    - the waiting time to a slot (booking made → slot start), median and average,
      over consultations not cancelled;
    - follow-ups scheduled (all), sent, done, cancelled, by their due month.
    """
    now = now or timezone.now()
    month_list = _months_back(now, months)
    zone = timezone.get_current_timezone()
    since = dt.datetime.combine(month_list[0], dt.time(), tzinfo=zone)
    base = Consultation.objects.filter(station=station, slot__offering__starts_at__gte=since)
    month = TruncMonth("slot__offering__starts_at", tzinfo=zone)
    counted = base.exclude(status=Consultation.Status.CANCELLED)

    def pivot(rows, key):
        table: dict = {}
        for row in rows:
            cells = table.setdefault(row[key], {m: 0 for m in month_list})
            cells[_month_key(row["month"])] = row["n"]
        return table

    by_area_rows = (
        counted.annotate(month=month).values("area", "month").annotate(n=Count("pk")).order_by()
    )
    areas = pivot(by_area_rows, "area")
    by_mentor_rows = (
        counted.annotate(month=month)
        .values("mentor_id", "mentor__name", "month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    mentor_names = {r["mentor_id"]: r["mentor__name"] for r in by_mentor_rows}
    mentors = pivot(by_mentor_rows, "mentor_id")
    status_rows = (
        base.annotate(month=month).values("status", "month").annotate(n=Count("pk")).order_by()
    )
    statuses = pivot(status_rows, "status")
    waiting = counted.annotate(
        wait=ExpressionWrapper(
            F("slot__offering__starts_at") - F("created_at"), output_field=DurationField()
        )
    ).aggregate(median=_Median("wait"), average=Avg("wait"), n=Count("pk"))
    followup_rows = (
        FollowUp.objects.filter(consultation__station=station, due_at__gte=since)
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    followups = {s: 0 for s in FollowUp.Status.values}
    for row in followup_rows:
        followups[row["status"]] = row["n"]

    def rows_of(table, labels):
        out = []
        for key, cells in table.items():
            values = [cells[m] for m in month_list]
            out.append({"label": labels(key), "cells": values, "total": sum(values)})
        return sorted(out, key=lambda r: (-r["total"], str(r["label"])))

    area_labels = dict(GuidanceArea.choices)
    status_labels = dict(Consultation.Status.choices)
    status_totals = {s: sum(statuses.get(s, {}).values()) for s in Consultation.Status.values}
    by_area = rows_of(areas, lambda a: area_labels.get(a, a))
    by_mentor = rows_of(mentors, lambda pk: mentor_names.get(pk, ""))
    by_status = [
        {
            "label": status_labels[s],
            "status": s,
            "cells": [statuses.get(s, {}).get(m, 0) for m in month_list],
            "total": status_totals[s],
        }
        for s in Consultation.Status.values
    ]
    return {
        "station": station,
        "months": month_list,
        "by_area": by_area,
        "by_mentor": by_mentor,
        "by_status": by_status,
        "tables": [
            {"id": "areas", "title": _("各领域咨询人次"), "first": _("指导领域"), "rows": by_area},
            {"id": "mentors", "title": _("各导师咨询人次"), "first": _("导师"), "rows": by_mentor},
            {"id": "statuses", "title": _("咨询结果"), "first": _("状态"), "rows": by_status},
        ],
        "status_totals": status_totals,
        "waiting": {
            "median": waiting["median"],
            "average": waiting["average"],
            "median_days": _days(waiting["median"]),
            "average_days": _days(waiting["average"]),
            "count": waiting["n"],
        },
        "followups": {
            "scheduled": sum(followups.values()),
            "sent": followups[FollowUp.Status.SENT],
            "done": followups[FollowUp.Status.DONE],
            "cancelled": followups[FollowUp.Status.CANCELLED],
            "waiting": followups[FollowUp.Status.SCHEDULED],
        },
    }
