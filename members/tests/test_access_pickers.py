"""The rule for who may be linked to a row: ``access.users_pickable_by`` (and the
family, guardian, child and region rules the admin pickers ask)."""

import pytest

from members import access, registry
from members.models import RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RegionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
Role = RoleAssignment.Role


@pytest.fixture
def people():
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    district = RegionFactory(name="区", kind="district")
    street_a, street_b = (
        RegionFactory(name="甲街道", parent=district),
        RegionFactory(name="乙街道", parent=district),
    )
    a, b = MemberUnitFactory(region=street_a), MemberUnitFactory(region=street_b)
    alliance = AllianceFactory()
    MembershipFactory(alliance=alliance, unit=a)

    def role(name, kind, **scope):
        user = UserFactory(username=name)
        registry.role_assign(actor=root, user=user, role=kind, **scope)
        return user

    def parent(name, school):
        guardian = GuardianFactory(user=UserFactory(username=name))
        ChildFactory(family=guardian.family, school=school)
        return guardian

    return {
        "root": root,
        "district_admin": role("district_admin", Role.CITY_ADMIN),
        "alliance_coord": role("alliance_coord", Role.ALLIANCE_COORDINATOR, alliance=alliance),
        "coord_a": role("coord_a", Role.UNIT_COORDINATOR, unit=a),
        "teacher_a": role("teacher_a", Role.INSTRUCTOR, unit=a),
        "coord_b": role("coord_b", Role.UNIT_COORDINATOR, unit=b),
        "parent_a": parent("parent_a", a),
        "parent_b": parent("parent_b", b),
        "loner": UserFactory(username="loner"),
        "regions": (district, street_a, street_b),
    }


def _names(users):
    return set(users.values_list("username", flat=True))


def test_a_unit_coordinator_may_link_their_units_staff_and_parents_and_themselves(people):
    assert _names(access.users_pickable_by(people["coord_a"])) == {
        "coord_a",
        "teacher_a",
        "parent_a",
    }


def test_an_alliance_coordinator_may_link_the_member_units_people(people):
    assert _names(access.users_pickable_by(people["alliance_coord"])) == {
        "alliance_coord",
        "coord_a",
        "teacher_a",
        "parent_a",
    }


def test_instructors_link_nobody_and_district_admins_anybody(people):
    assert not access.users_pickable_by(people["teacher_a"]).exists()
    assert access.users_pickable_by(people["district_admin"]).count() == 9  # every account


def test_families_guardians_children_and_regions_follow_the_units(people):
    coord = people["coord_a"]
    assert list(access.guardians_visible_to(coord)) == [people["parent_a"]]
    assert list(access.families_visible_to(coord)) == [people["parent_a"].family]
    assert [c.family for c in access.children_visible_to(coord)] == [people["parent_a"].family]
    district, street_a, _street_b = people["regions"]
    assert set(access.regions_visible_to(coord)) == {district, street_a}
