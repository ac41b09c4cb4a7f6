"""Registry write services: roles (staff flag, admin group, audit), deactivation
and adding units to an alliance, each within the actor's scope."""

import pytest

from members import access, registry
from members.models import AuditLog, Membership, MemberUnit, RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    MembershipFactory,
    MemberUnitFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Role = RoleAssignment.Role


@pytest.fixture
def admin_user():
    user = UserFactory(username="district")
    registry.role_assign(actor=None, user=user, role=Role.CITY_ADMIN)
    return user


def test_role_assign_makes_staff_adds_group_and_audits(admin_user):
    # given
    alliance = AllianceFactory()
    user = UserFactory()
    # when
    assignment = registry.role_assign(
        actor=admin_user, user=user, role=Role.ALLIANCE_COORDINATOR, alliance=alliance
    )
    # then
    user.refresh_from_db()
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["联盟协调员"]
    assert user.has_perm("members.change_memberunit")
    assert not user.has_perm("members.import_memberunit")
    entry = AuditLog.objects.get(action="members.role.assign", target_id=str(assignment.pk))
    assert entry.actor == admin_user
    assert entry.data["role"] == Role.ALLIANCE_COORDINATOR


def test_role_assign_twice_is_refused(admin_user):
    # given
    unit = MemberUnitFactory()
    user = UserFactory()
    registry.role_assign(actor=admin_user, user=user, role=Role.UNIT_COORDINATOR, unit=unit)
    # when / then
    with pytest.raises(registry.RegistryError) as error:
        registry.role_assign(actor=admin_user, user=user, role=Role.UNIT_COORDINATOR, unit=unit)
    assert error.value.code == "role_exists"


def test_role_assign_with_wrong_scope_is_refused(admin_user):
    # when / then: an alliance coordinator needs an alliance
    with pytest.raises(registry.RegistryError) as error:
        registry.role_assign(actor=admin_user, user=UserFactory(), role=Role.ALLIANCE_COORDINATOR)
    assert error.value.code == "role_invalid"
    assert "联盟" in str(error.value.message)


def test_role_revoke_removes_admin_access_and_audits(admin_user):
    # given
    user = UserFactory()
    assignment = registry.role_assign(
        actor=admin_user, user=user, role=Role.UNIT_COORDINATOR, unit=MemberUnitFactory()
    )
    # when
    registry.role_revoke(actor=admin_user, assignment=assignment)
    # then
    user.refresh_from_db()
    assert not user.is_staff
    assert not user.groups.exists()
    assert AuditLog.objects.filter(action="members.role.revoke", actor=admin_user).count() == 1
    assert not RoleAssignment.objects.filter(user=user).exists()


def test_role_revoke_keeps_staff_while_another_coordinator_role_remains(admin_user):
    # given
    user = UserFactory()
    first = registry.role_assign(
        actor=admin_user, user=user, role=Role.UNIT_COORDINATOR, unit=MemberUnitFactory()
    )
    registry.role_assign(
        actor=admin_user, user=user, role=Role.ALLIANCE_COORDINATOR, alliance=AllianceFactory()
    )
    # when
    registry.role_revoke(actor=admin_user, assignment=first)
    # then
    user.refresh_from_db()
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["联盟协调员"]


def test_unit_deactivate_changes_active_units_and_audits_each(admin_user):
    # given
    units = MemberUnitFactory.create_batch(3)
    MemberUnit.objects.filter(pk=units[0].pk).update(is_active=False)
    # when
    changed = registry.unit_deactivate(actor=admin_user, units=units)
    # then
    assert changed == 2
    assert not MemberUnit.objects.filter(is_active=True).exists()
    logged = set(
        AuditLog.objects.filter(action="members.unit.deactivate").values_list(
            "target_id", flat=True
        )
    )
    assert logged == {str(units[1].pk), str(units[2].pk)}


def test_unit_deactivate_refuses_units_outside_scope(admin_user):
    # given: a coordinator of one unit tries to deactivate another
    own, other = MemberUnitFactory(), MemberUnitFactory()
    coordinator = UserFactory()
    registry.role_assign(actor=admin_user, user=coordinator, role=Role.UNIT_COORDINATOR, unit=own)
    # when / then
    with pytest.raises(registry.RegistryError) as error:
        registry.unit_deactivate(actor=coordinator, units=[own, other])
    assert error.value.code == "unit_not_allowed"
    assert MemberUnit.objects.filter(is_active=True).count() == 2


def test_units_add_to_alliance_adds_rejoins_and_skips_current(admin_user):
    # given
    alliance = AllianceFactory()
    current = MembershipFactory(alliance=alliance).unit
    left = MembershipFactory(alliance=alliance, left_on="2024-01-01").unit
    new = MemberUnitFactory()
    # when
    added, already = registry.units_add_to_alliance(
        actor=admin_user, alliance=alliance, units=[current, left, new]
    )
    # then
    assert (added, already) == (2, 1)
    assert Membership.objects.filter(alliance=alliance, left_on__isnull=True).count() == 3
    assert AuditLog.objects.filter(action="members.membership.add").count() == 2


def test_alliance_coordinator_adds_only_to_own_alliance(admin_user):
    # given
    own, other = AllianceFactory(), AllianceFactory()
    unit = MembershipFactory(alliance=own).unit
    coordinator = UserFactory()
    registry.role_assign(
        actor=admin_user, user=coordinator, role=Role.ALLIANCE_COORDINATOR, alliance=own
    )
    # when / then
    with pytest.raises(registry.RegistryError) as error:
        registry.units_add_to_alliance(actor=coordinator, alliance=other, units=[unit])
    assert error.value.code == "alliance_not_allowed"
    assert not Membership.objects.filter(alliance=other).exists()


def test_access_scopes_follow_roles(admin_user):
    # given
    alliance = AllianceFactory()
    in_alliance = MembershipFactory(alliance=alliance).unit
    gone = MembershipFactory(alliance=alliance, left_on="2024-01-01").unit
    child = MemberUnitFactory(parent=in_alliance)
    elsewhere = MemberUnitFactory()
    alliance_coordinator, unit_coordinator = UserFactory(), UserFactory()
    registry.role_assign(
        actor=admin_user,
        user=alliance_coordinator,
        role=Role.ALLIANCE_COORDINATOR,
        alliance=alliance,
    )
    registry.role_assign(
        actor=admin_user, user=unit_coordinator, role=Role.UNIT_COORDINATOR, unit=in_alliance
    )
    # then
    assert set(access.units_visible_to(alliance_coordinator)) == {in_alliance}
    assert set(access.units_visible_to(unit_coordinator)) == {in_alliance, child}
    assert access.units_visible_to(admin_user).count() == 4
    assert not access.can_view_unit(alliance_coordinator, gone)
    assert not access.can_change_unit(unit_coordinator, elsewhere)
    assert set(access.memberships_visible_to(unit_coordinator).values_list("unit", flat=True)) == {
        in_alliance.pk
    }
