"""Two districts of one city for the multi-district tests of the feature apps
(every app above members imports this: it sits in members, the leftmost app).

Each district has a street, a school in it, an alliance of the district with that
school as its base unit, and a family whose child attends the school. District A
and B each have a district administrator; one city administrator sees both.
Roles are given through members.registry.role_assign, as the admin gives them
(staff flag and admin group included). Names of district B's rows carry 乙方, so
a page that leaks one is caught by a plain substring search.
"""

from __future__ import annotations

from dataclasses import dataclass

from members import registry
from members.models import Membership, Region, RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RegionFactory,
    UserFactory,
)

Role = RoleAssignment.Role


@dataclass
class Side:
    district: Region
    street: Region
    unit: object  # MemberUnit, a school in the district's street
    alliance: object  # the district's alliance, ``unit`` its base unit
    guardian: object  # Guardian (.family, .user); the child attends ``unit``
    child: object
    admin: object  # the district administrator (User)


@dataclass
class TwoDistricts:
    city: Region
    a: Side
    b: Side
    city_admin: object


def staff_user(username: str, role: str, **scope):
    """A user with one role, given as the admin gives it."""
    user = UserFactory(username=username, display_name=username)
    registry.role_assign(actor=None, user=user, role=role, **scope)
    user.refresh_from_db()
    return user


def _side(city: Region, tag: str, district_name: str, n: int) -> Side:
    district = RegionFactory(name=district_name, kind=Region.Kind.DISTRICT, parent=city)
    street = RegionFactory(name=f"{tag}街道", kind=Region.Kind.STREET, parent=district)
    unit = MemberUnitFactory(name=f"{tag}实验小学", region=street)
    alliance = AllianceFactory(name=f"{tag}协同育人联盟", region=district, base_unit=unit)
    MembershipFactory(alliance=alliance, unit=unit, role=Membership.Role.BASE)
    user = UserFactory(username=f"{tag}家长", display_name=f"{tag}家长", phone=f"1365555{n:04d}")
    guardian = GuardianFactory(user=user, phone=user.phone)
    child = ChildFactory(family=guardian.family, nickname=f"{tag}小宝", school=unit)
    admin = staff_user(f"{tag}区管理员", Role.DISTRICT_ADMIN, region=district)
    return Side(district, street, unit, alliance, guardian, child, admin)


def two_districts() -> TwoDistricts:
    city = RegionFactory(name="重庆市", kind=Region.Kind.CITY)
    return TwoDistricts(
        city=city,
        a=_side(city, "渝中", "渝中区", 1),
        b=_side(city, "乙方", "乙方区", 2),
        city_admin=staff_user("市级管理员", Role.CITY_ADMIN),
    )
