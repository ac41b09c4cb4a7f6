"""The one place that answers "may this user see or change this unit's data?".

Admin, the coordinator pages, exports and reports all ask these functions, so a
scoping rule is changed here once and holds everywhere.

- A city administrator (or a superuser) sees every district and every unit.
- A district administrator sees their district: the units whose region lies in
  it, the alliances whose region lies in it (and those alliances' member units),
  and the families who live there or whose child attends one of those units.
  For everything else they act as the coordinator of every alliance of their
  district, so ``coordinated_alliance_ids`` includes those alliances.
- An alliance coordinator sees the units that are current members of their alliance.
- A unit coordinator or an instructor sees their own unit and the units below it.

Families, guardians and children come into a coordinator's view through a child
who attends one of their units (the coordinator's family list asks the same).
Who may be *linked* to a row (an instructor's login, say) is
``users_pickable_by``; every admin picker asks these functions through
``members/admin_scoping.py``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from .models import (
    Alliance,
    Child,
    Family,
    Guardian,
    Membership,
    MemberUnit,
    Region,
    RoleAssignment,
)

Role = RoleAssignment.Role
ADMIN_ROLES = (Role.CITY_ADMIN, Role.DISTRICT_ADMIN)
COORDINATOR_ROLES = (*ADMIN_ROLES, Role.ALLIANCE_COORDINATOR, Role.UNIT_COORDINATOR)


def _roles(user) -> list[RoleAssignment]:
    # Cached on the user object: one query per request, however often we ask.
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_role_assignments_cache", None)
    if cached is None:
        cached = list(RoleAssignment.objects.filter(user=user))
        user._role_assignments_cache = cached
    return cached


def _is_active(user) -> bool:
    return getattr(user, "is_authenticated", False) and user.is_active


def sees_every_district(user) -> bool:
    """City administrators and superusers: no scope at all. The only question
    that may answer "all rows" without a filter."""
    if not _is_active(user):
        return False
    return user.is_superuser or any(r.role == Role.CITY_ADMIN for r in _roles(user))


def is_district_admin(user) -> bool:
    """Holds an administrator's powers (city or district). Which rows those powers
    reach is scoped: ask ``sees_every_district`` before returning all rows."""
    if not _is_active(user):
        return False
    return user.is_superuser or any(r.role in ADMIN_ROLES for r in _roles(user))


def administered_district_ids(user) -> list[int]:
    """The districts (regions) this user administers as a district administrator."""
    if not _is_active(user):
        return []
    return [r.region_id for r in _roles(user) if r.role == Role.DISTRICT_ADMIN]


def regions_in_districts(district_ids: list[int]) -> QuerySet[Region]:
    """The districts and every region below them: street or town, community, and
    one level more for a village group, as region imports allow."""
    return Region.objects.filter(
        Q(pk__in=district_ids)
        | Q(parent_id__in=district_ids)
        | Q(parent__parent_id__in=district_ids)
        | Q(parent__parent__parent_id__in=district_ids)
    )


def _district_region_ids(user) -> QuerySet | None:
    district_ids = administered_district_ids(user)
    if not district_ids:
        return None
    return regions_in_districts(district_ids).order_by().values("pk")


def units_in_administered_districts(user) -> QuerySet[MemberUnit] | None:
    """The units whose region lies in a district ``user`` administers (None: not a
    district administrator)."""
    regions = _district_region_ids(user)
    return None if regions is None else MemberUnit.objects.filter(region__in=regions)


def district_alliance_ids(user) -> list[int]:
    """The alliances whose region lies in a district ``user`` administers."""
    # Cached on the user like the roles: many callers test membership in it.
    cached = getattr(user, "_district_alliance_ids_cache", None)
    if cached is None:
        regions = _district_region_ids(user)
        cached = (
            []
            if regions is None
            else list(
                Alliance.objects.filter(region__in=regions).order_by().values_list("pk", flat=True)
            )
        )
        user._district_alliance_ids_cache = cached
    return cached


def is_coordinator(user) -> bool:
    """District admins, alliance coordinators and unit coordinators."""
    return is_district_admin(user) or any(r.role in COORDINATOR_ROLES for r in _roles(user))


def is_staff_member(user) -> bool:
    """Coordinators and instructors: the people who reach the coordinator pages."""
    return is_coordinator(user) or any(r.role == Role.INSTRUCTOR for r in _roles(user))


def visible_unit_ids_filter(user) -> Q | None:
    """A Q over MemberUnit for the units this user may see; None means all units."""
    if sees_every_district(user):
        return None
    unit_ids = [
        r.unit_id for r in _roles(user) if r.role in (Role.UNIT_COORDINATOR, Role.INSTRUCTOR)
    ]
    return _unit_condition(coordinated_alliance_ids(user), unit_ids, _district_region_ids(user))


def _unit_condition(alliance_ids: list[int], unit_ids: list[int], region_ids=None) -> Q:
    # Subqueries rather than joins: no duplicate rows, so no DISTINCT, which keeps
    # the admin changelist (ordering, counting) cheap on 10,000 units.
    condition = Q(pk__in=[])
    if region_ids is not None:
        condition |= Q(region__in=region_ids)
    if alliance_ids:
        current_members = Membership.objects.filter(
            alliance_id__in=alliance_ids, left_on__isnull=True
        ).values("unit_id")
        condition |= Q(pk__in=current_members)
    if unit_ids:
        condition |= Q(pk__in=unit_ids) | Q(parent_id__in=unit_ids)
    return condition


def units_visible_to(user) -> QuerySet[MemberUnit]:
    units = MemberUnit.objects.all()
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return units.none()
    condition = visible_unit_ids_filter(user)
    if condition is None:
        return units
    return units.filter(condition)


def visible_unit_ids(user) -> QuerySet:
    """Unit ids for use in ``__in`` filters of other apps' querysets."""
    return units_visible_to(user).order_by().values("pk")


def alliances_visible_to(user) -> QuerySet[Alliance]:
    if sees_every_district(user):
        return Alliance.objects.all()
    alliance_ids = coordinated_alliance_ids(user)
    return Alliance.objects.filter(
        Q(pk__in=alliance_ids) | Q(memberships__unit__in=visible_unit_ids(user))
    ).distinct()


def can_view_unit(user, unit: MemberUnit | int) -> bool:
    unit_id = unit if isinstance(unit, int) else unit.pk
    if sees_every_district(user):
        return True
    return units_visible_to(user).filter(pk=unit_id).exists()


def can_change_unit(user, unit: MemberUnit | int) -> bool:
    """Instructors may look but not change; coordinators change what they see."""
    if sees_every_district(user):
        return True
    if not is_coordinator(user):
        return False
    unit_id = unit if isinstance(unit, int) else unit.pk
    return units_changeable_by(user).filter(pk=unit_id).exists()


def units_changeable_by(user) -> QuerySet[MemberUnit]:
    """The units a coordinator may change: like ``units_visible_to`` without instructors."""
    if sees_every_district(user):
        return MemberUnit.objects.all()
    if not is_coordinator(user):
        return MemberUnit.objects.none()
    return MemberUnit.objects.filter(
        _unit_condition(
            coordinated_alliance_ids(user), coordinated_unit_ids(user), _district_region_ids(user)
        )
    )


def coordinated_alliance_ids(user) -> list[int]:
    """Alliances this user coordinates: their alliance coordinator roles, and for a
    district administrator every alliance of their district. (A city administrator
    coordinates none by name; they pass ``sees_every_district`` instead.)"""
    if not getattr(user, "is_active", False):
        return []
    own = [r.alliance_id for r in _roles(user) if r.role == Role.ALLIANCE_COORDINATOR]
    district = district_alliance_ids(user)
    return own + [pk for pk in district if pk not in own] if district else own


def coordinated_unit_ids(user) -> list[int]:
    """Units this user coordinates directly (unit coordinator roles)."""
    if not getattr(user, "is_active", False):
        return []
    return [r.unit_id for r in _roles(user) if r.role == Role.UNIT_COORDINATOR]


def memberships_visible_to(user) -> QuerySet[Membership]:
    """Memberships a user may see: all for district admins; an alliance coordinator
    sees the memberships of their alliances; a unit coordinator (or instructor)
    those of the units they see."""
    memberships = Membership.objects.all()
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return memberships.none()
    if sees_every_district(user):
        return memberships
    alliance_ids = coordinated_alliance_ids(user)
    unit_ids = [
        r.unit_id for r in _roles(user) if r.role in (Role.UNIT_COORDINATOR, Role.INSTRUCTOR)
    ]
    condition = Q(pk__in=[])
    if alliance_ids:
        condition |= Q(alliance_id__in=alliance_ids)
    if unit_ids:
        condition |= Q(unit_id__in=unit_ids) | Q(unit__parent_id__in=unit_ids)
    return memberships.filter(condition)


def memberships_changeable_by(user) -> QuerySet[Membership]:
    """City admins change every membership; district admins and alliance coordinators
    those of their alliances. Unit coordinators only look."""
    if sees_every_district(user):
        return Membership.objects.all()
    return Membership.objects.filter(alliance_id__in=coordinated_alliance_ids(user))


def alliances_changeable_by(user) -> QuerySet[Alliance]:
    """Alliances a user may add units to: all for city admins, else their own (a
    district admin's: their district's)."""
    if sees_every_district(user):
        return Alliance.objects.all()
    return Alliance.objects.filter(pk__in=coordinated_alliance_ids(user))


def regions_visible_to(user) -> QuerySet[Region]:
    """Regions that hold a unit the user sees, with the regions above them.

    Regions are nested three deep (district → street or town → community), so a
    unit's region, its parent and its grandparent cover every level (and a city
    above a district). A district administrator sees their whole district."""
    if sees_every_district(user):
        return Region.objects.all()
    visible = units_visible_to(user).order_by().values("region_id")
    held = Region.objects.filter(pk__in=visible)
    condition = (
        Q(pk__in=held.values("pk"))
        | Q(pk__in=held.values("parent_id"))
        | Q(pk__in=held.values("parent__parent_id"))
        | Q(pk__in=held.values("parent__parent__parent_id"))
    )
    district_ids = administered_district_ids(user)
    if district_ids:
        condition |= Q(pk__in=regions_in_districts(district_ids).values("pk")) | Q(
            pk__in=Region.objects.filter(pk__in=district_ids).values("parent_id")
        )
    return Region.objects.filter(condition)


def regions_changeable_by(user) -> QuerySet[Region]:
    """Regions a user may edit or put new regions under: every region for a city
    administrator; the regions inside their district for a district administrator
    (not the district itself, nor the city above it); none for anyone else."""
    if sees_every_district(user):
        return Region.objects.all()
    district_ids = administered_district_ids(user)
    if not district_ids:
        return Region.objects.none()
    return regions_in_districts(district_ids).exclude(pk__in=district_ids)


def families_visible_to(user) -> QuerySet[Family]:
    """Families with a child at a unit the user sees (all for city admins); for a
    district admin also the families whose home community lies in the district."""
    if sees_every_district(user):
        return Family.objects.all()
    at_visible_school = Child.objects.filter(school__in=visible_unit_ids(user))
    condition = Q(pk__in=at_visible_school.values("family_id"))
    regions = _district_region_ids(user)
    if regions is not None:
        condition |= Q(home_community__in=regions)
    return Family.objects.filter(condition)


def guardians_visible_to(user) -> QuerySet[Guardian]:
    """The guardians of the families the user sees."""
    if sees_every_district(user):
        return Guardian.objects.all()
    return Guardian.objects.filter(family__in=families_visible_to(user).values("pk"))


def children_visible_to(user) -> QuerySet[Child]:
    """Children who attend a unit the user sees (not their siblings elsewhere)."""
    if sees_every_district(user):
        return Child.objects.all()
    return Child.objects.filter(school__in=visible_unit_ids(user))


def users_pickable_by(user) -> QuerySet:
    """The accounts this user may link to a row (an instructor's login, a report's
    requester …) and look up in admin pickers.

    - City administrators (and superusers): every account.
    - District administrators: as a coordinator of every alliance of their district,
      and the other administrators of their district.
    - Coordinators: themselves; the staff of the units they see (anyone holding a
      unit coordinator or instructor role there); the other coordinators of the
      alliances they coordinate; and the guardians of the families they see
      (a child attends one of their units).
    - Everyone else (instructors included, who only look): nobody.

    Subqueries, not joins: no duplicate rows and no DISTINCT.
    """
    users = get_user_model().objects.all()
    if sees_every_district(user):
        return users
    if not is_coordinator(user):
        return users.none()
    visible = visible_unit_ids(user)
    staff = RoleAssignment.objects.filter(
        Q(unit__in=visible)
        | Q(alliance_id__in=coordinated_alliance_ids(user))
        | Q(region_id__in=administered_district_ids(user))
    ).values("user_id")
    guardians = guardians_visible_to(user).values("user_id")
    return users.filter(Q(pk=user.pk) | Q(pk__in=staff) | Q(pk__in=guardians))


def regions_placeable_by(user) -> QuerySet[Region] | None:
    """Regions a unit, an alliance or a new region may be put in: every region for a
    city administrator (None); a district administrator's districts and everything
    below them, so nothing they create lands outside their district."""
    if sees_every_district(user):
        return None
    district_ids = administered_district_ids(user)
    if district_ids:
        return regions_in_districts(district_ids)
    return regions_visible_to(user)


def districts_grantable_by(user) -> QuerySet[Region] | None:
    """Districts a district administrator role may be granted for (None: all)."""
    if sees_every_district(user):
        return None
    return Region.objects.filter(pk__in=administered_district_ids(user))


def roles_visible_to(user) -> QuerySet[RoleAssignment]:
    """Role grants an administrator sees: all for city admins; for a district admin
    those of their districts, of their district's alliances and of its units."""
    roles = RoleAssignment.objects.all()
    if sees_every_district(user):
        return roles
    if not is_district_admin(user):
        return roles.none()
    return roles.filter(
        Q(region_id__in=administered_district_ids(user))
        | Q(alliance_id__in=coordinated_alliance_ids(user))
        | Q(unit__in=units_changeable_by(user).order_by().values("pk"))
    )
