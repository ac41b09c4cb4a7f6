"""Reads of the evaluation loop: who may do what, a unit's panel, targets.

The panel (``evaluation_panel``) is what the unit's dashboard shows under
定标—考核—反馈—提升: this term's targets, the feedback with its acknowledged
state, the improvement actions (overdue flagged), last term's actions beside
the new figures, and one timeline of every step, newest first, read from these
tables (target changes from UnitTargetChange, old → new; not the audit log) in
a constant number of queries.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import F, FilteredRelation, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from members import access
from members.models import Membership, MemberUnit, RoleAssignment
from parent_school.models import Term

from .errors import EvaluationError
from .models import (
    ActionUpdate,
    Feedback,
    ImprovementAction,
    Responsibility,
    UnitTarget,
    UnitTargetChange,
)

Status = ImprovementAction.Status
STATUS_ORDER = {Status.PLANNED: 0, Status.IN_PROGRESS: 1, Status.DONE: 2}


# --- who may do what ---------------------------------------------------------------


def _coordinates_alliance_of(user, unit_id: int) -> bool:
    """The user coordinates an alliance the unit is a current member of."""
    alliance_ids = access.coordinated_alliance_ids(user)
    if not alliance_ids:
        return False
    return Membership.objects.filter(
        unit_id=unit_id, alliance_id__in=alliance_ids, left_on__isnull=True
    ).exists()


def administers_district_of(user, unit_id: int) -> bool:
    """``user`` is a district administrator of the unit's district (by the unit's
    region or a current membership of one of the district's alliances; not of an
    alliance elsewhere they may also coordinate)."""
    units = access.units_in_administered_districts(user)
    if units is None:
        return False
    return (
        units.filter(pk=unit_id).exists()
        or Membership.objects.filter(
            unit_id=unit_id,
            alliance_id__in=access.district_alliance_ids(user),
            left_on__isnull=True,
        ).exists()
    )


def may_assess(user, unit_id: int) -> bool:
    """定标 and 反馈: administrators (the city everywhere, a district administrator in
    their district) and the coordinators of an alliance the unit belongs to (not
    the unit itself: it does not mark its own work)."""
    if access.sees_every_district(user):
        return True
    if _coordinates_alliance_of(user, unit_id):
        return True
    # The district as members/access.py draws it, less the unit roles: a unit's
    # own coordinators do not assess it.
    units = access.units_in_administered_districts(user)
    return units is not None and units.filter(pk=unit_id).exists()


def may_set_targets(user) -> bool:
    """Opens 定标: administrators and alliance coordinators. Which units they reach
    is ``units_for_targets`` (a district administrator: their district's)."""
    return access.is_district_admin(user) or bool(access.coordinated_alliance_ids(user))


def is_unit_coordinator(user, unit: MemberUnit) -> bool:
    """The unit's own coordinators (of the unit or the unit above it): they
    acknowledge feedback and answer with improvement actions."""
    unit_ids = access.coordinated_unit_ids(user)
    return unit.pk in unit_ids or (unit.parent_id is not None and unit.parent_id in unit_ids)


def unit_coordinator_ids(unit: MemberUnit) -> list[int]:
    """Active accounts holding the unit coordinator role on the unit (or the unit above)."""
    ids = [unit.pk] + ([unit.parent_id] if unit.parent_id else [])
    return sorted(
        set(
            RoleAssignment.objects.filter(
                role=RoleAssignment.Role.UNIT_COORDINATOR, unit_id__in=ids, user__is_active=True
            ).values_list("user_id", flat=True)
        )
    )


def units_for_targets(user) -> QuerySet[MemberUnit]:
    """The active units whose targets ``user`` sets: all for city administrators;
    the current members of their alliances for alliance coordinators; for a
    district administrator the units of their district (by region) and the
    current members of its alliances."""
    units = MemberUnit.objects.filter(is_active=True)
    if access.sees_every_district(user):
        return units
    alliance_ids = access.coordinated_alliance_ids(user)
    district = access.units_in_administered_districts(user)
    condition = Q(pk__in=[])
    if alliance_ids:
        members = Membership.objects.filter(alliance_id__in=alliance_ids, left_on__isnull=True)
        condition |= Q(pk__in=members.values("unit_id"))
    if district is not None:
        condition |= Q(pk__in=district.values("pk"))
    return units.filter(condition)


def unit_for_viewer(*, user, unit_id) -> MemberUnit:
    """The unit, if ``user`` may see it; else EvaluationError("unit_missing") (a 404)."""
    try:
        unit = MemberUnit.objects.get(pk=int(unit_id))
    except (MemberUnit.DoesNotExist, TypeError, ValueError):
        raise EvaluationError("unit_missing") from None
    if not access.can_view_unit(user, unit):
        raise EvaluationError("unit_missing")
    return unit


# --- terms and targets ---------------------------------------------------------------


def term_choose(*, code: str | None) -> Term | None:
    """The term named by ``code``; else the current one, else the latest (None: no term)."""
    if code:
        term = Term.objects.filter(code=code).first()
        if term is None:
            raise EvaluationError("term_missing")
        return term
    return (
        Term.objects.filter(is_current=True).first() or Term.objects.order_by("-starts_on").first()
    )


def term_list() -> list[Term]:
    return list(Term.objects.order_by("-starts_on")[:20])


def previous_term(term: Term) -> Term | None:
    """The term that started last before ``term`` (by ``starts_on``)."""
    return Term.objects.filter(starts_on__lt=term.starts_on).order_by("-starts_on").first()


def responsibilities_active() -> list[Responsibility]:
    return list(Responsibility.objects.filter(is_active=True).order_by("position", "pk"))


def targets_for(*, unit_ids, term: Term) -> dict[tuple[int, int], UnitTarget]:
    """The term's targets of these units by (unit id, responsibility id)."""
    rows = UnitTarget.objects.filter(term=term, unit_id__in=unit_ids).select_related(
        "responsibility"
    )
    return {(row.unit_id, row.responsibility_id): row for row in rows}


# --- the panel -------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime.datetime
    kind: str  # target | feedback | acknowledge | action | update
    title: str
    who: str
    detail: str = ""
    anchor: str = ""  # the element of the panel it is about ("feedback-12", "action-3")


def _who(user) -> str:
    return str(user) if user is not None else _("（已删除的账号）")


def _target_change_text(change: UnitTargetChange) -> str:
    """「覆盖家庭数 ≥ 50 户 → ≥ 60 户」, or 「开课次数 ≥ 10 次」 when first set."""
    metric = change.responsibility.metric
    new = value_display(metric, change.value)
    if change.previous is None:
        return f"{change.responsibility.name} {new}"
    return f"{change.responsibility.name} {value_display(metric, change.previous)} → {new}"


def _timeline(
    *,
    target_changes: list[UnitTargetChange],
    feedback: list[Feedback],
    actions: list[ImprovementAction],
) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    # Every change of a target, old → new. A fill from the defaults (or a saved
    # page of the 定标 table) changes many at one instant: one entry per moment.
    moments: dict[tuple, list[UnitTargetChange]] = {}
    for change in target_changes:
        moments.setdefault((change.at, change.by_id, change.source), []).append(change)
    for (at, _by, source), rows in moments.items():
        if source == UnitTargetChange.Source.DEFAULT:
            title = _("按默认目标设定")
        elif any(row.previous is not None for row in rows):
            title = _("调整目标")
        else:
            title = _("设定目标")
        entries.append(
            TimelineEntry(
                at=at,
                kind="target",
                title=title,
                who=_who(rows[0].by),
                detail="；".join(_target_change_text(row) for row in rows),
                anchor="evaluation-targets",
            )
        )
    for item in feedback:
        entries.append(
            TimelineEntry(
                at=item.written_at,
                kind="feedback",
                title=_("%(who)s填写考核反馈") % {"who": item.written_as},
                who=_who(item.written_by),
                anchor=f"feedback-{item.pk}",
            )
        )
        if item.acknowledged_at:
            entries.append(
                TimelineEntry(
                    at=item.acknowledged_at,
                    kind="acknowledge",
                    title=_("单位确认反馈"),
                    who=_who(item.acknowledged_by),
                    anchor=f"feedback-{item.pk}",
                )
            )
    for action in actions:
        entries.append(
            TimelineEntry(
                at=action.created_at,
                kind="action",
                title=_("新增改进措施"),
                who=_who(action.created_by),
                detail=action.what,
                anchor=f"action-{action.pk}",
            )
        )
        for update in action.update_list:
            entries.append(
                TimelineEntry(
                    at=update.at,
                    kind="update",
                    title=_("措施“%(what)s”：%(status)s")
                    % {"what": action.what, "status": update.get_status_display()},
                    who=_who(update.by),
                    detail=update.note,
                    anchor=f"action-{action.pk}",
                )
            )
    # Newest first; at the same instant the later step (ack after feedback …) first.
    order = {"target": 0, "feedback": 1, "acknowledge": 2, "action": 3, "update": 4}
    entries.sort(key=lambda e: (e.at, order[e.kind]), reverse=True)
    return entries


def target_value_display(target: UnitTarget) -> str:
    """A target as people read it: 「10 次」, 「4.0 分」, 「30%」."""
    return value_display(target.responsibility.metric, target.value)


def value_display(metric: str, value) -> str:
    Metric = Responsibility.Metric
    if metric in (Metric.ATTENDANCE_RATE, Metric.RESPONSE_RATE):
        return f"≥ {value.normalize():f}%"
    if metric == Metric.SATISFACTION:
        return _("≥ %(v)s 分") % {"v": f"{value:.1f}"}
    units = {
        Metric.SESSIONS_HELD: _("次"),
        Metric.EVENTS_HELD: _("场"),
        Metric.FAMILIES: _("户"),
        Metric.PERSON_TIMES: _("人次"),
    }
    return f"≥ {int(value)} {units.get(metric, '')}".rstrip()


def _actions_with_updates(*, unit: MemberUnit, term_ids: list[int]) -> list[ImprovementAction]:
    updates = Prefetch(
        "updates",
        queryset=ActionUpdate.objects.select_related("by").order_by("at", "pk"),
        to_attr="update_list",
    )
    return list(
        ImprovementAction.objects.filter(unit=unit, term_id__in=term_ids)
        .select_related("created_by", "feedback")
        .prefetch_related(updates)
        .order_by("due_on", "pk")
    )


def _responsibilities_with_targets(
    *, unit: MemberUnit, term: Term
) -> tuple[list[Responsibility], dict[int, UnitTarget]]:
    """Every responsibility, and the unit's targets of the term by responsibility id,
    in one query (a LEFT JOIN on the target of this unit and term)."""
    rows = (
        Responsibility.objects.annotate(
            own=FilteredRelation("targets", condition=Q(targets__unit=unit, targets__term=term))
        )
        .annotate(
            target_pk=F("own__pk"),
            target_value=F("own__value"),
            target_set_by=F("own__set_by_id"),
            target_set_at=F("own__set_at"),
        )
        .order_by("position", "pk")
    )
    responsibilities, targets = [], {}
    for row in rows:
        responsibilities.append(row)
        if row.target_pk is not None:
            targets[row.pk] = UnitTarget(
                pk=row.target_pk,
                unit=unit,
                term=term,
                responsibility=row,
                value=row.target_value,
                set_by_id=row.target_set_by,
                set_at=row.target_set_at,
            )
    return responsibilities, targets


def evaluation_panel(*, user, unit: MemberUnit, term: Term, now=None) -> dict:
    """Everything the unit's evaluation panel shows, for ``user`` (who may see the
    unit: the caller checked ``access.can_view_unit``). Keys:

    unit, term, previous_term, today;
    targets: [{"responsibility", "target" (UnitTarget | None), "display"}] (active
      responsibilities, and inactive ones the unit has a target of);
    feedback: [Feedback] newest first, each with ``.acknowledged`` (bool) and
      ``.action_count``;
    actions: this term's [ImprovementAction] by due date, each with ``.overdue``
      (due before today and not done), ``.update_list`` ([ActionUpdate], oldest
      first) and ``.next_statuses`` ([(value, label)] it may move to);
    last_term_actions: the previous term's actions, the same way;
    timeline: [TimelineEntry] newest first (this term);
    can_set_targets, can_write_feedback, can_acknowledge, can_add_action,
    can_update_action: what ``user`` may do here.
    """
    today = timezone.localdate(now)
    previous = previous_term(term)
    responsibilities, by_responsibility = _responsibilities_with_targets(unit=unit, term=term)
    target_changes = list(
        UnitTargetChange.objects.filter(unit=unit, term=term)
        .select_related("responsibility", "by")
        .order_by("at", "pk")
    )
    feedback = list(
        Feedback.objects.filter(unit=unit, term=term).select_related(
            "written_by", "acknowledged_by"
        )
    )
    term_ids = [term.pk] + ([previous.pk] if previous else [])
    all_actions = _actions_with_updates(unit=unit, term_ids=term_ids)
    for action in all_actions:
        action.overdue = action.status != Status.DONE and action.due_on < today
        rank = STATUS_ORDER[action.status]
        action.next_statuses = [
            (value, label)
            for value, label in Status.choices
            if STATUS_ORDER[value] > rank or (value == action.status and value != Status.DONE)
        ]
    actions = [a for a in all_actions if a.term_id == term.pk]
    counts: dict[int, int] = {}
    for action in actions:
        if action.feedback_id:
            counts[action.feedback_id] = counts.get(action.feedback_id, 0) + 1
    for item in feedback:
        item.acknowledged = item.acknowledged_at is not None
        item.action_count = counts.get(item.pk, 0)

    assessor = may_assess(user, unit.pk)
    own = is_unit_coordinator(user, unit)
    return {
        "unit": unit,
        "term": term,
        "previous_term": previous,
        "today": today,
        "targets": [
            {
                "responsibility": r,
                "target": by_responsibility.get(r.pk),
                "display": (
                    target_value_display(by_responsibility[r.pk])
                    if r.pk in by_responsibility
                    else ""
                ),
            }
            for r in responsibilities
            if r.is_active or r.pk in by_responsibility
        ],
        "feedback": feedback,
        "actions": actions,
        "last_term_actions": [a for a in all_actions if previous and a.term_id == previous.pk],
        "timeline": _timeline(target_changes=target_changes, feedback=feedback, actions=actions),
        "can_set_targets": assessor,
        "can_write_feedback": assessor,
        "can_acknowledge": own,
        "can_add_action": own,
        "can_update_action": own,
    }


# --- single rows for the pages ---------------------------------------------------------


def feedback_for_viewer(*, user, feedback_id) -> Feedback:
    try:
        item = Feedback.objects.select_related("unit", "term").get(pk=int(feedback_id))
    except (Feedback.DoesNotExist, TypeError, ValueError):
        raise EvaluationError("feedback_missing") from None
    if not access.can_view_unit(user, item.unit_id):
        raise EvaluationError("feedback_missing")
    return item


def action_for_viewer(*, user, action_id) -> ImprovementAction:
    try:
        action = ImprovementAction.objects.select_related("unit", "term").get(pk=int(action_id))
    except (ImprovementAction.DoesNotExist, TypeError, ValueError):
        raise EvaluationError("action_missing") from None
    if not access.can_view_unit(user, action.unit_id):
        raise EvaluationError("action_missing")
    return action


def targets_page(*, user, term: Term, units: QuerySet[MemberUnit]) -> dict:
    """The 定标 table: ``units`` (a page of ``units_for_targets``) × active
    responsibilities, with the term's values. Two queries whatever the page size."""
    unit_list = list(units)
    responsibilities = responsibilities_active()
    found = targets_for(unit_ids=[u.pk for u in unit_list], term=term)
    rows = []
    for unit in unit_list:
        cells = []
        for r in responsibilities:
            target = found.get((unit.pk, r.pk))
            cells.append({"responsibility": r, "target": target, "name": f"t-{unit.pk}-{r.pk}"})
        rows.append({"unit": unit, "cells": cells})
    return {"responsibilities": responsibilities, "rows": rows}


def alliance_filter_choices(user):
    """Alliances the 定标 page can narrow to (the ones the user sets targets in)."""
    from members.models import Alliance

    if access.sees_every_district(user):
        return Alliance.objects.order_by("name")
    return Alliance.objects.filter(pk__in=access.coordinated_alliance_ids(user)).order_by("name")


def units_in_alliance(units: QuerySet[MemberUnit], alliance_id: int) -> QuerySet[MemberUnit]:
    members = Membership.objects.filter(alliance_id=alliance_id, left_on__isnull=True)
    return units.filter(pk__in=members.values("unit_id"))
