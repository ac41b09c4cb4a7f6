"""Two districts of one city for the multi-district tests of the portal's apps
(events, courses, parent_school, bookings, reports, api): a unit in a street of
each, an alliance of district A, A's district administrator and the city
administrator. Roles are given through members.registry.role_assign, as the
admin gives them (staff flag and admin group included)."""

from __future__ import annotations

from dataclasses import dataclass

from members import registry
from members.models import Region, RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    MembershipFactory,
    MemberUnitFactory,
    RegionFactory,
    UserFactory,
)

Role = RoleAssignment.Role


@dataclass
class TwoDistricts:
    city: Region
    district_a: Region
    district_b: Region
    unit_a: object  # a school in a street of district A
    unit_b: object  # a school in a street of district B
    alliance_a: object  # district A's alliance, unit_a a member
    admin_a: object  # district administrator of A
    admin_b: object  # district administrator of B
    city_admin: object


def two_districts() -> TwoDistricts:
    city = RegionFactory(name="重庆市", kind=Region.Kind.CITY)
    district_a = RegionFactory(name="渝中区", kind=Region.Kind.DISTRICT, parent=city)
    district_b = RegionFactory(name="乙方区", kind=Region.Kind.DISTRICT, parent=city)
    street_a = RegionFactory(name="解放碑街道", kind=Region.Kind.STREET, parent=district_a)
    street_b = RegionFactory(name="乙方街道", kind=Region.Kind.STREET, parent=district_b)
    unit_a = MemberUnitFactory(name="渝中实验小学", region=street_a)
    unit_b = MemberUnitFactory(name="乙方实验小学", region=street_b)
    alliance_a = AllianceFactory(name="渝中协同育人联盟", region=district_a)
    MembershipFactory(alliance=alliance_a, unit=unit_a)

    def admin(username, role, region=None):
        user = UserFactory(username=username)
        registry.role_assign(actor=None, user=user, role=role, region=region)
        user.refresh_from_db()
        return user

    return TwoDistricts(
        city=city,
        district_a=district_a,
        district_b=district_b,
        unit_a=unit_a,
        unit_b=unit_b,
        alliance_a=alliance_a,
        admin_a=admin("admin_a", Role.DISTRICT_ADMIN, district_a),
        admin_b=admin("admin_b", Role.DISTRICT_ADMIN, district_b),
        city_admin=admin("city_admin", Role.CITY_ADMIN),
    )
