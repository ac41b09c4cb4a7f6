"""Writes of the guidance station: every change of state is a function here that
pages, admin, API, tasks and commands call (docs/GUIDANCE.md). Refusals are
``GuidanceError`` with a Chinese message naming the field."""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime, parse_time
from django.utils.translation import gettext as _

from bookings import services as booking_services
from bookings.locking import bounded_atomic, offerings_lock
from bookings.models import Booking, Offering
from events.services import notice_send
from members.access import (
    is_district_admin,
    is_staff_member,
    sees_every_district,
    units_changeable_by,
)
from members.errors import MembersError
from members.formatting import id_or_none
from members.models import AuditLog, Child, Family, Guardian, MemberUnit, SchoolStage
from members.sealing import seal, unseal
from members.selectors import family_for_user, guardian_for_user
from members.services import audit_log_record, family_create_for_user
from parent_school.models import GuidanceArea, Instructor, Term
from parent_school.selectors import term_current

from . import selectors
from .errors import GuidanceError
from .models import (
    Consultation,
    FollowUp,
    GuidanceQuota,
    LimitLift,
    Mentor,
    Note,
    Referral,
    Slot,
    SlotKind,
    SlotPattern,
    Station,
)


def guidance_transaction():
    """``atomic()`` with bounded lock waits; a lock timeout becomes GuidanceError("busy")."""
    return bounded_atomic(lambda: GuidanceError("busy"))


# --- stations, mentors, slots, booking, referrals, limits --------
#
# Limits per family are held by the database: one conditional upsert per tally
# (GuidanceQuota: ``open:<station>:<family>`` and ``term:<station>:<family>:<term>``)
# in the booking's transaction, after the slot's offering is locked. Every writer
# locks the offering first and the tallies after it (booking, cancellation, marking,
# a slot cancelled), so two writers never wait on each other in a circle.

NEED_FIELD = "need"
SLOT_MINUTES_MIN, SLOT_MINUTES_MAX = 10, 480
SMALL_GROUP_MAX = 20
STATION_FIELDS = ("name", "description", "open_bookings_max", "term_bookings_max", "is_active")
MENTOR_FIELDS = (
    "name",
    "title",
    "areas",
    "audiences",
    "stages",
    "modes",
    "bio",
    "is_active",
    "is_invented",
)
REFERRAL_MESSAGE_MAX = Referral._meta.get_field("message").max_length


def _whole_number(value) -> int | None:
    """A number field (minutes, places, weekday, limits; 0 included), or None.
    Ids are read with members.formatting.id_or_none."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _text(value, *, field: str, limit: int, required_code: str | None = None) -> str:
    text = str(value or "").strip()
    if required_code and not text:
        raise GuidanceError(required_code, field=field)
    if len(text) > limit:
        raise GuidanceError("text_too_long", field=field, n=limit)
    return text


def _choices(values, allowed, *, field: str, code: str, required: bool = True) -> list[str]:
    if isinstance(values, str):
        values = [values]
    chosen = [str(v) for v in (values or ())]
    if (required and not chosen) or any(v not in allowed for v in chosen):
        raise GuidanceError(code, field=field)
    return list(dict.fromkeys(chosen))  # unique, in the order given


def _url(value, *, field: str) -> str:
    url = str(value or "").strip()
    if url and not re.match(r"^https?://[^\s]+$", url):
        raise GuidanceError("url_invalid", field=field)
    if len(url) > 200:
        raise GuidanceError("text_too_long", field=field, n=200)
    return url


def _station_for_manager(user, station_id) -> Station:
    """The station if ``user`` manages it (``user=None``: the system, e.g. the demo)."""
    stations = Station.objects.all() if user is None else selectors.stations_managed_by(user)
    station = stations.filter(pk=id_or_none(station_id)).first()
    if station is None:
        raise GuidanceError("station_missing")
    return station


def _mentor_for_slots(user, mentor_id) -> Mentor:
    """A mentor whose slots ``user`` may publish or cancel: the mentor themself,
    the station's chief mentor, its managers (coordinators of its unit)."""
    mentor = (
        Mentor.objects.select_related("station", "station__unit")
        .filter(pk=id_or_none(mentor_id), is_active=True)
        .first()
    )
    if mentor is None:
        raise GuidanceError("mentor_missing")
    if user is not None and not (
        (mentor.user_id and mentor.user_id == user.pk)
        or selectors.can_manage_station(user, mentor.station)
    ):
        raise GuidanceError("mentor_missing")
    return mentor


def _is_case_mentor(user, consultation: Consultation) -> bool:
    """The case's mentors (its own, referred ones) and the station's chief mentor."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.pk in selectors._case_mentor_user_ids(consultation) or selectors.is_chief_of(
        user, consultation.station_id
    )


def _station_fields_clean(fields: dict) -> dict:
    unknown = set(fields) - set(STATION_FIELDS)
    if unknown:
        raise TypeError(f"a station has no fields {sorted(unknown)}")
    for name in ("open_bookings_max", "term_bookings_max"):
        if name in fields:
            number = _whole_number(fields[name])
            if number is None or not 1 <= number <= 99:
                raise GuidanceError("limit_invalid", field=name)
            fields[name] = number
    if "name" in fields:
        fields["name"] = _text(
            fields["name"], field="name", limit=120, required_code="name_required"
        )
    if "description" in fields:
        fields["description"] = _text(fields["description"], field="description", limit=2000)
    if "is_active" in fields:
        fields["is_active"] = bool(fields["is_active"])
    return fields


def station_create(*, user, unit_id, **fields) -> Station:
    """Set up a station at a unit (one per unit): administrators only, a district
    administrator at a unit of their district (``user=None``: the system, e.g. the
    demo). The name is required; the limits default to the model's. A second
    station at the same unit, even by two simultaneous first calls, is refused with
    ``station_exists``."""
    if user is not None and not is_district_admin(user):
        raise GuidanceError("not_allowed")
    # A gate on scoped rows: a district administrator reaches their district's units
    # only; another district's unit is as unknown as a missing one.
    units = MemberUnit.objects.all()
    if user is not None and not sees_every_district(user):
        units = units_changeable_by(user)
    unit = units.filter(pk=id_or_none(unit_id)).first()
    if unit is None:
        raise GuidanceError("unit_missing", field="unit")
    fields = _station_fields_clean({"name": fields.pop("name", ""), **fields})
    try:
        with transaction.atomic():
            station = Station.objects.create(unit=unit, **fields)
    except IntegrityError as error:
        raise GuidanceError("station_exists", field="unit") from error
    audit_log_record(actor=user, action="guidance.station.create", target=station)
    return station


def station_update(*, user, station_id, **fields) -> Station:
    """Change a station's name, description, limits (each ≥ 1) or whether it is in use."""
    fields = _station_fields_clean(fields)
    station = _station_for_manager(user, station_id)
    changed = sorted(n for n, v in fields.items() if getattr(station, n) != v)
    if changed:
        for name in changed:
            setattr(station, name, fields[name])
        station.save(update_fields=changed)
        audit_log_record(
            actor=user, action="guidance.station.update", target=station, data={"fields": changed}
        )
    return station


def _mentor_fields_clean(fields: dict) -> dict:
    cleaned = {}
    if "name" in fields:
        cleaned["name"] = _text(
            fields["name"], field="name", limit=50, required_code="name_required"
        )
    if "title" in fields:
        cleaned["title"] = _text(fields["title"], field="title", limit=80)
    if "bio" in fields:
        cleaned["bio"] = _text(fields["bio"], field="bio", limit=500)
    if "areas" in fields:
        cleaned["areas"] = _choices(
            fields["areas"], GuidanceArea.values, field="areas", code="areas_invalid"
        )
    if "audiences" in fields:
        cleaned["audiences"] = _choices(
            fields["audiences"], Mentor.Audience.values, field="audiences", code="audiences_invalid"
        )
    if "modes" in fields:
        cleaned["modes"] = _choices(
            fields["modes"], Mentor.Mode.values, field="modes", code="modes_invalid"
        )
    if "stages" in fields:
        cleaned["stages"] = _choices(
            fields["stages"],
            SchoolStage.values,
            field="stages",
            code="stages_invalid",
            required=False,
        )
    for flag in ("is_active", "is_invented", "is_chief"):
        if flag in fields:
            cleaned[flag] = bool(fields[flag])
    return cleaned


def mentor_create(
    *,
    user,
    station_id,
    name,
    areas,
    audiences,
    modes,
    title="",
    stages=(),
    bio="",
    login_user_id=None,
    instructor_id=None,
    is_chief=False,
    is_invented=False,
) -> Mentor:
    """A mentor of a station (its managers; ``user=None``: the system). The public
    profile is name, title, areas, audiences, stages, modes and bio; never a phone."""
    station = _station_for_manager(user, station_id)
    fields = _mentor_fields_clean(
        {
            "name": name,
            "title": title,
            "bio": bio,
            "areas": areas,
            "audiences": audiences,
            "modes": modes,
            "stages": stages,
            "is_chief": is_chief,
            "is_invented": is_invented,
        }
    )
    login = None
    if login_user_id not in (None, ""):
        login = get_user_model().objects.filter(pk=id_or_none(login_user_id)).first()
        if login is None:
            raise GuidanceError("login_invalid", field="login_user_id")
    instructor = None
    if instructor_id not in (None, ""):
        instructor = Instructor.objects.filter(pk=id_or_none(instructor_id)).first()
        if instructor is None:
            raise GuidanceError("instructor_invalid", field="instructor_id")
    try:
        with guidance_transaction():
            mentor = Mentor.objects.create(
                station=station, user=login, instructor=instructor, **fields
            )
            audit_log_record(
                actor=user,
                action="guidance.mentor.create",
                target=mentor,
                data={"station": station.pk, "is_chief": mentor.is_chief},
            )
    except IntegrityError as error:
        # The two partial unique keys: one chief per station, one mentor per login.
        if fields["is_chief"] and Mentor.objects.filter(station=station, is_chief=True).exists():
            raise GuidanceError("chief_exists", field="is_chief") from error
        raise GuidanceError("login_taken", field="login_user_id") from error
    return mentor


def mentor_update(*, user, mentor_id, **fields) -> Mentor:
    """Change a mentor's profile (the station's managers; the mentor themself may
    change title and bio)."""
    unknown = set(fields) - set(MENTOR_FIELDS)
    if unknown:
        raise TypeError(f"mentor_update cannot change {sorted(unknown)}")
    mentor = Mentor.objects.select_related("station").filter(pk=id_or_none(mentor_id)).first()
    if mentor is None:
        raise GuidanceError("mentor_missing")
    manages = user is None or selectors.can_manage_station(user, mentor.station)
    is_self = user is not None and mentor.user_id == user.pk
    if not manages and not (is_self and set(fields) <= {"title", "bio"}):
        raise GuidanceError("mentor_missing" if not is_self else "not_allowed")
    cleaned = _mentor_fields_clean(fields)
    changed = sorted(n for n, v in cleaned.items() if getattr(mentor, n) != v)
    if changed:
        for name in changed:
            setattr(mentor, name, cleaned[name])
        mentor.save(update_fields=changed)
        audit_log_record(
            actor=user, action="guidance.mentor.update", target=mentor, data={"fields": changed}
        )
    return mentor


def slot_title(mentor: Mentor) -> str:
    """「心理健康辅导 · 林老师」: what every message and calendar entry of the slot
    says — the mentor's areas and name, never anything about a family."""
    return f"{'、'.join(mentor.area_labels())} · {mentor.name}"[:200]


def _slot_values_clean(*, mentor: Mentor, minutes, kind, capacity, mode, venue, online_url):
    minutes = _whole_number(minutes)
    if minutes is None or not SLOT_MINUTES_MIN <= minutes <= SLOT_MINUTES_MAX:
        raise GuidanceError(
            "minutes_invalid", field="minutes", low=SLOT_MINUTES_MIN, high=SLOT_MINUTES_MAX
        )
    if kind not in SlotKind.values:
        raise GuidanceError("kind_invalid", field="kind")
    capacity = _whole_number(capacity)
    top = 1 if kind == SlotKind.ONE_TO_ONE else SMALL_GROUP_MAX
    if capacity is None or not 1 <= capacity <= top:
        raise GuidanceError("capacity_invalid", field="capacity", n=top)
    if mode not in Mentor.Mode.values:
        raise GuidanceError("mode_invalid", field="mode")
    venue = _text(venue, field="venue", limit=200)
    online_url = _url(online_url, field="online_url")
    if mode == Mentor.Mode.IN_PERSON and not venue:
        raise GuidanceError("venue_required", field="venue")
    if mode == Mentor.Mode.ONLINE and not online_url:
        raise GuidanceError("online_url_required", field="online_url")
    return {
        "minutes": minutes,
        "kind": kind,
        "capacity": capacity,
        "mode": mode,
        "venue": venue,
        "online_url": online_url,
    }


def _aware(value, *, field: str) -> dt.datetime:
    if isinstance(value, str):
        value = parse_datetime(value.strip()) if value.strip() else None
    if not isinstance(value, dt.datetime):
        raise GuidanceError("starts_at_invalid", field=field)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _slot_make(*, mentor: Mentor, starts_at, values: dict, pattern=None, created_by=None) -> Slot:
    """The slot and its offering (kind consultation, at the station's unit). Call
    inside a transaction."""
    offering = booking_services.offering_create(
        kind=Offering.Kind.CONSULTATION,
        title=slot_title(mentor),
        unit=mentor.station.unit,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=values["minutes"]),
        capacity=values["capacity"],
        created_by=created_by,
    )
    slot = Slot.objects.create(
        mentor=mentor,
        offering=offering,
        pattern=pattern,
        occurs_on=timezone.localtime(starts_at).date(),
        kind=values["kind"],
        mode=values["mode"],
        venue=values["venue"],
        online_url=values["online_url"],
    )
    return slot


def slot_create(
    *, user, mentor_id, starts_at, minutes, kind, capacity, mode, venue="", online_url=""
) -> Slot:
    """One consultation slot of a mentor (the mentor, the chief mentor, the station's
    managers); its places are a bookings.Offering."""
    mentor = _mentor_for_slots(user, mentor_id)
    starts_at = _aware(starts_at, field="starts_at")
    if starts_at <= timezone.now():
        raise GuidanceError("starts_at_past", field="starts_at")
    values = _slot_values_clean(
        mentor=mentor,
        minutes=minutes,
        kind=kind,
        capacity=capacity,
        mode=mode,
        venue=venue,
        online_url=online_url,
    )
    with guidance_transaction():
        slot = _slot_make(mentor=mentor, starts_at=starts_at, values=values, created_by=user)
        audit_log_record(
            actor=user,
            action="guidance.slot.create",
            target=slot,
            data={"mentor": mentor.pk, "offering": slot.offering_id},
        )
    return slot


def _date(value, *, field: str, required: bool = True) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, dt.date):
        return value
    parsed = parse_date(str(value).strip()) if value not in (None, "") else None
    if parsed is None and (required or value not in (None, "")):
        raise GuidanceError("date_invalid", field=field)
    return parsed


def _time(value, *, field: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    parsed = parse_time(str(value or "").strip()) if value else None
    if parsed is None:
        raise GuidanceError("time_invalid", field=field)
    return parsed


def _pattern_slots_make(pattern: SlotPattern, *, now) -> int:
    """The pattern's missing slots from today to GUIDANCE_PATTERN_WEEKS ahead. The
    pattern row is locked first, so two passes take turns; a date that has its
    slot is skipped (and the unique (pattern, occurs_on) key is the last word)."""
    SlotPattern.objects.select_for_update(of=("self",)).filter(pk=pattern.pk).values_list(
        "pk", flat=True
    ).first()
    today = timezone.localtime(now).date()
    start = max(pattern.first_date, today)
    end = today + dt.timedelta(weeks=settings.GUIDANCE_PATTERN_WEEKS)
    if pattern.last_date is not None:
        end = min(end, pattern.last_date)
    have = set(Slot.objects.filter(pattern=pattern).values_list("occurs_on", flat=True))
    values = {
        "minutes": pattern.minutes,
        "kind": pattern.kind,
        "capacity": pattern.capacity,
        "mode": pattern.mode,
        "venue": pattern.venue,
        "online_url": pattern.online_url,
    }
    made = 0
    day = start + dt.timedelta(days=(pattern.weekday - start.weekday()) % 7)
    zone = timezone.get_current_timezone()
    while day <= end:
        starts_at = dt.datetime.combine(day, pattern.starts_time, tzinfo=zone)
        if day not in have and starts_at > now:
            _slot_make(
                mentor=pattern.mentor,
                starts_at=starts_at,
                values=values,
                pattern=pattern,
                created_by=pattern.created_by,
            )
            made += 1
        day += dt.timedelta(days=7)
    return made


def pattern_create(
    *,
    user,
    mentor_id,
    weekday,
    starts_time,
    minutes,
    kind,
    capacity,
    mode,
    venue="",
    online_url="",
    first_date,
    last_date=None,
) -> SlotPattern:
    """A weekly pattern; its slots for the next GUIDANCE_PATTERN_WEEKS weeks are
    made at once (and every night by ``patterns_materialise``)."""
    mentor = _mentor_for_slots(user, mentor_id)
    weekday = _whole_number(weekday)
    if weekday is None or not 0 <= weekday <= 6:
        raise GuidanceError("weekday_invalid", field="weekday")
    starts_time = _time(starts_time, field="starts_time")
    first_date = _date(first_date, field="first_date")
    last_date = _date(last_date, field="last_date", required=False)
    if last_date is not None and last_date < first_date:
        raise GuidanceError("last_date_invalid", field="last_date")
    values = _slot_values_clean(
        mentor=mentor,
        minutes=minutes,
        kind=kind,
        capacity=capacity,
        mode=mode,
        venue=venue,
        online_url=online_url,
    )
    with guidance_transaction():
        pattern = SlotPattern.objects.create(
            mentor=mentor,
            weekday=weekday,
            starts_time=starts_time,
            first_date=first_date,
            last_date=last_date,
            created_by=user,
            **values,
        )
        made = _pattern_slots_make(pattern, now=timezone.now())
        audit_log_record(
            actor=user,
            action="guidance.pattern.create",
            target=pattern,
            data={"mentor": mentor.pk, "slots": made},
        )
    return pattern


def patterns_materialise(*, now=None) -> int:
    """Every active pattern of an active mentor at an active station gets its slots
    up to GUIDANCE_PATTERN_WEEKS ahead; returns how many slots were made. Idempotent
    (one slot per pattern and date); each pattern in its own transaction, so one
    busy pattern does not hold back the others."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    patterns = (
        SlotPattern.objects.select_related("mentor__station__unit", "created_by")
        .filter(is_active=True, mentor__is_active=True, mentor__station__is_active=True)
        .filter(Q(last_date__isnull=True) | Q(last_date__gte=today))
        .order_by("pk")
    )
    made = 0
    for pattern in patterns.iterator(chunk_size=200):
        try:
            with guidance_transaction():
                made += _pattern_slots_make(pattern, now=now)
        except GuidanceError:
            continue  # busy: the next pass makes them
    return made


def slot_cancel(*, user, slot_id) -> Slot:
    """Cancel a slot (the mentor, the chief mentor, the station's managers): its
    offering is cancelled through bookings (families told there), and its open
    consultations are cancelled with both tallies given back — the station called
    it off, so it does not count against the family."""
    slot = Slot.objects.select_related("mentor").filter(pk=id_or_none(slot_id)).first()
    if slot is None:
        raise GuidanceError("slot_missing")
    _mentor_for_slots(user, slot.mentor_id)
    now = timezone.now()
    with guidance_transaction():
        booking_services.offering_cancel(offering_id=slot.offering_id, cancelled_by=user)
        consultations = Consultation.objects.select_for_update(of=("self",)).filter(
            slot=slot, status__in=Consultation.OPEN_STATUSES
        )
        for consultation in consultations:
            _open_consultation_release(consultation, status=Consultation.Status.CANCELLED, now=now)
            if consultation.referral_id is None and consultation.family_id:
                _open_key, term_key = _quota_keys(
                    consultation.station_id, consultation.family_id, consultation.term_id
                )
                _quota_release(term_key)
        audit_log_record(actor=user, action="guidance.slot.cancel", target=slot)
    return slot


def _quota_keys(station_id: int, family_id: int, term_id: int | None) -> tuple[str, str | None]:
    open_key = f"open:{station_id}:{family_id}"
    term_key = f"term:{station_id}:{family_id}:{term_id}" if term_id else None
    return open_key, term_key


def quota_limits(station: Station, family_id: int, term_id: int | None) -> tuple[int, int]:
    """The family's limits at the station now: the station's settings plus what the
    chief mentor lifted for this family. The open allowance spans terms, so it takes
    the lifts granted in the current term (limit_lift files them there); the term
    allowance takes the lifts of the slot's term ``term_id``."""
    current = term_current()
    current_id = current.pk if current else None
    lifts = LimitLift.objects.filter(station=station, family_id=family_id).aggregate(
        open=Coalesce(Sum("extra_open", filter=Q(term_id=current_id)), 0),
        term=Coalesce(Sum("extra_term", filter=Q(term_id=term_id)), 0),
    )
    return station.open_bookings_max + lifts["open"], station.term_bookings_max + lifts["term"]


def _quota_take(*, key: str, station: Station, family_id: int, limit: int) -> bool:
    """Raise the tally by one if it stays within ``limit``, in one statement: the
    row lock makes a second booking of the family wait and then re-check. The
    limit is the current one (settings + lifts), stored with the row."""
    table = _table(GuidanceQuota)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, station_id, family_id, used, max_used) "
            "VALUES (%s, %s, %s, 1, %s) "
            f"ON CONFLICT (key) DO UPDATE SET used = {table}.used + 1, max_used = EXCLUDED.max_used "
            f"WHERE {table}.used < EXCLUDED.max_used",
            [key, station.pk, family_id, limit],
        )
        return cursor.rowcount == 1


def _quota_release(key: str | None) -> None:
    if not key:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(GuidanceQuota)} SET used = used - 1 WHERE key = %s AND used > 0",
            [key],
        )


def _term_for(starts_at) -> Term | None:
    """The term a slot falls in (else the current term)."""
    day = timezone.localtime(starts_at).date()
    term = Term.objects.filter(starts_on__lte=day, ends_on__gte=day).order_by("-starts_on").first()
    return term or term_current()


def _is_teacher(user) -> bool:
    return is_staff_member(user)


def _booking_family(user, for_whom: str) -> Family:
    """The booker's family. A teacher without one (booking as a teacher) gets a
    family of their own (members.services.family_create_for_user), so the limits,
    receipts and reminders work for teachers as for parents."""
    family = family_for_user(user)
    if family is not None:
        return family
    if for_whom == Consultation.ForWhom.TEACHER and _is_teacher(user):
        try:
            family_create_for_user(user=user, relation=Guardian.Relation.OTHER)
        except MembersError:
            pass  # made at the same moment by another request
        user.__dict__.pop("_guardian_cache", None)
        family = family_for_user(user)
        if family is not None:
            return family
    raise GuidanceError("no_family")


def _open_consultation_release(consultation: Consultation, *, status: str, now) -> None:
    """Close an open consultation (held, missed, cancelled): its ``open`` tally goes
    back; the ``term`` one stays (it counts bookings made this term), except for a
    booking that came from a referral, which never raised either."""
    consultation.status = status
    update = ["status"]
    if status == Consultation.Status.CANCELLED:
        consultation.cancelled_at = now
        update.append("cancelled_at")
    if status == Consultation.Status.HELD:
        consultation.held_at = now
        update.append("held_at")
    consultation.save(update_fields=update)
    if consultation.referral_id is None and consultation.family_id:
        open_key, _term_key = _quota_keys(consultation.station_id, consultation.family_id, None)
        _quota_release(open_key)


def consultation_book(
    *, user, slot_id, area, for_whom, need, child_id=None, referral_id=None
) -> Consultation:
    """Book a slot: the one path for the web and the API.

    The family's limits at the station (at most N open, M this term; the chief
    mentor may lift them) are raised in the booking's transaction by one
    conditional upsert each, so no channel and no two simultaneous bookings get
    past them; a booking that answers an open referral of this family skips
    both. The need is sealed (members.sealing, purpose "guidance.need") and read
    only by the case's mentors (guidance.services.need_read). Booking rules
    (already booked, closed, a full slot's waiting list) are bookings': a
    BookingError passes through with its message."""
    if for_whom not in Consultation.ForWhom.values:
        raise GuidanceError("for_whom_invalid", field="for_whom")
    need = str(need or "").strip()
    if not need:
        raise GuidanceError("need_required", field=NEED_FIELD)
    if len(need) > settings.GUIDANCE_NEED_MAX_CHARS:
        raise GuidanceError("need_too_long", field=NEED_FIELD, n=settings.GUIDANCE_NEED_MAX_CHARS)
    slot = (
        Slot.objects.select_related("mentor", "mentor__station", "offering")
        .filter(
            pk=id_or_none(slot_id),
            mentor__is_active=True,
            mentor__station__is_active=True,
            offering__status=Offering.Status.OPEN,
        )
        .first()
    )
    if slot is None:
        raise GuidanceError("slot_missing")
    if for_whom == Consultation.ForWhom.TEACHER and not _is_teacher(user):
        raise GuidanceError("teacher_only", field="for_whom")
    family = _booking_family(user, for_whom)
    referral = None
    if referral_id not in (None, ""):
        referral = Referral.objects.filter(
            pk=id_or_none(referral_id),
            consultation__family=family,
            # A referral is the station's own decision: it opens that station's
            # slots, never another station's (nor skips another's limits).
            consultation__station_id=slot.mentor.station_id,
            status=Referral.Status.OPEN,
        ).first()
        if referral is None:
            raise GuidanceError("referral_missing")
        area = referral.to_area
        if referral.to_mentor_id and referral.to_mentor_id != slot.mentor_id:
            raise GuidanceError("referral_other_mentor")
    if area not in GuidanceArea.values:
        raise GuidanceError("area_invalid", field="area")
    if area not in slot.mentor.areas:
        raise GuidanceError("area_not_served", field="area")
    child = None
    if for_whom == Consultation.ForWhom.CHILD:
        if child_id in (None, ""):
            raise GuidanceError("child_required", field="child_id")
        child = Child.objects.filter(pk=id_or_none(child_id), family=family).first()
        if child is None:
            raise GuidanceError("child_invalid", field="child_id")
    guardian = guardian_for_user(user)
    station = slot.mentor.station
    term = _term_for(slot.offering.starts_at)
    sealed = seal(need, purpose="guidance.need")

    with guidance_transaction():
        # The offering first, the tallies after it: the order of every writer here.
        offerings_lock([slot.offering_id])
        if referral is not None:
            referral = Referral.objects.select_for_update(of=("self",)).get(pk=referral.pk)
            if referral.status != Referral.Status.OPEN:
                raise GuidanceError("referral_missing")
        else:
            open_max, term_max = quota_limits(station, family.pk, term.pk if term else None)
            open_key, term_key = _quota_keys(station.pk, family.pk, term.pk if term else None)
            if not _quota_take(key=open_key, station=station, family_id=family.pk, limit=open_max):
                raise GuidanceError("open_limit", n=open_max)
            if term_key and not _quota_take(
                key=term_key, station=station, family_id=family.pk, limit=term_max
            ):
                raise GuidanceError("term_limit", n=term_max)
        booking = booking_services.booking_create(
            offering_id=slot.offering_id,
            family=family,
            booked_by=user,
            guardian_ids=[] if child else [guardian.pk],
            child_ids=[child.pk] if child else [],
        )
        consultation = Consultation.objects.create(
            booking=booking,
            slot=slot,
            station=station,
            mentor=slot.mentor,
            term=term,
            family=family,
            booked_by=user,
            for_whom=for_whom,
            child=child,
            area=area,
            need_sealed=sealed,
            referral=referral,
            status=(
                Consultation.Status.BOOKED
                if booking.status == Booking.Status.CONFIRMED
                else Consultation.Status.WAITING
            ),
        )
        if referral is not None:
            referral.status = Referral.Status.BOOKED
            referral.save(update_fields=["status"])
        audit_log_record(
            actor=user,
            action="guidance.consultation.book",
            target=consultation,
            data={
                "slot": slot.pk,
                "area": area,
                "for_whom": for_whom,
                "status": consultation.status,
                "referral": referral.pk if referral else None,
            },
        )
    return consultation


def booking_closed(*, booking, cancelled_by=None) -> None:
    """A consultation's booking was cancelled, by whoever and through whichever path
    (this module, the bookings admin, a family deleted): the consultation is
    cancelled with it and its ``open`` tally released, in the same transaction
    (guidance.receivers, on bookings.signals.booking_cancelled)."""
    consultation = (
        Consultation.objects.select_for_update(of=("self",))
        .filter(booking_id=booking.pk, status__in=Consultation.OPEN_STATUSES)
        .first()
    )
    if consultation is not None:
        _open_consultation_release(
            consultation, status=Consultation.Status.CANCELLED, now=timezone.now()
        )


def bookings_confirmed(*, bookings) -> None:
    """Waiting consultations whose bookings were promoted are booked now."""
    Consultation.objects.filter(
        booking_id__in=[b.pk for b in bookings], status=Consultation.Status.WAITING
    ).update(status=Consultation.Status.BOOKED)


def _consultation_for_update(user, consultation_id) -> Consultation:
    consultation = (
        selectors.consultations_visible_to(user)
        .filter(pk=id_or_none(consultation_id))
        .select_related("station", "mentor", "slot__offering", "booking")
        .first()
    )
    if consultation is None:
        raise GuidanceError("consultation_missing")
    return consultation


def consultation_cancel(*, user, consultation_id) -> Consultation:
    """The family (until bookings' cancel deadline) or the case's mentor or chief
    mentor (any time before it is held) cancels; the ``open`` tally is released,
    the ``term`` one kept, the waiting list promoted, the family told (bookings)."""
    consultation = _consultation_for_update(user, consultation_id)
    if consultation.status not in Consultation.OPEN_STATUSES:
        raise GuidanceError("consultation_closed")
    as_family = selectors.is_family_of(user, consultation)
    if not as_family and not _is_case_mentor(user, consultation):
        raise GuidanceError("consultation_missing")
    with guidance_transaction():
        # bookings' cancellation sends booking_cancelled: booking_closed above
        # closes the consultation and releases the tally in this transaction.
        booking_services.booking_cancel(
            booking_id=consultation.booking_id,
            family=consultation.family if as_family else None,
            cancelled_by=user,
            force=not as_family,
        )
        audit_log_record(
            actor=user,
            action="guidance.consultation.cancel",
            target=consultation,
            data={"by": "family" if as_family else "mentor"},
        )
    consultation.refresh_from_db()
    return consultation


def consultation_mark(*, user, consultation_id, held: bool) -> Consultation:
    """The case's mentor or the chief mentor marks a booked consultation held (the
    booking present; then its satisfaction questionnaire) or missed (absent); the
    ``open`` tally goes back either way. Marking opens with bookings' attendance
    window (from shortly before the start)."""
    consultation = _consultation_for_update(user, consultation_id)
    if not _is_case_mentor(user, consultation):
        raise GuidanceError("consultation_missing")
    if consultation.status != Consultation.Status.BOOKED:
        raise GuidanceError("consultation_closed")
    with guidance_transaction():
        locked = Consultation.objects.select_for_update(of=("self",)).get(pk=consultation.pk)
        if locked.status != Consultation.Status.BOOKED:
            raise GuidanceError("consultation_closed")
        booking_services.booking_mark_attendance(
            booking_id=locked.booking_id, present=bool(held), marked_by=user
        )
        status = Consultation.Status.HELD if held else Consultation.Status.MISSED
        _open_consultation_release(locked, status=status, now=timezone.now())
        audit_log_record(
            actor=user, action="guidance.consultation.mark", target=locked, data={"status": status}
        )
        if held:
            satisfaction_invite(consultation=locked)
    return locked


def referral_create(*, user, consultation_id, to_area, to_mentor_id=None, message="") -> Referral:
    """The case's mentor or the chief mentor refers the case to another area (and
    mentor) of the station; the family is told and offered that area's slots, and
    booking one does not count against its limits. ``message`` is the mentor's
    words for the family, never a note."""
    consultation = _consultation_for_update(user, consultation_id)
    if not _is_case_mentor(user, consultation):
        raise GuidanceError("consultation_missing")
    if to_area not in GuidanceArea.values:
        raise GuidanceError("area_invalid", field="to_area")
    to_mentor = None
    if to_mentor_id not in (None, ""):
        to_mentor = Mentor.objects.filter(
            pk=id_or_none(to_mentor_id), station_id=consultation.station_id, is_active=True
        ).first()
        if to_mentor is None:
            raise GuidanceError("mentor_missing", field="to_mentor_id")
        if to_area not in to_mentor.areas:
            raise GuidanceError("area_not_served", field="to_mentor_id")
    message = _text(message, field="message", limit=REFERRAL_MESSAGE_MAX)
    area_label = GuidanceArea(to_area).label
    with guidance_transaction():
        referral = Referral.objects.create(
            consultation=consultation,
            to_area=to_area,
            to_mentor=to_mentor,
            message=message,
            created_by=user,
        )
        audit_log_record(
            actor=user,
            action="guidance.referral.create",
            target=referral,
            data={"to_area": to_area, "to_mentor": to_mentor.pk if to_mentor else None},
        )
        if consultation.family_id:
            if to_mentor is not None:
                path = reverse("guidance:mentor", args=[to_mentor.pk])
                lead = _("导师建议您预约「%(area)s」，由%(mentor)s接待。") % {
                    "area": area_label,
                    "mentor": to_mentor.name,
                }
            else:
                path = reverse("guidance:area", args=[consultation.station_id, to_area])
                lead = _("导师建议您预约「%(area)s」的咨询。") % {"area": area_label}
            lead += _("请打开链接选择时段，这次预约不占用家庭的预约次数。")
            if message:
                lead += _("导师的话：%(message)s") % {"message": message}
            notice_send(
                key=f"guidance.referral:{referral.pk}",
                topic="guidance.referral",
                subject=_("导师为您推荐了「%(area)s」咨询") % {"area": area_label},
                lead=lead,
                family_ids=[consultation.family_id],
                path=f"{path}?referral={referral.pk}",
                unit=consultation.station.unit_id,
            )
    return referral


def limit_lift(*, user, station_id, family_id, extra_open=0, extra_term=0, reason="") -> LimitLift:
    """The station's chief mentor lifts a family's limits for the current term
    (audit-logged); the family's current tallies take the new limits at once."""
    station = Station.objects.filter(pk=id_or_none(station_id)).first()
    if station is None or not selectors.is_chief_of(user, station):
        raise GuidanceError("not_allowed")
    family = Family.objects.filter(pk=id_or_none(family_id)).first()
    if family is None or not Consultation.objects.filter(station=station, family=family).exists():
        raise GuidanceError("family_missing")
    extra_open, extra_term = _whole_number(extra_open), _whole_number(extra_term)
    if extra_open is None or not 0 <= extra_open <= 20:
        raise GuidanceError("lift_invalid", field="extra_open")
    if extra_term is None or not 0 <= extra_term <= 20:
        raise GuidanceError("lift_invalid", field="extra_term")
    if not extra_open and not extra_term:
        raise GuidanceError("lift_empty", field="extra_open")
    reason = _text(reason, field="reason", limit=200)
    term = term_current()
    if term is None:
        raise GuidanceError("no_term")
    with guidance_transaction():
        lift = LimitLift.objects.create(
            station=station,
            family=family,
            term=term,
            extra_open=extra_open,
            extra_term=extra_term,
            reason=reason,
            granted_by=user,
        )
        open_key, term_key = _quota_keys(station.pk, family.pk, term.pk)
        table = _table(GuidanceQuota)
        with connection.cursor() as cursor:
            for key, extra in ((open_key, extra_open), (term_key, extra_term)):
                if extra:
                    cursor.execute(
                        f"UPDATE {table} SET max_used = max_used + %s WHERE key = %s",
                        [extra, key],
                    )
        audit_log_record(
            actor=user,
            action="guidance.limit.lift",
            target=lift,
            data={"family": family.pk, "extra_open": extra_open, "extra_term": extra_term},
        )
    return lift


# --- notes, needs, follow-ups, satisfaction ----------------------
#
# Three levels of notes (guidance.models.Note): the shared summary in clear, the
# private and restricted notes sealed (members.sealing, purpose "guidance.note").
# Who reads and writes which level is guidance.selectors.note_readable /
# note_levels_writable, nothing else. Every sealed text that leaves the database
# in clear (a note, a booking's need) leaves through note_read / notes_panel /
# need_read, each writing an audit row. No message of this section carries a note
# or a need: the family is told that a summary changed, never what it says.

NOTE_PURPOSE = "guidance.note"
NEED_PURPOSE = "guidance.need"
FOLLOWUP_MESSAGE_MAX = FollowUp._meta.get_field("message").max_length
# Follow-ups sent per transaction by followups_send: a pass every 5 minutes rarely
# meets more than a handful; 200 keeps a backlog after an outage in short batches.
FOLLOWUP_BATCH = 200
SATISFACTION_TEMPLATE = "指导咨询满意度"
logger = logging.getLogger(__name__)


def _consultation_path(consultation_id: int) -> str:
    """The consultation's page, else the station's home."""
    try:
        return reverse("guidance:consultation", args=[consultation_id])
    except NoReverseMatch:
        return "/guidance/"


def _note_text(note: Note) -> str:
    if note.level == Note.Level.SUMMARY:
        return note.body
    return unseal(note.body_sealed, purpose=NOTE_PURPOSE)


def _note_read_logged(user, note: Note) -> str:
    text = _note_text(note)
    if note.level in Note.SEALED_LEVELS:
        audit_log_record(
            actor=user,
            action="guidance.note.read",
            target=note,
            data={"consultation": note.consultation_id, "level": note.level},
        )
    return text


def note_read(*, user, note) -> str:
    """A note's text for someone note_readable lets read it; a sealed level leaves
    an audit row (``guidance.note.read``). Anyone else: GuidanceError("note_missing")."""
    if not isinstance(note, Note):
        note = Note.objects.select_related("consultation").filter(pk=id_or_none(note)).first()
    if note is None or not selectors.note_readable(user, note):
        raise GuidanceError("note_missing")
    return _note_read_logged(user, note)


def notes_panel(*, user, consultation) -> dict:
    """The context of templates/guidance/_notes.html for this person on this
    consultation: the notes they may read (sealed ones unsealed here, each read
    audit-logged), the levels they may write and the form. A family sees the
    summary only; a coordinator nothing."""
    from .note_forms import FollowUpForm, NoteForm

    notes = list(
        Note.objects.filter(consultation=consultation)
        .select_related("author")
        .order_by("created_at", "pk")
    )
    readable = []
    for note in notes:
        note.consultation = consultation  # the rules read it; no query per note
        if not selectors.note_readable(user, note):
            continue
        readable.append(
            {
                "note": note,
                "level": note.level,
                "level_label": note.get_level_display(),
                "is_sealed": note.level in Note.SEALED_LEVELS,
                "author": getattr(note.author, "display_name", "") or _("导师"),
                "created_at": note.created_at,
                "updated_at": note.updated_at,
                "text": _note_read_logged(user, note),
                "editable": note.author_id == user.pk or note.level == Note.Level.SUMMARY,
            }
        )
    levels = selectors.note_levels_writable(user, consultation)
    summary = next((n for n in notes if n.level == Note.Level.SUMMARY), None)
    form = None
    if levels:
        form = NoteForm(levels=levels, consultation_id=consultation.pk)
    is_case_mentor = _is_case_mentor(user, consultation)
    return {
        "consultation": consultation,
        "notes": readable,
        # the follow-ups are the mentors' (the family gets the reminder itself)
        "followups": list(consultation.followups.order_by("due_at", "pk"))
        if is_case_mentor
        else [],
        "followup_form": FollowUpForm() if is_case_mentor and consultation.family_id else None,
        "writable_levels": [(v, Note.Level(v).label) for v in levels],
        "note_form": form,
        "has_summary": summary is not None,
        "is_family": selectors.is_family_of(user, consultation),
    }


def _note_body_clean(body) -> str:
    text = str(body or "").strip()
    if not text:
        raise GuidanceError("note_required", field="body")
    if len(text) > settings.GUIDANCE_NOTE_MAX_CHARS:
        raise GuidanceError("note_too_long", field="body", n=settings.GUIDANCE_NOTE_MAX_CHARS)
    return text


def note_write(*, user, consultation_id, level, body, note_id=None) -> Note:
    """Write or edit a note. The case's mentors and the chief mentor write every
    level (note_levels_writable). The summary is one per consultation, edited in
    place, and kept in clear (the family reads it); private and restricted notes
    are sealed, and only their author edits them. A new or changed summary tells
    the family that it changed — never what it says (``guidance.summary:<note>:<n>``,
    n the summary's revision)."""
    consultation = (
        selectors.consultations_visible_to(user)
        .filter(pk=id_or_none(consultation_id))
        .select_related("station")
        .first()
    )
    if consultation is None:
        raise GuidanceError("consultation_missing")
    levels = selectors.note_levels_writable(user, consultation)
    if not levels:
        raise GuidanceError("not_allowed")
    if level not in Note.Level.values or level not in levels:
        raise GuidanceError("note_level_invalid", field="level")
    text = _note_body_clean(body)
    with guidance_transaction():
        # One writer of the consultation's notes at a time: the summary stays one row.
        Consultation.objects.select_for_update(of=("self",)).filter(pk=consultation.pk).first()
        note = None
        if level == Note.Level.SUMMARY:
            note = Note.objects.filter(consultation=consultation, level=level).first()
        elif note_id not in (None, ""):
            note = Note.objects.filter(
                pk=id_or_none(note_id), consultation=consultation, level=level
            ).first()
            if note is None or note.author_id != user.pk:
                raise GuidanceError("note_missing")
        created = note is None
        if created:
            note = Note(consultation=consultation, level=level, author=user)
        elif level == Note.Level.SUMMARY and note.body == text:
            return note  # nothing changed: nobody is told again
        if level == Note.Level.SUMMARY:
            note.body, note.body_sealed = text, ""
        else:
            note.body, note.body_sealed = "", seal(text, purpose=NOTE_PURPOSE)
        note.save()
        audit_log_record(
            actor=user,
            action="guidance.note.write",
            target=note,
            data={"consultation": consultation.pk, "level": level, "created": created},
        )
        if level == Note.Level.SUMMARY and consultation.family_id:
            revision = AuditLog.objects.filter(
                action="guidance.note.write",
                target_type=Note._meta.label,
                target_id=str(note.pk),
            ).count()
            notice_send(
                key=f"guidance.summary:{note.pk}:{revision}",
                topic="guidance.summary",
                subject=_("导师已更新咨询摘要"),
                lead=_("导师已更新咨询摘要，请登录查看。"),
                family_ids=[consultation.family_id],
                path=_consultation_path(consultation.pk),
                unit=consultation.station.unit_id,
            )
    return note


def need_read(*, user, consultation) -> str | None:
    """The booking's need in clear for the case's mentors and the chief mentor
    (each read leaves a ``guidance.need.read`` audit row); None for anyone else."""
    if not _is_case_mentor(user, consultation):
        return None
    need = unseal(consultation.need_sealed, purpose=NEED_PURPOSE)
    audit_log_record(
        actor=user,
        action="guidance.need.read",
        target=consultation,
        data={"consultation": consultation.pk},
    )
    return need


def _followup_for_change(user, followup_id) -> FollowUp:
    followup = (
        FollowUp.objects.select_related("consultation", "consultation__mentor")
        .filter(pk=id_or_none(followup_id))
        .first()
    )
    if followup is None or not _is_case_mentor(user, followup.consultation):
        raise GuidanceError("followup_missing")
    return followup


def followup_schedule(*, user, consultation_id, due_at, message="") -> FollowUp:
    """The case's mentor or the chief mentor schedules a reminder for the family
    at ``due_at`` (sent by followups_send). ``message`` is what the family reads:
    the mentor's words for them, never a note."""
    consultation = _consultation_for_update(user, consultation_id)
    if not _is_case_mentor(user, consultation):
        raise GuidanceError("consultation_missing")
    if not consultation.family_id or consultation.status == Consultation.Status.CANCELLED:
        raise GuidanceError("consultation_closed")
    try:
        due = _aware(due_at, field="due_at")
    except GuidanceError as error:
        raise GuidanceError("due_at_invalid", field="due_at") from error
    if due <= timezone.now():
        raise GuidanceError("due_at_past", field="due_at")
    message = _text(message, field="message", limit=FOLLOWUP_MESSAGE_MAX)
    with guidance_transaction():
        followup = FollowUp.objects.create(
            consultation=consultation, due_at=due, message=message, created_by=user
        )
        audit_log_record(
            actor=user,
            action="guidance.followup.schedule",
            target=followup,
            data={"consultation": consultation.pk, "due_at": due.isoformat()},
        )
    return followup


def followup_cancel(*, user, followup_id) -> FollowUp:
    """Cancel a follow-up not yet sent (the case's mentors, the chief mentor)."""
    followup = _followup_for_change(user, followup_id)
    with guidance_transaction():
        changed = FollowUp.objects.filter(pk=followup.pk, status=FollowUp.Status.SCHEDULED).update(
            status=FollowUp.Status.CANCELLED
        )
        if not changed:
            raise GuidanceError("followup_closed")
        audit_log_record(actor=user, action="guidance.followup.cancel", target=followup)
    followup.refresh_from_db()
    return followup


def followup_done(*, user, followup_id) -> FollowUp:
    """The mentor has followed the family up (before or after the reminder went out)."""
    followup = _followup_for_change(user, followup_id)
    with guidance_transaction():
        changed = FollowUp.objects.filter(
            pk=followup.pk, status__in=[FollowUp.Status.SCHEDULED, FollowUp.Status.SENT]
        ).update(status=FollowUp.Status.DONE, done_at=timezone.now())
        if not changed:
            raise GuidanceError("followup_closed")
        audit_log_record(actor=user, action="guidance.followup.done", target=followup)
    followup.refresh_from_db()
    return followup


def followups_send(*, now=None) -> int:
    """Send the follow-ups that are due (the beat, every 5 minutes): each through
    the outbox once (key ``guidance.followup:<id>``), marked sent in the same
    transaction; rows are claimed with SKIP LOCKED, so two passes share the work.
    The reminder names the area, the mentor and the mentor's message, never a
    note or the need. Returns how many were sent."""
    now = now or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                FollowUp.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(status=FollowUp.Status.SCHEDULED, due_at__lte=now)
                .select_related("consultation", "consultation__mentor", "consultation__station")
                .order_by("due_at", "pk")[:FOLLOWUP_BATCH]
            )
            for followup in batch:
                consultation = followup.consultation
                if consultation.family_id:
                    lead = _("%(mentor)s想了解「%(area)s」咨询之后的情况。") % {
                        "mentor": consultation.mentor.name,
                        "area": consultation.get_area_display(),
                    }
                    if followup.message:
                        lead += _("导师的话：%(message)s") % {"message": followup.message}
                    notice_send(
                        key=f"guidance.followup:{followup.pk}",
                        topic="guidance.followup",
                        subject=_("成长指导回访提醒"),
                        lead=lead,
                        family_ids=[consultation.family_id],
                        path=_consultation_path(consultation.pk),
                        unit=consultation.station.unit_id,
                        now=now,
                    )
                followup.status, followup.sent_at = FollowUp.Status.SENT, now
                followup.save(update_fields=["status", "sent_at"])
            sent += len(batch)
        if len(batch) < FOLLOWUP_BATCH:
            return sent


SATISFACTION_QUESTIONS = [
    {
        "kind": "rating",
        "label": "您对这次咨询的总体满意度",
        "measure": "satisfaction",
    },
    {"kind": "rating", "label": "导师是否耐心倾听、理解您的情况"},
    {
        "kind": "single",
        "label": "这次咨询对您有帮助吗",
        "options": ["很有帮助", "有一些帮助", "帮助不大"],
    },
    {"kind": "long_text", "label": "您还有什么建议（选填）", "required": False},
]


def satisfaction_invite(*, consultation, now=None) -> None:
    """After a consultation is marked held: the published satisfaction survey of
    its slot's offering (scope consultation) from the district template
    「指导咨询满意度」 — made the first time by surveys.services
    .consultation_survey_ensure (get-or-create, no migration). Invitations go out
    through surveys' own path: its sweep invites the families marked present once
    the slot has ended (+ the invitation delay), through the outbox."""
    from surveys.errors import SurveyError
    from surveys.services import consultation_survey_ensure

    try:
        consultation_survey_ensure(
            offering_id=consultation.slot.offering_id,
            template_name=SATISFACTION_TEMPLATE,
            description=_("成长指导工作站每次咨询后的简短满意度问卷（系统自动创建）。"),
            questions=SATISFACTION_QUESTIONS,
        )
    except SurveyError as error:
        # No term to file it under (the district has not set one): the consultation
        # is still marked held; the questionnaire is what is missed, and logged.
        logger.warning(
            "satisfaction survey of consultation %s not made: %s", consultation.pk, error.code
        )
