"""Writes of the evaluation loop 定标—考核—反馈—提升: one function per change.

Pages, the admin and any later API call these; each checks who may do it
(selectors: ``may_assess``, ``is_unit_coordinator``), validates every field with
a Chinese message naming it (EvaluationError), writes in one transaction and
records one audit entry. Nothing is half-written: a refused value rolls back
the whole call.

Races are settled in the database: a unit's target is one row per (unit, term,
responsibility), set under its row lock (or its unique key, when new) and filled
from the defaults by ``INSERT … ON CONFLICT DO NOTHING``; every change of a value
is a ``UnitTargetChange`` row (the timeline's history); acknowledging a feedback
and moving an action lock that row (bounded lock wait, like bookings.locking),
so two clicks at once make one change and the second is told why.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from bookings.locking import bounded_atomic
from events.services import notice_send
from members import access
from members.models import MemberUnit
from members.services import audit_log_record
from parent_school.models import Term

from . import selectors
from .errors import EvaluationError
from .models import (
    ActionUpdate,
    Feedback,
    ImprovementAction,
    Responsibility,
    UnitTarget,
    UnitTargetChange,
)
from .signals import targets_changed

Metric = Responsibility.Metric
Status = ImprovementAction.Status

TEXT_MAX = 2000  # strengths, problems, evidence, notes (the models' max_length)
WHAT_MAX = 300
OWNER_MAX = 50
NAME_MAX = 80
DESCRIPTION_MAX = 300
# How far after its term an action may be due: the next term, and a little more.
DUE_AFTER_TERM_DAYS = 365
COUNT_METRICS = (Metric.SESSIONS_HELD, Metric.EVENTS_HELD, Metric.FAMILIES, Metric.PERSON_TIMES)
RATE_METRICS = (Metric.ATTENDANCE_RATE, Metric.RESPONSE_RATE)
COUNT_MAX = 1_000_000
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def evaluation_transaction():
    return bounded_atomic(lambda: EvaluationError("busy"))


# --- lookups with scope ------------------------------------------------------------


def _unit(actor, unit_id) -> MemberUnit:
    return selectors.unit_for_viewer(user=actor, unit_id=unit_id)


def _term(term_id) -> Term:
    try:
        return Term.objects.get(pk=int(term_id))
    except (Term.DoesNotExist, TypeError, ValueError):
        raise EvaluationError("term_missing", field="term") from None


def _text(value, *, field: str, limit: int, too_long: str, missing: str | None = None) -> str:
    text = str(value or "").strip()
    if missing and not text:
        raise EvaluationError(missing, field=field)
    if len(text) > limit:
        raise EvaluationError(too_long, field=field, n=limit)
    return text


# --- 定标: values per metric ----------------------------------------------------------


def target_value_clean(*, metric: str, value, name: str = "", field: str = "value") -> Decimal:
    """``value`` as a target of ``metric``: counts are whole numbers, rates 0–100,
    satisfaction 0–5 (one decimal at most)."""
    if value is None or str(value).strip() == "":
        raise EvaluationError("value_missing", field=field)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise EvaluationError("value_not_number", field=field) from None
    if not number.is_finite():
        raise EvaluationError("value_not_number", field=field)
    name = name or str(Metric(metric).label) if metric in Metric.values else name
    if metric in COUNT_METRICS:
        if number != number.to_integral_value():
            raise EvaluationError("value_not_whole", field=field, name=name)
        low, high = Decimal(0), Decimal(COUNT_MAX)
    elif metric in RATE_METRICS:
        low, high = Decimal(0), Decimal(100)
    elif metric == Metric.SATISFACTION:
        low, high = Decimal(0), Decimal(5)
    else:
        raise EvaluationError("metric_bad", field="metric")
    if not low <= number <= high:
        raise EvaluationError("value_out_of_range", field=field, name=name, low=low, high=high)
    if number != number.quantize(Decimal("0.1")):
        raise EvaluationError("value_one_decimal", field=field)
    return number.quantize(Decimal("0.1"))


def _signal_targets(term_id: int, unit_ids: Iterable[int]) -> None:
    # Inside the caller's transaction, like the lower apps' signals: what the
    # receivers write (the roll-up's marks) commits or rolls back with the change.
    unit_ids = sorted(set(unit_ids))
    if unit_ids:
        targets_changed.send(sender=UnitTarget, term_id=term_id, unit_ids=unit_ids)


def _target_write(*, actor, unit, term, responsibility, value, now):
    """Write one target, returning it and the value it replaced (None: new).

    The row is locked before it is read, so the previous value is the one this
    write replaces even when two setters meet: the second waits for the first's
    commit (on the row lock, or on the unique key when both insert) and then
    sees its value."""
    lookup = {"unit": unit, "term": term, "responsibility": responsibility}
    fields = {"value": value, "set_by": actor, "set_at": now}
    for _attempt in range(2):
        target = UnitTarget.objects.select_for_update().filter(**lookup).first()
        if target is not None:
            previous = target.value
            for name, field_value in fields.items():
                setattr(target, name, field_value)
            target.save(update_fields=list(fields))
            return target, previous
        try:
            with transaction.atomic():
                return UnitTarget.objects.create(**lookup, **fields), None
        except IntegrityError:
            continue  # another setter inserted it first: lock and update theirs
    raise EvaluationError("busy")


def unit_target_set(*, actor, unit_id, term_id, responsibility_id, value, now=None) -> UnitTarget:
    """定标: set one target of a unit for a term (a second set replaces the value).

    District administrators and the coordinators of an alliance the unit is a
    current member of."""
    unit = _unit(actor, unit_id)
    if not selectors.may_assess(actor, unit.pk):
        raise EvaluationError("not_target_setter")
    term = _term(term_id)
    try:
        responsibility = Responsibility.objects.get(pk=int(responsibility_id), is_active=True)
    except (Responsibility.DoesNotExist, TypeError, ValueError):
        raise EvaluationError("responsibility_missing", field="responsibility") from None
    number = target_value_clean(metric=responsibility.metric, value=value, name=responsibility.name)
    now = now or timezone.now()
    with evaluation_transaction():
        target, previous = _target_write(
            actor=actor, unit=unit, term=term, responsibility=responsibility, value=number, now=now
        )
        if previous != number:
            UnitTargetChange.objects.create(
                unit=unit,
                term=term,
                responsibility=responsibility,
                previous=previous,
                value=number,
                source=UnitTargetChange.Source.SET,
                by=actor,
                at=now,
            )
        audit_log_record(
            actor=actor,
            action="evaluation.target.set",
            target=target,
            data={
                "unit": unit.pk,
                "term": term.code,
                "responsibility": responsibility.code,
                "value": str(number),
                "previous": None if previous is None else str(previous),
            },
        )
        _signal_targets(term.pk, [unit.pk])
    return target


def unit_targets_default(*, actor, term_id, unit_ids=None, now=None) -> int:
    """Fill a term's missing targets of the units in the actor's scope (or of
    ``unit_ids``, each of which must be in it) from the responsibilities'
    default values. Targets already set are kept. Idempotent and race-safe: one
    ``INSERT … SELECT … ON CONFLICT DO NOTHING``; returns the targets written."""
    scope = selectors.units_for_targets(actor)
    if not selectors.may_set_targets(actor):
        raise EvaluationError("not_target_setter")
    term = _term(term_id)
    if unit_ids is not None:
        try:
            wanted = sorted({int(u) for u in unit_ids})
        except (TypeError, ValueError):
            raise EvaluationError("unit_missing") from None
        if scope.filter(pk__in=wanted).count() != len(wanted):
            raise EvaluationError("unit_missing")
        scope = scope.filter(pk__in=wanted)
    now = now or timezone.now()
    units_sql, units_params = scope.order_by().values("id").query.sql_with_params()
    table = connection.ops.quote_name(UnitTarget._meta.db_table)
    responsibilities = connection.ops.quote_name(Responsibility._meta.db_table)
    sql = (
        f"INSERT INTO {table} (unit_id, term_id, responsibility_id, value, set_by_id, set_at) "
        f"SELECT u.id, %s, r.id, r.default_value, %s, %s "
        f"FROM ({units_sql}) AS u CROSS JOIN {responsibilities} AS r "
        "WHERE r.is_active "
        "ON CONFLICT (unit_id, term_id, responsibility_id) DO NOTHING "
        "RETURNING unit_id, responsibility_id, value"
    )
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    with evaluation_transaction():
        with connection.cursor() as cursor:
            cursor.execute(sql, [term.pk, actor_id, now, *units_params])
            filled = cursor.fetchall()
        written = [unit_id for unit_id, _responsibility_id, _value in filled]
        UnitTargetChange.objects.bulk_create(
            [
                UnitTargetChange(
                    unit_id=unit_id,
                    term=term,
                    responsibility_id=responsibility_id,
                    previous=None,
                    value=Decimal(str(value)),
                    source=UnitTargetChange.Source.DEFAULT,
                    by_id=actor_id,
                    at=now,
                )
                for unit_id, responsibility_id, value in filled
            ],
            batch_size=1000,
        )
        audit_log_record(
            actor=actor,
            action="evaluation.target.default",
            target=term,
            data={
                "term": term.code,
                "written": len(written),
                "units": None if unit_ids is None else wanted,
            },
        )
        _signal_targets(term.pk, written)
    return len(written)


# --- 反馈 ------------------------------------------------------------------------------


def _written_as(actor, unit: MemberUnit) -> str:
    # The city administrator writes as the city (市级); a district administrator
    # for the district (区级) in their district, even when they also coordinate one
    # of its alliances.
    if access.sees_every_district(actor):
        return _("市级")
    if selectors.administers_district_of(actor, unit.pk):
        return _("区级")
    from members.models import Alliance

    alliance = (
        Alliance.objects.filter(
            pk__in=access.coordinated_alliance_ids(actor),
            memberships__unit=unit,
            memberships__left_on__isnull=True,
        )
        .order_by("name")
        .first()
    )
    return (alliance.short_name or alliance.name)[:80] if alliance else _("联盟")


def feedback_write(*, actor, unit_id, term_id, strengths, problems, now=None) -> Feedback:
    """反馈: the district or an alliance coordinator writes feedback to a unit for a
    term; the unit's coordinators are told through the outbox."""
    unit = _unit(actor, unit_id)
    if not selectors.may_assess(actor, unit.pk):
        raise EvaluationError("not_feedback_writer")
    term = _term(term_id)
    strengths = _text(strengths, field="strengths", limit=TEXT_MAX, too_long="strengths_too_long")
    problems = _text(problems, field="problems", limit=TEXT_MAX, too_long="problems_too_long")
    if not strengths and not problems:
        raise EvaluationError("feedback_empty", field="strengths")
    now = now or timezone.now()
    with transaction.atomic():
        feedback = Feedback.objects.create(
            unit=unit,
            term=term,
            strengths=strengths,
            problems=problems,
            written_by=actor,
            written_as=_written_as(actor, unit),
            written_at=now,
        )
        audit_log_record(
            actor=actor,
            action="evaluation.feedback.write",
            target=feedback,
            data={"unit": unit.pk, "term": term.code, "written_as": feedback.written_as},
        )
        recipients = [pk for pk in selectors.unit_coordinator_ids(unit) if pk != actor.pk]
        if recipients:
            notice_send(
                key=f"evaluation.feedback:{feedback.pk}",
                topic="evaluation.feedback",
                subject=_("%(unit)s收到%(term)s的考核反馈") % {"unit": unit.name, "term": term},
                lead=_(
                    "%(who)s对%(unit)s%(term)s的工作写了考核反馈（亮点、问题与不足）。"
                    "请在门户中查看并确认，再填写改进措施。"
                )
                % {"who": feedback.written_as, "unit": unit.name, "term": term},
                user_ids=recipients,
                path=f"/evaluation/units/{unit.pk}/?term={term.code}",
                wechat_status=_("待确认"),
                unit=unit.pk,
                now=now,
            )
    return feedback


def feedback_acknowledge(*, actor, feedback_id, now=None) -> Feedback:
    """The unit's coordinator confirms having read a feedback; once (the row is
    locked, so two confirmations at once make one, the second is told so)."""
    now = now or timezone.now()
    with evaluation_transaction():
        try:
            feedback = (
                Feedback.objects.select_for_update(of=("self",))
                .select_related("unit", "term")
                .get(pk=int(feedback_id))
            )
        except (Feedback.DoesNotExist, TypeError, ValueError):
            raise EvaluationError("feedback_missing") from None
        if not access.can_view_unit(actor, feedback.unit_id):
            raise EvaluationError("feedback_missing")
        if not selectors.is_unit_coordinator(actor, feedback.unit):
            raise EvaluationError("not_unit_coordinator")
        if feedback.acknowledged_at is not None:
            when = date_format(timezone.localtime(feedback.acknowledged_at), "Y-m-d H:i")
            raise EvaluationError("already_acknowledged", when=when)
        if feedback.written_by_id == actor.pk:
            raise EvaluationError("self_acknowledge")
        feedback.acknowledged_by = actor
        feedback.acknowledged_at = now
        feedback.save(update_fields=["acknowledged_by", "acknowledged_at"])
        audit_log_record(
            actor=actor,
            action="evaluation.feedback.acknowledge",
            target=feedback,
            data={"unit": feedback.unit_id, "term": feedback.term.code},
        )
        # The writer learns the unit has read it (through the outbox, like every message).
        if feedback.written_by_id is not None:
            unit, term = feedback.unit, feedback.term
            notice_send(
                key=f"evaluation.feedback_ack:{feedback.pk}",
                topic="evaluation.feedback_ack",
                subject=_("%(unit)s已确认%(term)s的考核反馈") % {"unit": unit.name, "term": term},
                lead=_(
                    "%(who)s已阅读并确认您对%(unit)s%(term)s工作的考核反馈，接下来会填写改进措施。"
                )
                % {"who": str(actor), "unit": unit.name, "term": term},
                user_ids=[feedback.written_by_id],
                path=f"/evaluation/units/{unit.pk}/?term={term.code}",
                wechat_status=_("已确认"),
                unit=unit.pk,
                now=now,
            )
    return feedback


# --- 提升 ------------------------------------------------------------------------------


def _own_unit(actor, unit_id) -> MemberUnit:
    unit = _unit(actor, unit_id)
    if not selectors.is_unit_coordinator(actor, unit):
        raise EvaluationError("not_unit_coordinator")
    return unit


def _due_on(value, *, term: Term, today: datetime.date) -> datetime.date:
    if isinstance(value, datetime.datetime):
        value = value.date()
    if not isinstance(value, datetime.date):
        try:
            value = parse_date(str(value or "").strip())
        except ValueError:
            value = None
        if value is None:
            raise EvaluationError("due_missing", field="due_on")
    if value < today:
        raise EvaluationError("due_past", field="due_on", today=today.isoformat())
    latest = term.ends_on + datetime.timedelta(days=DUE_AFTER_TERM_DAYS)
    if value > latest:
        raise EvaluationError("due_too_late", field="due_on", latest=latest.isoformat())
    return value


def action_add(
    *, actor, unit_id, term_id, what, owner, due_on, feedback_id=None, now=None
) -> ImprovementAction:
    """提升: the unit's coordinator records one improvement action (what, who, by when),
    answering one of the term's feedback or the term as a whole."""
    unit = _own_unit(actor, unit_id)
    term = _term(term_id)
    what = _text(
        what, field="what", limit=WHAT_MAX, too_long="what_too_long", missing="what_missing"
    )
    owner = _text(
        owner, field="owner", limit=OWNER_MAX, too_long="owner_too_long", missing="owner_missing"
    )
    now = now or timezone.now()
    due = _due_on(due_on, term=term, today=timezone.localdate(now))
    feedback = None
    if feedback_id not in (None, ""):
        try:
            feedback = Feedback.objects.get(pk=int(feedback_id), unit=unit, term=term)
        except (Feedback.DoesNotExist, TypeError, ValueError):
            raise EvaluationError("feedback_other_unit", field="feedback") from None
    with transaction.atomic():
        action = ImprovementAction.objects.create(
            unit=unit,
            term=term,
            feedback=feedback,
            what=what,
            owner=owner,
            due_on=due,
            created_by=actor,
            created_at=now,
        )
        audit_log_record(
            actor=actor,
            action="evaluation.action.add",
            target=action,
            data={
                "unit": unit.pk,
                "term": term.code,
                "feedback": feedback.pk if feedback else None,
                "due_on": due.isoformat(),
            },
        )
    return action


def action_update(*, actor, action_id, status, note="", evidence="", now=None) -> ImprovementAction:
    """Move an action forward (planned → in progress → done) or note its progress.
    Done needs the evidence (完成情况与佐证) and is final; each change is an
    ActionUpdate row (the action's history and the timeline's)."""
    if status not in Status.values:
        raise EvaluationError("status_bad", field="status")
    note = _text(note, field="note", limit=TEXT_MAX, too_long="note_too_long")
    evidence = _text(evidence, field="evidence", limit=TEXT_MAX, too_long="evidence_too_long")
    now = now or timezone.now()
    with evaluation_transaction():
        try:
            action = (
                ImprovementAction.objects.select_for_update(of=("self",))
                .select_related("unit", "term")
                .get(pk=int(action_id))
            )
        except (ImprovementAction.DoesNotExist, TypeError, ValueError):
            raise EvaluationError("action_missing") from None
        if not access.can_view_unit(actor, action.unit_id):
            raise EvaluationError("action_missing")
        if not selectors.is_unit_coordinator(actor, action.unit):
            raise EvaluationError("not_unit_coordinator")
        if action.status == Status.DONE:
            raise EvaluationError("status_done_already", field="status")
        old, new = selectors.STATUS_ORDER[action.status], selectors.STATUS_ORDER[status]
        if new < old:
            raise EvaluationError("status_backwards", field="status")
        if new == old and not note:
            raise EvaluationError("status_unchanged", field="note")
        fields = []
        if status == Status.DONE:
            if not evidence:
                raise EvaluationError("evidence_required", field="evidence")
            action.evidence = evidence
            action.done_at = now
            fields += ["evidence", "done_at"]
        previous = action.status
        action.status = status
        action.save(update_fields=["status", *fields])
        ActionUpdate.objects.create(action=action, status=status, note=note, by=actor, at=now)
        audit_log_record(
            actor=actor,
            action="evaluation.action.update",
            target=action,
            data={"unit": action.unit_id, "from": previous, "to": status},
        )
    return action


# --- the district's list of responsibilities -----------------------------------------


def responsibility_save(
    *,
    actor,
    responsibility_id=None,
    code,
    name,
    metric,
    default_value,
    description="",
    position=0,
    is_active=True,
) -> Responsibility:
    """Add (``responsibility_id`` None) or change one line of the district's list.
    City administrators only; the default value is checked like a target."""
    # City-wide reference data: the city's to edit (every district's targets and
    # the roll-up's attainment are measured against this one list).
    if not access.sees_every_district(actor):
        raise EvaluationError("not_district_admin")
    code = str(code or "").strip()
    if not code:
        raise EvaluationError("code_missing", field="code")
    if not _CODE.match(code) or len(code) > 40:
        raise EvaluationError("code_bad", field="code")
    name = _text(
        name, field="name", limit=NAME_MAX, too_long="name_too_long", missing="name_missing"
    )
    description = _text(
        description, field="description", limit=DESCRIPTION_MAX, too_long="description_too_long"
    )
    if metric not in Metric.values:
        raise EvaluationError("metric_bad", field="metric")
    value = target_value_clean(metric=metric, value=default_value, name=name, field="default_value")
    try:
        position = int(position)
    except (TypeError, ValueError):
        raise EvaluationError("position_bad", field="position") from None
    if not 0 <= position <= 32767:
        raise EvaluationError("position_bad", field="position")
    fields = {
        "code": code,
        "name": name,
        "metric": metric,
        "default_value": value,
        "description": description,
        "position": position,
        "is_active": bool(is_active),
    }
    try:
        with evaluation_transaction():
            if responsibility_id is None:
                row = Responsibility.objects.create(**fields)
                action = "evaluation.responsibility.create"
            else:
                try:
                    row = Responsibility.objects.select_for_update().get(pk=int(responsibility_id))
                except (Responsibility.DoesNotExist, TypeError, ValueError):
                    raise EvaluationError("responsibility_missing") from None
                if row.metric != metric and row.targets.exists():
                    raise EvaluationError("metric_fixed", field="metric")
                for key, val in fields.items():
                    setattr(row, key, val)
                row.save(update_fields=list(fields))
                action = "evaluation.responsibility.change"
            audit_log_record(
                actor=actor,
                action=action,
                target=row,
                data={"code": code, "metric": metric, "default_value": str(value)},
            )
    except IntegrityError as error:
        raise EvaluationError("code_taken", field="code") from error
    return row
