"""Writes for the volunteer corps (专家—教研—讲师): applications and their
decisions, service hours recorded from the portal's records, manual entries
and their verification. Views, the admin, tasks and the demo call these.

Who decides: the coordinators of the application's centre (and of units above
it), asked through ``members.access.can_change_unit``. Every message goes
through ``events.services.notice_send`` (a unique key: the applicant is told
once, whatever double click or retry).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.locking import bounded_atomic
from courses.models import Course, CourseSession
from events.models import Event
from events.services import notice_send
from guidance import services as guidance_services
from guidance.models import Consultation, Mentor, Slot, Station
from members import access
from members.models import MemberUnit, RoleAssignment
from members.registry import role_assign
from members.services import audit_log_record
from parent_school.models import GuidanceArea, Instructor, ParentSchool, Term
from parent_school.selectors import term_window

from .errors import VolunteerError
from .models import ServiceHour, VolunteerApplication

Role = RoleAssignment.Role
MAX_NAME, MAX_BACKGROUND, MAX_EXPERTISE, MAX_AVAILABILITY = 50, 1000, 200, 200
MAX_NOTE, MAX_DESCRIPTION = 300, 200


def volunteer_transaction():
    """A transaction whose lock waits are bounded; a timeout is "busy, try again"."""
    return bounded_atomic(lambda: VolunteerError("busy"))


def _text(value, *, code: str, field: str, limit: int, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise VolunteerError(f"{code}_required", field=field)
    if len(text) > limit:
        raise VolunteerError(f"{code}_too_long", field=field, n=limit)
    return text


def _areas(areas) -> list[str]:
    values = [str(a) for a in (areas or [])]
    if not values:
        raise VolunteerError("areas_required", field="areas")
    if not set(values) <= set(GuidanceArea.values):
        raise VolunteerError("areas_invalid", field="areas")
    # Kept in the order of the five areas, once each.
    return [a for a in GuidanceArea.values if a in values]


def centres_open_for_applications():
    """Units one may apply to: the active guidance centres and stations."""
    return MemberUnit.objects.filter(kind=MemberUnit.Kind.GUIDANCE_CENTRE, is_active=True).order_by(
        "name", "pk"
    )


def _mine_path() -> str:
    return reverse("volunteers:mine")


# --- applications -------------------------------------------------------------------


def application_submit(
    *, user, centre_id, name, background, expertise, areas, availability
) -> VolunteerApplication:
    """Anyone signed in applies to a centre; its coordinators are told."""
    if not getattr(user, "is_authenticated", False):
        raise VolunteerError("not_allowed")
    centre = centres_open_for_applications().filter(pk=centre_id).first() if centre_id else None
    if centre is None:
        raise VolunteerError("centre_missing", field="centre")
    fields = {
        "name": _text(name, code="name", field="name", limit=MAX_NAME),
        "background": _text(
            background, code="background", field="background", limit=MAX_BACKGROUND
        ),
        "expertise": _text(expertise, code="expertise", field="expertise", limit=MAX_EXPERTISE),
        "areas": _areas(areas),
        "availability": _text(
            availability, code="availability", field="availability", limit=MAX_AVAILABILITY
        ),
    }
    mine = VolunteerApplication.objects.filter(user=user, centre=centre)
    if mine.filter(status=VolunteerApplication.Status.APPROVED).exists():
        raise VolunteerError("already_volunteer")
    try:
        # A savepoint: a double tap meets the one-open-application constraint and
        # is told it has applied, as if it had come second.
        with transaction.atomic():
            application = VolunteerApplication.objects.create(user=user, centre=centre, **fields)
            audit_log_record(
                actor=user,
                action="volunteers.application.submit",
                target=application,
                data={"centre": centre.pk},
            )
            coordinators = RoleAssignment.objects.filter(
                role=Role.UNIT_COORDINATOR, unit=centre, user__is_active=True
            ).values_list("user_id", flat=True)
            notice_send(
                key=f"volunteers.application.new:{application.pk}",
                topic="volunteers.application",
                subject=_("新的志愿者申请"),
                lead=_("%(centre)s 收到一份新的志愿者申请，请在志愿者申请审核页处理。")
                % {"centre": centre.name},
                user_ids=list(coordinators),
                path=reverse("volunteers:queue"),
                unit=centre,
            )
    except IntegrityError as error:
        if not mine.filter(status=VolunteerApplication.Status.SUBMITTED).exists():
            raise
        raise VolunteerError("already_applied") from error
    return application


def application_withdraw(*, user, application_id) -> VolunteerApplication:
    """The applicant takes back an application still waiting."""
    with volunteer_transaction():
        application = (
            VolunteerApplication.objects.select_for_update()
            .filter(pk=application_id, user_id=getattr(user, "pk", None))
            .first()
        )
        if application is None:
            raise VolunteerError("application_missing")
        if application.status != VolunteerApplication.Status.SUBMITTED:
            raise VolunteerError("already_decided")
        application.status = VolunteerApplication.Status.WITHDRAWN
        application.save(update_fields=["status"])
        audit_log_record(actor=user, action="volunteers.application.withdraw", target=application)
    return application


def applications_decidable_by(user):
    """Applications whose centre the user coordinates (or a unit above it)."""
    return VolunteerApplication.objects.filter(
        centre__in=access.units_changeable_by(user).values("pk")
    )


def _instructor_for(*, application: VolunteerApplication, tier: str) -> Instructor:
    """The applicant's instructor record: linked when she has one (her home unit
    stays), else created at the centre. Called with the user row locked, so two
    approvals of one person (two centres at once) make one record."""
    user = application.user
    instructor = Instructor.objects.filter(user=user).first()
    if instructor is None:
        return Instructor.objects.create(
            name=application.name,
            tier=tier,
            specialties=application.areas,
            unit=application.centre,
            user=user,
            is_volunteer=True,
        )
    instructor.tier = tier
    instructor.is_volunteer = True
    instructor.specialties = list(dict.fromkeys([*instructor.specialties, *application.areas]))
    instructor.save(update_fields=["tier", "is_volunteer", "specialties"])
    return instructor


def application_decide(
    *,
    user,
    application_id,
    approve: bool,
    tier: str = "",
    serves_as: str = "",
    station_id=None,
    note: str = "",
) -> VolunteerApplication:
    """Approve with a tier (and where she serves) or decline with a note.

    Approval makes or links her ``Instructor`` (tier, volunteer), gives her the
    instructor role at the centre and, to guide at a station, a mentor there
    (``guidance.services.mentor_create``). The applicant is told either way.
    """
    note = _text(note, code="note", field="note", limit=MAX_NOTE, required=False)
    if approve:
        if tier not in Instructor.Tier.values:
            raise VolunteerError("tier_required", field="tier")
        if serves_as not in VolunteerApplication.ServesAs.values:
            raise VolunteerError("serves_as_required", field="serves_as")
    with volunteer_transaction():
        application = (
            applications_decidable_by(user)
            .select_for_update(of=("self",))
            .select_related("centre", "user")
            .filter(pk=application_id)
            .first()
        )
        if application is None:
            raise VolunteerError("application_missing")
        if application.status != VolunteerApplication.Status.SUBMITTED:
            raise VolunteerError("already_decided")
        station = None
        if approve and serves_as == VolunteerApplication.ServesAs.MENTOR:
            stations = Station.objects.filter(is_active=True)
            if station_id:
                station = stations.filter(pk=station_id).first()
            else:
                station = stations.filter(unit_id=application.centre_id).first()
            if station is None or not access.can_change_unit(user, station.unit_id):
                raise VolunteerError("station_missing", field="station")
        now = timezone.now()
        application.decided_by = user
        application.decided_at = now
        application.decision_note = note
        if approve:
            # The applicant's row first: her instructor record is one per user.
            get_user_model().objects.select_for_update(no_key=True).filter(
                pk=application.user_id
            ).first()
            instructor = _instructor_for(application=application, tier=tier)
            if not RoleAssignment.objects.filter(
                user=application.user, role=Role.INSTRUCTOR, unit=application.centre
            ).exists():
                role_assign(
                    actor=user, user=application.user, role=Role.INSTRUCTOR, unit=application.centre
                )
            if station is not None:
                _mentor_for(
                    user=user, application=application, instructor=instructor, station=station
                )
            application.status = VolunteerApplication.Status.APPROVED
            application.tier = tier
            application.serves_as = serves_as
            application.station = station
            application.instructor = instructor
        else:
            application.status = VolunteerApplication.Status.DECLINED
        application.save(
            update_fields=[
                "status",
                "tier",
                "serves_as",
                "station",
                "instructor",
                "decided_by",
                "decided_at",
                "decision_note",
            ]
        )
        audit_log_record(
            actor=user,
            action="volunteers.application.approve"
            if approve
            else "volunteers.application.decline",
            target=application,
            data={"tier": application.tier, "serves_as": application.serves_as},
        )
        _tell_applicant(application)
    return application


def _mentor_for(*, user, application, instructor: Instructor, station: Station) -> None:
    existing = Mentor.objects.filter(station=station, user=application.user).first()
    if existing is not None:
        # Already a mentor there (added by the station): she keeps that profile.
        return
    guidance_services.mentor_create(
        user=user,
        station_id=station.pk,
        name=application.name,
        areas=application.areas,
        audiences=[Mentor.Audience.PARENT, Mentor.Audience.STUDENT],
        modes=[Mentor.Mode.IN_PERSON],
        title=_("%(tier)s志愿者") % {"tier": instructor.get_tier_display()},
        bio=application.expertise,
        login_user_id=application.user_id,
        instructor_id=instructor.pk,
    )


def _tell_applicant(application: VolunteerApplication) -> None:
    centre = application.centre.name
    if application.status == VolunteerApplication.Status.APPROVED:
        subject = _("您的志愿者申请已通过")
        lead = _(
            "%(centre)s 已通过您的志愿者申请，层级：%(tier)s，服务方式：%(serves_as)s。"
            "您的服务时长会记在「我的志愿服务」里。"
        ) % {
            "centre": centre,
            "tier": application.get_tier_display(),
            "serves_as": application.get_serves_as_display(),
        }
    else:
        subject = _("您的志愿者申请未通过")
        lead = _("%(centre)s 暂未通过您的志愿者申请。") % {"centre": centre}
        if application.decision_note:
            lead += _("说明：%(note)s") % {"note": application.decision_note}
    notice_send(
        key=f"volunteers.application:{application.pk}:{application.status}",
        topic="volunteers.application",
        subject=subject,
        lead=lead,
        user_ids=[application.user_id],
        path=_mine_path(),
        unit=application.centre,
    )


# --- service hours from the portal's records ---------------------------------------


def _sql_parts() -> dict[str, str]:
    if connection.vendor == "postgresql":
        return {
            "hours": "GREATEST(0.5, LEAST(24, ROUND(CAST(EXTRACT(EPOCH FROM "
            "(o.ends_at - o.starts_at)) AS numeric) / 1800) / 2))",
            "day": "CAST((o.starts_at AT TIME ZONE 'Asia/Shanghai') AS date)",
            "differs": "IS DISTINCT FROM",
        }
    return {
        "hours": "MAX(0.5, MIN(24, ROUND((julianday(o.ends_at) - julianday(o.starts_at)) "
        "* 48.0) / 2.0))",
        "day": "date(o.starts_at, '+8 hours')",
        "differs": "IS NOT",
    }


def _candidates_sql(term: Term, now: dt.datetime) -> tuple[str, list]:
    """Who led which offering of the term, with where the hours count.

    - a course session that has ended, not cancelled, of a course of the term
      listing the volunteer among its instructors (counted at the parent
      school's host unit, with the parent school);
    - an event that has ended, published or finished, that she led (``led_by``),
      starting inside the term's dates (at the offering's unit);
    - a consultation marked held by a mentor whose volunteer record she is
      (small groups: one row per slot).
    """
    start, end = term_window(term)
    t = {
        "offering": CourseSession._meta.get_field("offering").related_model._meta.db_table,
        "session": CourseSession._meta.db_table,
        "course": Course._meta.db_table,
        "course_instructors": Course.instructors.through._meta.db_table,
        "school": ParentSchool._meta.db_table,
        "event": Event._meta.db_table,
        "led_by": Event.led_by.through._meta.db_table,
        "consultation": Consultation._meta.db_table,
        "mentor": Mentor._meta.db_table,
        "slot": Slot._meta.db_table,
    }
    sql = f"""
        SELECT ci.instructor_id AS instructor_id, 'session' AS source, o.id AS offering_id,
               ps.host_unit_id AS unit_id, c.parent_school_id AS parent_school_id
          FROM {t["offering"]} o
          JOIN {t["session"]} cs ON cs.offering_id = o.id
          JOIN {t["course"]} c ON c.id = cs.course_id
          JOIN {t["school"]} ps ON ps.id = c.parent_school_id
          JOIN {t["course_instructors"]} ci ON ci.course_id = c.id
         WHERE c.term_id = %s AND o.status <> 'cancelled' AND o.ends_at <= %s
        UNION ALL
        SELECT el.instructor_id, 'event', o.id, o.unit_id, CAST(NULL AS bigint)
          FROM {t["offering"]} o
          JOIN {t["event"]} e ON e.offering_id = o.id
          JOIN {t["led_by"]} el ON el.event_id = e.id
         WHERE e.status IN ('published', 'finished') AND o.status <> 'cancelled'
           AND o.starts_at >= %s AND o.starts_at < %s AND o.ends_at <= %s
        UNION ALL
        SELECT DISTINCT m.instructor_id, 'consultation', o.id, o.unit_id, CAST(NULL AS bigint)
          FROM {t["consultation"]} gc
          JOIN {t["mentor"]} m ON m.id = gc.mentor_id
          JOIN {t["slot"]} sl ON sl.id = gc.slot_id
          JOIN {t["offering"]} o ON o.id = sl.offering_id
         WHERE gc.status = 'held' AND m.instructor_id IS NOT NULL
           AND o.starts_at >= %s AND o.starts_at < %s"""
    return sql, [term.pk, now, start, end, now, start, end]


def service_hours_record(*, term: Term, now: dt.datetime | None = None) -> int:
    """Record the term's automatic service hours; returns the rows written or changed.

    One ``INSERT … SELECT … ON CONFLICT`` on the unique (instructor, offering):
    two runs at once (a beat and a manual run) leave one row per volunteer and
    offering, and a second run changes nothing. Hours are the offering's length
    rounded to the half hour (at least 0.5, at most 24). Rows whose source no
    longer holds (a session cancelled, a volunteer taken off a course) go.
    Only volunteers (``Instructor.is_volunteer``) get hours.
    """
    now = now or timezone.now()
    candidates, params = _candidates_sql(term, now)
    parts = _sql_parts()
    table = ServiceHour._meta.db_table
    offering_table = CourseSession._meta.get_field("offering").related_model._meta.db_table
    instructor_table = Instructor._meta.db_table
    changed = " OR ".join(
        f"{table}.{column} {parts['differs']} EXCLUDED.{column}"
        for column in ("term_id", "source", "unit_id", "parent_school_id", "served_on", "hours")
    )
    upsert = f"""
        WITH candidates AS ({candidates})
        INSERT INTO {table} (instructor_id, term_id, source, offering_id, unit_id,
                             parent_school_id, served_on, hours, description, status,
                             created_at)
        SELECT x.instructor_id, %s, MIN(x.source), x.offering_id, MIN(x.unit_id),
               MIN(x.parent_school_id), MIN({parts["day"]}), MIN({parts["hours"]}),
               MIN(SUBSTR(o.title, 1, 200)), 'recorded', %s
          FROM candidates x
          JOIN {offering_table} o ON o.id = x.offering_id
          JOIN {instructor_table} i ON i.id = x.instructor_id
         WHERE i.is_volunteer
         GROUP BY x.instructor_id, x.offering_id
         ORDER BY x.instructor_id, x.offering_id
        ON CONFLICT (instructor_id, offering_id) WHERE offering_id IS NOT NULL
        DO UPDATE SET term_id = EXCLUDED.term_id, source = EXCLUDED.source,
                      unit_id = EXCLUDED.unit_id, parent_school_id = EXCLUDED.parent_school_id,
                      served_on = EXCLUDED.served_on, hours = EXCLUDED.hours
         WHERE {table}.status = 'recorded' AND ({changed})
        RETURNING id"""
    stale = f"""
        WITH candidates AS ({candidates})
        DELETE FROM {table}
         WHERE term_id = %s AND status = 'recorded' AND offering_id IS NOT NULL
           AND NOT EXISTS (
               SELECT 1 FROM candidates x
                 JOIN {instructor_table} i ON i.id = x.instructor_id
                WHERE i.is_volunteer AND x.instructor_id = {table}.instructor_id
                  AND x.offering_id = {table}.offering_id)"""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(upsert, [*params, term.pk, now])
        written = len(cursor.fetchall())
        cursor.execute(stale, [*params, term.pk])
    return written


# --- manual entries and their verification -------------------------------------------


def volunteers_managed_by(user):
    """Volunteers whose hours a coordinator may enter and verify: those of the
    units they coordinate, and those they approved into one of those units."""
    units = access.units_changeable_by(user).values("pk")
    approved = VolunteerApplication.objects.filter(
        status=VolunteerApplication.Status.APPROVED, centre__in=units
    ).values("instructor_id")
    return Instructor.objects.filter(is_volunteer=True).filter(
        Q(unit__in=units) | Q(pk__in=approved)
    )


def _hours_value(hours) -> Decimal:
    try:
        value = Decimal(str(hours))
    except (InvalidOperation, ValueError, TypeError) as error:
        raise VolunteerError("hours_invalid", field="hours") from error
    if not value.is_finite() or value < Decimal("0.5") or value > 24 or (value * 2) % 1:
        raise VolunteerError("hours_invalid", field="hours")
    return value.quantize(Decimal("0.1"))


def hours_enter(*, user, instructor_id, served_on, hours, description) -> ServiceHour:
    """A manual entry (training, a talk outside the portal…): by the volunteer for
    herself or by a coordinator of hers; it counts once verified."""
    instructor = Instructor.objects.filter(pk=instructor_id, is_volunteer=True).first()
    if instructor is None:
        raise VolunteerError("instructor_missing")
    is_self = instructor.user_id is not None and instructor.user_id == getattr(user, "pk", None)
    if not is_self and not volunteers_managed_by(user).filter(pk=instructor.pk).exists():
        raise VolunteerError("instructor_missing")
    if not isinstance(served_on, dt.date):
        raise VolunteerError("served_on_required", field="served_on")
    if served_on > timezone.localdate():
        raise VolunteerError("served_on_future", field="served_on")
    term = Term.objects.filter(starts_on__lte=served_on, ends_on__gte=served_on).first()
    if term is None:
        raise VolunteerError("served_on_no_term", field="served_on")
    value = _hours_value(hours)
    text = _text(description, code="description", field="description", limit=MAX_DESCRIPTION)
    with transaction.atomic():
        entry = ServiceHour.objects.create(
            instructor=instructor,
            term=term,
            source=ServiceHour.Source.MANUAL,
            unit_id=instructor.unit_id,
            served_on=served_on,
            hours=value,
            description=text,
            status=ServiceHour.Status.PENDING,
            entered_by=user,
        )
        audit_log_record(
            actor=user,
            action="volunteers.hours.enter",
            target=entry,
            data={"instructor": instructor.pk, "hours": str(value)},
        )
    return entry


def hours_decidable_by(user):
    """Manual entries counted at a unit the user coordinates."""
    return ServiceHour.objects.filter(
        source=ServiceHour.Source.MANUAL,
        unit__in=access.units_changeable_by(user).values("pk"),
    )


def hours_decide(*, user, hour_id, verify: bool) -> ServiceHour:
    """A coordinator verifies (it counts) or rejects a pending manual entry."""
    with volunteer_transaction():
        entry = (
            hours_decidable_by(user)
            .select_for_update(of=("self",))
            .select_related("instructor")
            .filter(pk=hour_id)
            .first()
        )
        if entry is None:
            raise VolunteerError("hour_missing")
        if entry.status != ServiceHour.Status.PENDING:
            raise VolunteerError("hour_decided")
        if entry.instructor.user_id is not None and entry.instructor.user_id == user.pk:
            raise VolunteerError("own_entry")
        entry.status = ServiceHour.Status.VERIFIED if verify else ServiceHour.Status.REJECTED
        entry.verified_by = user
        entry.verified_at = timezone.now()
        entry.save(update_fields=["status", "verified_by", "verified_at"])
        audit_log_record(
            actor=user,
            action="volunteers.hours.verify" if verify else "volunteers.hours.reject",
            target=entry,
            data={"hours": str(entry.hours)},
        )
        if entry.instructor.user_id:
            notice_send(
                key=f"volunteers.hours:{entry.pk}:{entry.status}",
                topic="volunteers.hours",
                subject=_("服务时长已核实") if verify else _("服务时长未通过核实"),
                lead=_("您登记的 %(day)s 服务时长（%(hours)s 小时）%(result)s。")
                % {
                    "day": entry.served_on.isoformat(),
                    "hours": entry.hours,
                    "result": _("已核实，计入您的志愿服务记录") if verify else _("未通过核实"),
                },
                user_ids=[entry.instructor.user_id],
                path=_mine_path(),
                unit=entry.unit_id,
            )
    return entry
