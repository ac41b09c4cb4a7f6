"""Writes for the alliance registry: units, memberships and roles.

The admin (bulk actions, role assignment), the demo loader and any future
coordinator page call these functions. Each one checks scope through
``members.access``, writes inside a transaction and appends audit entries with
dotted action names (``members.unit.deactivate``, ``members.role.assign`` …).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import access
from .models import Alliance, AuditLog, Membership, MemberUnit, Region, RoleAssignment
from .services import audit_log_record

Role = RoleAssignment.Role

MESSAGES = {
    "alliance_not_allowed": _("您不能为该联盟添加成员单位。"),
    "unit_not_allowed": _("您无权修改所选的部分单位。"),
    "role_invalid": _("角色设置不正确：%(detail)s"),
    "role_exists": _("该用户已拥有这一角色。"),
    "role_out_of_scope": _(
        "您只能在自己管辖的区县内授予或撤销角色；市级管理员只能由市级管理员授予。"
    ),
    "no_units": _("请至少选择一个单位。"),
}


class RegistryError(Exception):
    """A registry rule was broken; ``message`` is ready to show to the user."""

    def __init__(self, code: str, **params):
        self.code = code
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)


# The portal's own apps. A district administrator holds every model permission
# in them (events, the delivery log, reports … as well as the registry); what
# each admin page then allows is decided by the admin and members/access.py.
# Third-party admin pages (scheduled tasks, e-mail addresses, sessions) stay the
# superuser's.
PORTAL_APPS = (
    "members",
    "notifications",
    "wechat",
    "parent_school",
    "bookings",
    "courses",
    "events",
    "handbook",
    "recognition",
    "groups",
    "community",
    "surveys",
    "evaluation",
    "guidance",
    "volunteers",
    "certificates",
    "reports",
    "portal",
    "api",
)
EVERY_PORTAL_PERMISSION = "every portal permission"

# Admin groups that role_assign puts coordinators into. The permissions are
# model-level ("may open the unit changelist at all"); which rows a member of
# the group sees is decided per request by members/access.py. Coordinators'
# codenames are the members app's; their other admin pages (parent schools,
# courses, offerings …) follow their role, not model permissions.
ROLE_GROUPS: dict[str, tuple[str, list[str] | str]] = {
    Role.CITY_ADMIN: ("市级管理员", EVERY_PORTAL_PERMISSION),
    Role.DISTRICT_ADMIN: ("区级管理员", EVERY_PORTAL_PERMISSION),
    Role.ALLIANCE_COORDINATOR: (
        "联盟协调员",
        [
            "view_alliance",
            "view_memberunit",
            "change_memberunit",
            "export_memberunit",
            "view_membership",
            "add_membership",
            "change_membership",
            "export_membership",
        ],
    ),
    Role.UNIT_COORDINATOR: (
        "单位协调员",
        [
            "view_alliance",
            "view_memberunit",
            "change_memberunit",
            "export_memberunit",
            "view_membership",
        ],
    ),
}


def role_permissions(*, role: str):
    """The model permissions a coordinator role's admin group holds."""
    _name, codenames = ROLE_GROUPS[role]
    if codenames == EVERY_PORTAL_PERMISSION:
        return Permission.objects.filter(content_type__app_label__in=PORTAL_APPS)
    return Permission.objects.filter(content_type__app_label="members", codename__in=codenames)


def role_group_get(*, role: str) -> Group | None:
    """The admin group for a coordinator role, created with its permissions if missing."""
    if role not in ROLE_GROUPS:
        return None
    name, _codenames = ROLE_GROUPS[role]
    group, _created = Group.objects.get_or_create(name=name)
    # add(), not set(): permissions a superuser adds to the group by hand stay.
    group.permissions.add(*role_permissions(role=role))
    return group


def role_groups_sync() -> None:
    """Bring every role's admin group up to date: its permissions (a new model, a
    role given more) and its members (everyone holding the role).

    Runs after every ``migrate`` (``role_groups_sync_after_migrate``), so an
    existing database gets new permissions without anyone re-assigning roles.
    """
    for role in ROLE_GROUPS:
        group = role_group_get(role=role)
        holders = RoleAssignment.objects.filter(role=role).values("user_id")
        group.user_set.add(*group.user_set.model.objects.filter(pk__in=holders))


def role_groups_sync_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver (members/apps.py). Django sends post_migrate once per
    app after creating that app's permissions; we sync once, after the last
    portal app's, when every portal permission exists."""
    from django.apps import apps

    with_models = [
        config.label
        for config in apps.get_app_configs()
        if config.label in PORTAL_APPS and config.models_module is not None
    ]
    if with_models and sender.label == with_models[-1]:
        role_groups_sync()


def _user_roles_sync(user) -> None:
    """Staff flag and groups follow the user's coordinator roles."""
    held = set(RoleAssignment.objects.filter(user=user).values_list("role", flat=True))
    for role, (name, _codenames) in ROLE_GROUPS.items():
        if role in held:
            group = role_group_get(role=role)
            user.groups.add(group)
        else:
            user.groups.remove(*Group.objects.filter(name=name))
    coordinator = bool(held & set(ROLE_GROUPS))
    other_access = user.groups.exists() or user.user_permissions.exists()
    is_staff = user.is_superuser or coordinator or (user.is_staff and other_access)
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    # access.py caches roles on the user object: drop the cache.
    if hasattr(user, "_role_assignments_cache"):
        del user._role_assignments_cache
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        if hasattr(user, cache):
            delattr(user, cache)


@transaction.atomic
def role_assign(
    *,
    actor,
    user,
    role: str,
    alliance: Alliance | None = None,
    unit: MemberUnit | None = None,
    region: Region | None = None,
    ip_address: str | None = None,
) -> RoleAssignment:
    """Give ``user`` a role. Coordinators become staff and join the role's admin group.

    ``actor`` None is the system (demo data, commands); a person may grant only
    within their own scope (``role_grant_allowed``)."""
    assignment = RoleAssignment(user=user, role=role, alliance=alliance, unit=unit, region=region)
    if actor is not None and not role_grant_allowed(actor, assignment):
        raise RegistryError("role_out_of_scope")
    if RoleAssignment.objects.filter(
        user=user, role=role, alliance=alliance, unit=unit, region=region
    ).exists():
        raise RegistryError("role_exists")
    try:
        # clean() checks that the scope fits the role; the database constraints
        # back it up.
        assignment.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        raise RegistryError("role_invalid", detail="；".join(error.messages)) from error
    try:
        with transaction.atomic():
            assignment.save()
    except IntegrityError as error:
        # The same grant sent twice at once: the unique keys let the first in,
        # and the second is told the role exists, as if it had come later.
        if not RoleAssignment.objects.filter(
            user=user, role=role, alliance=alliance, unit=unit, region=region
        ).exists():
            raise
        raise RegistryError("role_exists") from error
    _user_roles_sync(user)
    audit_log_record(
        actor=actor,
        action="members.role.assign",
        target=assignment,
        data={
            "user": user.get_username(),
            "role": role,
            "alliance_id": alliance.pk if alliance else None,
            "unit_id": unit.pk if unit else None,
            "region_id": region.pk if region else None,
        },
        ip_address=ip_address,
    )
    return assignment


def role_grant_allowed(actor, assignment: RoleAssignment) -> bool:
    """May ``actor`` grant (or revoke) ``assignment``? City administrators may grant
    anything; a district administrator grants within their district only: its
    district administrators, the coordinators of its alliances, the staff of its
    units. A coordinator makes instructors of the units they change (approving a
    volunteer, say). Nobody else grants roles."""
    if access.sees_every_district(actor):
        return True
    if assignment.role == Role.INSTRUCTOR and not access.is_district_admin(actor):
        return access.units_changeable_by(actor).filter(pk=assignment.unit_id).exists()
    if not access.is_district_admin(actor):
        return False
    if assignment.role == Role.CITY_ADMIN:
        return False
    if assignment.role == Role.DISTRICT_ADMIN:
        return assignment.region_id in access.administered_district_ids(actor)
    if assignment.role == Role.ALLIANCE_COORDINATOR:
        return assignment.alliance_id in access.coordinated_alliance_ids(actor)
    return access.units_changeable_by(actor).filter(pk=assignment.unit_id).exists()


@transaction.atomic
def role_revoke(*, actor, assignment: RoleAssignment, ip_address: str | None = None) -> None:
    """Take a role away; a user left without coordinator roles loses admin access."""
    if actor is not None and not role_grant_allowed(actor, assignment):
        raise RegistryError("role_out_of_scope")
    user = assignment.user
    audit_log_record(
        actor=actor,
        action="members.role.revoke",
        target=assignment,
        data={
            "user": user.get_username(),
            "role": assignment.role,
            "alliance_id": assignment.alliance_id,
            "unit_id": assignment.unit_id,
        },
        ip_address=ip_address,
    )
    assignment.delete()
    _user_roles_sync(user)


def _audit_entries(actor, action: str, objects: Iterable, data: dict) -> None:
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    now = timezone.now()
    AuditLog.objects.bulk_create(
        [
            AuditLog(
                actor=actor if is_user else None,
                actor_label=(actor.get_username() if is_user else "system")[:150],
                action=action,
                target_type=obj._meta.label,
                target_id=str(obj.pk),
                target_repr=str(obj)[:200],
                data=data,
                created_at=now,
            )
            for obj in objects
        ],
        batch_size=500,
    )


def _changeable_units(actor, units: Iterable[MemberUnit] | Iterable[int]) -> list[MemberUnit]:
    ids = [u.pk if isinstance(u, MemberUnit) else int(u) for u in units]
    if not ids:
        raise RegistryError("no_units")
    allowed = list(access.units_changeable_by(actor).filter(pk__in=ids).order_by("pk"))
    if len(allowed) != len(set(ids)):
        raise RegistryError("unit_not_allowed")
    return allowed


@transaction.atomic
def unit_deactivate(*, actor, units: Iterable[MemberUnit] | Iterable[int]) -> int:
    """Mark units as no longer active (they stay in the registry and in history).

    Returns how many units changed; units already inactive are left alone.
    """
    allowed = _changeable_units(actor, units)
    changing = [u for u in allowed if u.is_active]
    MemberUnit.objects.filter(pk__in=[u.pk for u in changing]).update(is_active=False)
    _audit_entries(actor, "members.unit.deactivate", changing, {"is_active": False})
    return len(changing)


@transaction.atomic
def units_add_to_alliance(
    *,
    actor,
    alliance: Alliance,
    units: Iterable[MemberUnit] | Iterable[int],
    role: str = Membership.Role.MEMBER,
    joined_on: datetime.date | None = None,
) -> tuple[int, int]:
    """Make units current members of ``alliance``.

    A unit that had left rejoins (its leaving date is cleared); a current member
    is left as it is. Returns ``(added, already_members)``.
    """
    if not access.alliances_changeable_by(actor).filter(pk=alliance.pk).exists():
        raise RegistryError("alliance_not_allowed")
    ids = [u.pk if isinstance(u, MemberUnit) else int(u) for u in units]
    if not ids:
        raise RegistryError("no_units")
    # District admins add any unit; an alliance coordinator adds units they see.
    allowed = list(access.units_visible_to(actor).filter(pk__in=ids).order_by("pk"))
    if len(allowed) != len(set(ids)):
        raise RegistryError("unit_not_allowed")
    joined_on = joined_on or timezone.localdate()
    # Lock the alliance: two additions at once run in turn, so the second sees the
    # first's memberships as "already members" instead of hitting membership_unique.
    Alliance.objects.select_for_update(no_key=True).filter(pk=alliance.pk).first()
    existing = {
        m.unit_id: m
        for m in Membership.objects.select_for_update().filter(alliance=alliance, unit__in=allowed)
    }
    created, rejoined, already = [], [], 0
    for unit in allowed:
        membership = existing.get(unit.pk)
        if membership is None:
            created.append(Membership(alliance=alliance, unit=unit, role=role, joined_on=joined_on))
        elif membership.left_on is not None:
            membership.left_on = None
            membership.joined_on = joined_on
            membership.role = role
            rejoined.append(membership)
        else:
            already += 1
    Membership.objects.bulk_create(created)
    Membership.objects.bulk_update(rejoined, ["left_on", "joined_on", "role"])
    changed = created + rejoined
    memberships = Membership.objects.filter(
        alliance=alliance, unit_id__in=[m.unit_id for m in changed]
    ).select_related("alliance", "unit")
    _audit_entries(
        actor,
        "members.membership.add",
        memberships,
        {"alliance_id": alliance.pk, "role": role, "joined_on": joined_on.isoformat()},
    )
    return len(changed), already
