"""Every write of buddy groups: create, change, dissolve, join, leave, sessions.

The limits are held by the database, never by a count read before a write:

- a place is taken with one conditional ``UPDATE … SET member_count =
  member_count + 1 WHERE … member_count < max_size`` (the row lock makes a second
  caller wait and then re-check the condition), and
- a family's (家伴) or child's (学伴) quota of groups per kind with one
  ``INSERT … ON CONFLICT (key) DO UPDATE … WHERE used < N RETURNING used``,

both in the same transaction as the membership row, so a refusal rolls back all
three. Locks are always taken group row first, then quota rows, so two writers
never wait on each other in a circle; lock waits are bounded (BOOKING_LOCK_TIMEOUT)
and a timeout becomes ``GroupError("busy")``.

Messages go through the outbox (events.services.notice_send) with one key per
event, written in the same transaction; every change is audit-logged.
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import services as booking_services
from bookings.locking import bounded_atomic
from bookings.models import Booking, Offering
from events.services import notice_send
from members.access import (
    can_change_unit,
    can_view_unit,
    families_visible_to,
    is_staff_member,
)
from members.formatting import id_or_none
from members.models import Child, Family, Guardian
from members.selectors import family_for_user, guardian_for_user
from members.services import audit_log_record
from parent_school.models import ParentSchool

from . import selectors, signals
from .errors import GroupError
from .models import Group, GroupMembership, GroupQuota, GroupSession

Status = GroupMembership.Status

NAME_MAX = Group._meta.get_field("name").max_length
DESCRIPTION_MAX = Group._meta.get_field("description").max_length
REASON_MAX = 200
SIZE_LIMIT = 50
SESSION_CAPACITY_MAX = 500


def _locked_atomic():
    return bounded_atomic(lambda: GroupError("busy"))


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _group_path(group: Group) -> str:
    return f"/groups/{group.pk}/"


def _manage_path(group: Group) -> str:
    return f"/groups/{group.pk}/manage/"


# --- the two database-held limits ----------------------------------------------------


def _place_take(group_id: int) -> None:
    """One place in the group, or GroupError (full / dissolved). Locks the group row."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Group)} SET member_count = member_count + 1 "
            "WHERE id = %s AND status = %s AND member_count < max_size",
            [group_id, Group.Status.ACTIVE],
        )
        if cursor.rowcount == 1:
            return
    group = Group.objects.filter(pk=group_id).only("status", "max_size").first()
    if group is None:
        raise GroupError("group_missing")
    if group.status != Group.Status.ACTIVE:
        raise GroupError("group_dissolved")
    raise GroupError("group_full", n=group.max_size)


def _place_release(group_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Group)} SET member_count = member_count - 1 "
            "WHERE id = %s AND member_count > 0",
            [group_id],
        )


def quota_key(group: Group, *, family_id: int, child_id: int | None) -> str:
    """家伴 groups count per family, 学伴 groups per child."""
    if group.kind == Group.Kind.STUDY:
        return f"child:{child_id}:{group.kind}"
    return f"family:{family_id}:{group.kind}"


def _quota_take(key: str, group: Group) -> None:
    limit = settings.GROUPS_MAX_PER_KIND
    table = _table(GroupQuota)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, used) VALUES (%s, 1) "
            f"ON CONFLICT (key) DO UPDATE SET used = {table}.used + 1 "
            f"WHERE {table}.used < %s RETURNING used",
            [key, limit],
        )
        row = cursor.fetchone()
    if row is None:
        raise GroupError("quota_reached", n=limit, kind=group.get_kind_display())


def _quota_release(key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(GroupQuota)} SET used = used - 1 WHERE key = %s AND used > 0",
            [key],
        )


def _seat(group: Group, membership: GroupMembership) -> None:
    """Take the place and the quota for ``membership`` (group row first, then quota)."""
    _place_take(group.pk)
    _quota_take(
        quota_key(group, family_id=membership.family_id, child_id=membership.child_id), group
    )


def _unseat(group: Group, membership: GroupMembership) -> None:
    _place_release(group.pk)
    _quota_release(quota_key(group, family_id=membership.family_id, child_id=membership.child_id))


# --- field checks ----------------------------------------------------------------------


def _text(value, *, field: str, limit: int, required_code: str | None, long_code: str) -> str:
    text = " ".join(str(value or "").split())
    if required_code and not text:
        raise GroupError(required_code, field=field)
    if len(text) > limit:
        raise GroupError(long_code, field=field, n=limit)
    return text


def _size(value, *, field: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise GroupError("size_invalid", field=field, n=SIZE_LIMIT) from None
    if not 1 <= number <= SIZE_LIMIT:
        raise GroupError("size_invalid", field=field, n=SIZE_LIMIT)
    return number


def _choice(value, choices, *, field: str, code: str) -> str:
    value = str(value or "")
    if value not in {c for c, _label in choices}:
        raise GroupError(code, field=field)
    return value


def _family_required(user) -> Family:
    family = family_for_user(user)
    if family is None:
        raise GroupError("no_family")
    return family


def _child_for(group: Group, family: Family, child_id) -> Child | None:
    """学伴 groups take a child of the family; 家伴 groups take none."""
    if group.kind == Group.Kind.STUDY:
        if child_id in (None, ""):
            raise GroupError("child_required", field="child_id")
        child = Child.objects.filter(pk=id_or_none(child_id), family=family).first()
        if child is None:
            raise GroupError("child_invalid", field="child_id")
        return child
    if child_id not in (None, ""):
        raise GroupError("child_not_wanted", field="child_id")
    return None


def _managed_group(user, group_id, *, lock: bool = False) -> Group:
    """The group if the user may manage it, else group_missing (a foreign id is a 404)."""
    groups = selectors.groups_changeable_by(user)
    if lock:
        groups = groups.select_for_update(of=("self",))
    group = groups.filter(pk=id_or_none(group_id)).first()
    if group is None:
        raise GroupError("group_missing")
    return group


def _group_lock(group_id: int) -> None:
    """Every writer locks the group row before any membership or quota row, so two
    writers of one group take turns instead of deadlocking."""
    Group.objects.select_for_update(of=("self",)).filter(pk=group_id).values_list(
        "pk", flat=True
    ).first()


def _open_membership(group: Group, family: Family, child: Child | None):
    return (
        GroupMembership.objects.filter(
            group=group, family=family, child=child, status__in=GroupMembership.OPEN_STATUSES
        )
        .select_for_update(of=("self",))
        .first()
    )


# --- groups ----------------------------------------------------------------------------


def _facilitator_check(facilitator_id, unit) -> object:
    from django.contrib.auth import get_user_model

    facilitator = (
        get_user_model().objects.filter(pk=id_or_none(facilitator_id), is_active=True).first()
    )
    if facilitator is None or not is_staff_member(facilitator):
        raise GroupError("facilitator_invalid", field="facilitator_id")
    if not can_view_unit(facilitator, unit):
        raise GroupError("facilitator_invalid", field="facilitator_id")
    return facilitator


def group_create(
    *,
    user,
    parent_school_id,
    kind,
    name,
    facilitator_id,
    facilitator_role,
    min_size,
    max_size,
    joining,
    description="",
) -> Group:
    """A new group of a parent school. A coordinator of the school's host unit
    may create any; an instructor who sees the unit only one they facilitate."""
    school = (
        ParentSchool.objects.select_related("host_unit")
        .filter(pk=id_or_none(parent_school_id))
        .first()
    )
    if school is None or school.host_unit_id is None:
        raise GroupError("school_missing", field="parent_school_id")
    is_coordinator = can_change_unit(user, school.host_unit_id)
    if not is_coordinator:
        may_facilitate = is_staff_member(user) and can_view_unit(user, school.host_unit_id)
        if not may_facilitate:
            raise GroupError("school_missing", field="parent_school_id")
        if id_or_none(facilitator_id) != user.pk:
            raise GroupError("facilitator_invalid", field="facilitator_id")
    kind = _choice(kind, Group.Kind.choices, field="kind", code="kind_invalid")
    joining = _choice(joining, Group.Joining.choices, field="joining", code="joining_invalid")
    facilitator_role = _choice(
        facilitator_role,
        Group.FacilitatorRole.choices,
        field="facilitator_role",
        code="facilitator_role_invalid",
    )
    name = _text(
        name, field="name", limit=NAME_MAX, required_code="name_required", long_code="name_too_long"
    )
    description = _text(
        description,
        field="description",
        limit=DESCRIPTION_MAX,
        required_code=None,
        long_code="description_too_long",
    )
    min_size = _size(min_size, field="min_size")
    max_size = _size(max_size, field="max_size")
    if min_size > max_size:
        raise GroupError("sizes_invalid", field="min_size")
    facilitator = _facilitator_check(facilitator_id, school.host_unit_id)
    with _locked_atomic():
        group = Group.objects.create(
            kind=kind,
            name=name,
            description=description,
            parent_school=school,
            facilitator=facilitator,
            facilitator_role=facilitator_role,
            min_size=min_size,
            max_size=max_size,
            joining=joining,
            created_by=user,
        )
        audit_log_record(
            actor=user,
            action="groups.group.create",
            target=group,
            data={"kind": kind, "max_size": max_size, "facilitator": facilitator.pk},
        )
        if facilitator.pk != user.pk:
            notice_send(
                key=f"groups.facilitator:{group.pk}:{facilitator.pk}",
                topic="groups.facilitator",
                subject=_("您成为了「%(name)s」的带领人") % {"name": group.name},
                lead=_(
                    "%(school)s 新建了小组「%(name)s」，由您带领。可以在小组管理页处理申请和安排活动。"
                )
                % {"school": school.name, "name": group.name},
                user_ids=[facilitator.pk],
                path=_manage_path(group),
                unit=school.host_unit_id,
            )
    return group


UPDATABLE = ("name", "description", "joining", "min_size", "max_size")


def group_update(*, user, group_id, **fields) -> Group:
    """Change name, description, joining or sizes (max never below the members now)."""
    unknown = set(fields) - set(UPDATABLE)
    if unknown:
        raise TypeError(f"group_update: unknown fields {sorted(unknown)}")
    with _locked_atomic():
        group = _managed_group(user, group_id, lock=True)
        if not group.is_active:
            raise GroupError("already_dissolved")
        changes = {}
        if "name" in fields:
            changes["name"] = _text(
                fields["name"],
                field="name",
                limit=NAME_MAX,
                required_code="name_required",
                long_code="name_too_long",
            )
        if "description" in fields:
            changes["description"] = _text(
                fields["description"],
                field="description",
                limit=DESCRIPTION_MAX,
                required_code=None,
                long_code="description_too_long",
            )
        if "joining" in fields:
            changes["joining"] = _choice(
                fields["joining"], Group.Joining.choices, field="joining", code="joining_invalid"
            )
        if "min_size" in fields:
            changes["min_size"] = _size(fields["min_size"], field="min_size")
        if "max_size" in fields:
            changes["max_size"] = _size(fields["max_size"], field="max_size")
        min_size = changes.get("min_size", group.min_size)
        max_size = changes.get("max_size", group.max_size)
        if min_size > max_size:
            raise GroupError("sizes_invalid", field="min_size")
        # member_count is read under the row lock taken above: no join slips in.
        if max_size < group.member_count:
            raise GroupError("max_below_members", field="max_size", n=group.member_count)
        changed = {k: v for k, v in changes.items() if getattr(group, k) != v}
        for key, value in changed.items():
            setattr(group, key, value)
        if changed:
            group.save(update_fields=list(changed))
            audit_log_record(
                actor=user,
                action="groups.group.update",
                target=group,
                data={k: str(v) for k, v in changed.items()},
            )
    return group


def group_dissolve(*, user, group_id, reason="") -> Group:
    """Dissolve: members → ENDED (they and the facilitator keep reading the archived
    board), requests → DECLINED, places and quotas released, future sessions
    cancelled, the board archived (group_dissolved), the members told."""
    reason = _text(
        reason, field="reason", limit=REASON_MAX, required_code=None, long_code="reason_too_long"
    )
    now = timezone.now()
    with _locked_atomic():
        group = _managed_group(user, group_id, lock=True)
        if not group.is_active:
            raise GroupError("already_dissolved")
        memberships = list(
            GroupMembership.objects.select_for_update(of=("self",))
            .filter(group=group, status__in=GroupMembership.OPEN_STATUSES)
            .order_by("pk")
        )
        members = [m for m in memberships if m.status == Status.ACTIVE]
        for membership in members:
            _quota_release(
                quota_key(group, family_id=membership.family_id, child_id=membership.child_id)
            )
        GroupMembership.objects.filter(pk__in=[m.pk for m in members]).update(
            status=Status.ENDED, ended_at=now
        )
        GroupMembership.objects.filter(
            pk__in=[m.pk for m in memberships if m.status == Status.REQUESTED]
        ).update(status=Status.DECLINED, ended_at=now)
        Group.objects.filter(pk=group.pk).update(
            status=Group.Status.DISSOLVED, member_count=0, dissolved_at=now, dissolved_by=user
        )
        group.refresh_from_db()
        future = Offering.objects.filter(group_session__group=group, starts_at__gt=now).exclude(
            status=Offering.Status.CANCELLED
        )
        for offering_id in future.order_by("pk").values_list("pk", flat=True):
            booking_services.offering_cancel(offering_id=offering_id, cancelled_by=user)
        signals.group_dissolved.send(sender=Group, group=group)
        audit_log_record(
            actor=user,
            action="groups.group.dissolve",
            target=group,
            data={"reason": reason, "members": len(members)},
        )
        family_ids = sorted({m.family_id for m in memberships})
        if family_ids:
            lead = _(
                "「%(name)s」已经解散，感谢您的参与。小组交流区已存档，您仍可查看以前的内容。"
            ) % {"name": group.name}
            if reason:
                lead = f"{lead}\n{_('说明：')}{reason}"
            notice_send(
                key=f"groups.dissolved:{group.pk}",
                topic="groups.dissolved",
                subject=_("小组「%(name)s」已解散") % {"name": group.name},
                lead=lead,
                family_ids=family_ids,
                path="/groups/",
                unit=group.parent_school.host_unit_id,
            )
    return group


# --- joining and leaving ------------------------------------------------------------


def _joinable_group(user, group_id, family: Family) -> Group:
    """A group the family may see to join: active, at one of its schools, or one
    it already has a membership of. Anything else is group_missing (a 404)."""
    group = (
        selectors.groups_joinable_lookup(family)
        .select_related("parent_school")
        .filter(pk=id_or_none(group_id))
        .first()
    )
    if group is None:
        raise GroupError("group_missing")
    return group


def group_join(*, user, group_id, child_id=None) -> GroupMembership:
    """Join (open: a member at once) or ask to join (request: the facilitator is
    told). Facilitator-only groups refuse: the facilitator adds members."""
    family = _family_required(user)
    group = _joinable_group(user, group_id, family)
    if not group.is_active:
        raise GroupError("group_dissolved")
    if group.joining == Group.Joining.FACILITATOR:
        raise GroupError("facilitator_only")
    child = _child_for(group, family, child_id)
    now = timezone.now()
    try:
        with _locked_atomic():
            _group_lock(group.pk)
            existing = _open_membership(group, family, child)
            if existing is not None:
                code = "already_member" if existing.status == Status.ACTIVE else "already_requested"
                raise GroupError(code)
            if group.joining == Group.Joining.OPEN:
                membership = GroupMembership(
                    group=group,
                    family=family,
                    child=child,
                    status=Status.ACTIVE,
                    joined_at=now,
                    added_by=user,
                )
                _seat(group, membership)
                membership.save()
                audit_log_record(
                    actor=user,
                    action="groups.membership.join",
                    target=membership,
                    data={"group": group.pk},
                )
                return membership
            group.refresh_from_db(fields=["member_count", "max_size", "status"])
            if not group.is_active:
                raise GroupError("group_dissolved")
            if group.member_count >= group.max_size:
                raise GroupError("group_full", n=group.max_size)
            membership = GroupMembership.objects.create(
                group=group,
                family=family,
                child=child,
                status=Status.REQUESTED,
                requested_at=now,
                added_by=user,
            )
            audit_log_record(
                actor=user,
                action="groups.membership.request",
                target=membership,
                data={"group": group.pk},
            )
            notice_send(
                key=f"groups.request:{membership.pk}",
                topic="groups.request",
                subject=_("「%(name)s」有新的加入申请") % {"name": group.name},
                lead=_("有一个家庭申请加入「%(name)s」，请在小组管理页同意或婉拒。")
                % {"name": group.name},
                user_ids=[group.facilitator_id],
                path=_manage_path(group),
                unit=group.parent_school.host_unit_id,
            )
            return membership
    except IntegrityError as error:
        # The same family (or child) twice at the same instant: the partial unique
        # constraint refuses the second; its place and quota roll back with it.
        raise GroupError("already_member") from error


def group_request_decide(*, user, membership_id, approve: bool) -> GroupMembership:
    """The facilitator (or a coordinator) accepts or declines a request; the family is told."""
    now = timezone.now()
    with _locked_atomic():
        membership = (
            GroupMembership.objects.select_related("group", "group__parent_school")
            .filter(
                pk=id_or_none(membership_id),
                group__in=selectors.groups_changeable_by(user).values("pk"),
            )
            .first()
        )
        if membership is None:
            raise GroupError("request_missing")
        group = membership.group
        # Group row before membership row, like every other writer.
        group = Group.objects.select_for_update(of=("self",)).get(pk=group.pk)
        membership = (
            GroupMembership.objects.select_for_update(of=("self",))
            .filter(pk=membership.pk, status=Status.REQUESTED)
            .first()
        )
        if membership is None:
            raise GroupError("request_missing")
        if approve:
            _seat(group, membership)
            membership.status = Status.ACTIVE
            membership.joined_at = now
            action, subject, lead = (
                "groups.membership.approve",
                _("您已加入「%(name)s」") % {"name": group.name},
                _("带领人同意了您的申请，欢迎加入「%(name)s」。可以在小组页查看活动和交流区。")
                % {"name": group.name},
            )
        else:
            membership.status = Status.DECLINED
            membership.ended_at = now
            action, subject, lead = (
                "groups.membership.decline",
                _("关于加入「%(name)s」的申请") % {"name": group.name},
                _("很抱歉，这次没能加入「%(name)s」，欢迎看看其他小组。") % {"name": group.name},
            )
        membership.save(update_fields=["status", "joined_at", "ended_at"])
        audit_log_record(actor=user, action=action, target=membership, data={"group": group.pk})
        notice_send(
            key=f"groups.request_decided:{membership.pk}",
            topic="groups.membership",
            subject=subject,
            lead=lead,
            family_ids=[membership.family_id],
            path=_group_path(group) if approve else "/groups/",
            unit=group.parent_school.host_unit_id,
        )
    return membership


_PHONE_DROP = re.compile(r"[\s\-()（）]")


def _phone_clean(phone) -> str:
    digits = _PHONE_DROP.sub("", str(phone or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    if not re.fullmatch(r"1\d{10}", digits):
        raise GroupError("phone_invalid", field="phone")
    return digits


def group_member_add(*, user, group_id, phone, child_id=None) -> GroupMembership:
    """The facilitator adds the family of the guardian with that phone, among the
    families the facilitator sees. An unknown phone gets the same message whether or
    not it exists elsewhere."""
    phone = _phone_clean(phone)
    group = _managed_group(user, group_id)
    if not group.is_active:
        raise GroupError("group_dissolved")
    guardian = (
        Guardian.objects.select_related("family")
        .filter(family__in=families_visible_to(user).values("pk"))
        .filter(phone=phone)
        .first()
    ) or (
        Guardian.objects.select_related("family")
        .filter(family__in=families_visible_to(user).values("pk"))
        .filter(user__phone=phone)
        .first()
    )
    if guardian is None:
        raise GroupError("phone_unknown", field="phone")
    family = guardian.family
    if group.kind == Group.Kind.STUDY and child_id in (None, ""):
        children = list(Child.objects.filter(family=family).values_list("pk", flat=True)[:2])
        if len(children) != 1:
            raise GroupError("child_ambiguous", field="phone")
        child_id = children[0]
    child = _child_for(group, family, child_id)
    now = timezone.now()
    try:
        with _locked_atomic():
            _group_lock(group.pk)
            existing = _open_membership(group, family, child)
            if existing is not None and existing.status == Status.ACTIVE:
                raise GroupError("already_member", field="phone")
            membership = existing or GroupMembership(
                group=group, family=family, child=child, requested_at=None
            )
            _seat(group, membership)
            membership.status = Status.ACTIVE
            membership.joined_at = now
            membership.added_by = user
            membership.save()
            audit_log_record(
                actor=user,
                action="groups.membership.add",
                target=membership,
                data={"group": group.pk},
            )
            notice_send(
                key=f"groups.added:{membership.pk}",
                topic="groups.membership",
                subject=_("您已加入「%(name)s」") % {"name": group.name},
                lead=_("带领人把您的家庭加入了「%(name)s」。如不想参加，可以在小组页退出。")
                % {"name": group.name},
                family_ids=[family.pk],
                path=_group_path(group),
                unit=group.parent_school.host_unit_id,
            )
            return membership
    except IntegrityError as error:
        raise GroupError("already_member", field="phone") from error


def _end_memberships(group: Group, memberships, *, status: str, now, user) -> None:
    """End the memberships; a family with no active membership left in the group
    also loses its bookings of the group's sessions still to come (it may no longer
    read the group, so it may not keep a place in it)."""
    for membership in memberships:
        if membership.status == Status.ACTIVE:
            _unseat(group, membership)
        membership.status = status
        membership.ended_at = now
        membership.save(update_fields=["status", "ended_at"])
    for family_id in {m.family_id for m in memberships}:
        if GroupMembership.objects.filter(
            group=group, family_id=family_id, status=Status.ACTIVE
        ).exists():
            continue
        upcoming = Booking.objects.filter(
            family_id=family_id,
            offering__group_session__group=group,
            offering__starts_at__gt=now,
        ).exclude(status=Booking.Status.CANCELLED)
        for booking_id in upcoming.order_by("pk").values_list("pk", flat=True):
            booking_services.booking_cancel(
                booking_id=booking_id, family=None, cancelled_by=user, force=True
            )


def group_leave(*, user, group_id, child_id=None) -> list[GroupMembership]:
    """The family leaves (or withdraws its request). In a 学伴 group ``child_id``
    names the child; without it every child of the family leaves. From then on the
    family reads nothing of the group (its board included)."""
    family = _family_required(user)
    group_pk = id_or_none(group_id)
    now = timezone.now()
    with _locked_atomic():
        group = Group.objects.select_for_update(of=("self",)).filter(pk=group_pk).first()
        if group is None:
            raise GroupError("group_missing")
        memberships = GroupMembership.objects.select_for_update(of=("self",)).filter(
            group=group, family=family, status__in=GroupMembership.OPEN_STATUSES
        )
        if group.kind == Group.Kind.STUDY and child_id not in (None, ""):
            memberships = memberships.filter(child_id=id_or_none(child_id))
        memberships = list(memberships.order_by("pk"))
        if not memberships:
            if not GroupMembership.objects.filter(group=group, family=family).exists():
                raise GroupError("group_missing")
            raise GroupError("not_member")
        _end_memberships(group, memberships, status=Status.LEFT, now=now, user=user)
        for membership in memberships:
            audit_log_record(
                actor=user,
                action="groups.membership.leave",
                target=membership,
                data={"group": group.pk},
            )
    return memberships


def group_member_remove(*, user, membership_id, reason) -> GroupMembership:
    """The facilitator (or a coordinator) removes a member; the family is told why."""
    reason = _text(
        reason, field="reason", limit=REASON_MAX, required_code=None, long_code="reason_too_long"
    )
    now = timezone.now()
    with _locked_atomic():
        found = (
            GroupMembership.objects.filter(
                pk=id_or_none(membership_id),
                status=Status.ACTIVE,
                group__in=selectors.groups_changeable_by(user).values("pk"),
            )
            .values_list("group_id", flat=True)
            .first()
        )
        if found is None:
            raise GroupError("membership_missing")
        group = (
            Group.objects.select_for_update(of=("self",))
            .select_related("parent_school")
            .get(pk=found)
        )
        membership = (
            GroupMembership.objects.select_for_update(of=("self",))
            .filter(pk=id_or_none(membership_id), status=Status.ACTIVE)
            .first()
        )
        if membership is None:
            raise GroupError("membership_missing")
        _end_memberships(group, [membership], status=Status.REMOVED, now=now, user=user)
        audit_log_record(
            actor=user,
            action="groups.membership.remove",
            target=membership,
            data={"group": group.pk, "reason": reason},
        )
        lead = _("您的家庭已不在「%(name)s」中。如有疑问，请联系带领人或学校。") % {
            "name": group.name
        }
        if reason:
            lead = f"{lead}\n{_('说明：')}{reason}"
        notice_send(
            key=f"groups.removed:{membership.pk}",
            topic="groups.membership",
            subject=_("关于小组「%(name)s」") % {"name": group.name},
            lead=lead,
            family_ids=[membership.family_id],
            path="/groups/",
            unit=group.parent_school.host_unit_id,
        )
    return membership


# --- group sessions -------------------------------------------------------------------


def _aware(value, *, field: str) -> dt.datetime:
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        value = parse_datetime(value.strip()) if value.strip() else None
    if not isinstance(value, dt.datetime):
        raise GroupError("session_times_invalid", field=field)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def group_session_create(
    *,
    user,
    group_id,
    title,
    starts_at,
    ends_at,
    capacity,
    venue="",
    online_url="",
    note="",
) -> GroupSession:
    """A session of the group's own: limited places (bookings) at the school's host
    unit, bookable by the group's members only."""
    group = _managed_group(user, group_id)
    if not group.is_active:
        raise GroupError("group_dissolved")
    title = _text(
        title,
        field="title",
        limit=200,
        required_code="session_title_required",
        long_code="name_too_long",
    )
    starts_at = _aware(starts_at, field="starts_at")
    ends_at = _aware(ends_at, field="ends_at")
    if ends_at <= starts_at:
        raise GroupError("session_times_invalid", field="ends_at")
    try:
        capacity = int(str(capacity).strip())
    except (TypeError, ValueError):
        raise GroupError("session_capacity_invalid", field="capacity") from None
    if not 1 <= capacity <= SESSION_CAPACITY_MAX:
        raise GroupError("session_capacity_invalid", field="capacity")
    venue = _text(venue, field="venue", limit=200, required_code=None, long_code="name_too_long")
    note = _text(note, field="note", limit=300, required_code=None, long_code="reason_too_long")
    online_url = str(online_url or "").strip()
    if online_url and not re.match(r"^https?://[^\s]+$", online_url):
        raise GroupError("session_url_invalid", field="online_url")
    school = group.parent_school
    with _locked_atomic():
        offering = booking_services.offering_create(
            kind=Offering.Kind.GROUP_SESSION,
            title=title,
            unit=school.host_unit,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            created_by=user,
        )
        session = GroupSession.objects.create(
            group=group,
            offering=offering,
            venue=venue,
            online_url=online_url,
            note=note,
            created_by=user,
        )
        audit_log_record(
            actor=user,
            action="groups.session.create",
            target=session,
            data={"group": group.pk, "offering": offering.pk},
        )
        family_ids = list(selectors.member_family_ids(group).values_list("family_id", flat=True))
        if family_ids:
            when = timezone.localtime(starts_at).strftime("%m月%d日 %H:%M")
            notice_send(
                key=f"groups.session:{session.pk}",
                topic="groups.session",
                subject=_("「%(name)s」有新活动：%(title)s") % {"name": group.name, "title": title},
                lead=_("%(when)s %(title)s，名额有限，可以在小组页预约。")
                % {"when": when, "title": title},
                family_ids=family_ids,
                path=f"/groups/sessions/{session.pk}/",
                unit=school.host_unit_id,
            )
    return session


def group_session_book(*, user, session_id, guardian_ids=(), child_ids=()) -> Booking:
    """A member family books a session of its group (active members only; anyone
    else: session_missing, a 404). Without a party, the guardian booking comes alone.
    Booking rules (full → waiting list, closed, twice) are bookings'; BookingError
    passes through with its message."""
    family = _family_required(user)
    session = (
        GroupSession.objects.select_related("group")
        .filter(pk=id_or_none(session_id), group__in=selectors.member_group_ids(family))
        .first()
    )
    if session is None:
        raise GroupError("session_missing")
    guardian_ids = [i for i in (id_or_none(g) for g in guardian_ids or ()) if i is not None]
    child_ids = [i for i in (id_or_none(c) for c in child_ids or ()) if i is not None]
    if not guardian_ids and not child_ids:
        guardian = guardian_for_user(user)
        guardian_ids = [guardian.pk] if guardian else []
    return booking_services.booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=user,
        guardian_ids=guardian_ids,
        child_ids=child_ids,
    )


def group_session_cancel(*, user, booking_id) -> Booking:
    """A family cancels its own booking of a group session."""
    family = _family_required(user)
    booking = Booking.objects.filter(
        pk=id_or_none(booking_id), family=family, offering__group_session__isnull=False
    ).first()
    if booking is None:
        raise GroupError("booking_missing")
    return booking_services.booking_cancel(booking_id=booking.pk, family=family, cancelled_by=user)


def group_session_attendance(*, user, booking_id, present: bool) -> Booking:
    """The facilitator (or a coordinator) marks a member's booking present or absent."""
    booking = Booking.objects.filter(
        pk=id_or_none(booking_id),
        offering__group_session__group__in=selectors.groups_changeable_by(user).values("pk"),
    ).first()
    if booking is None:
        raise GroupError("booking_missing")
    booking, _newly = booking_services.booking_mark_attendance(
        booking_id=booking.pk, present=bool(present), marked_by=user
    )
    return booking
