"""A buddy group's facilitator co-signs a member family's good-behaviour claim
(groups registers the scope through handbook.selectors.claim_verifier_scope_register)."""

import pytest

from community.tests.world import build_world
from groups import services as group_services
from handbook import services
from handbook.errors import HandbookError
from handbook.models import HandbookItem, ItemKind
from handbook.selectors import claims_verifiable_by
from members.models import RoleAssignment
from members.tests.factories import MemberUnitFactory, RoleAssignmentFactory, UserFactory

from .factories import ClaimFactory, HandbookItemFactory


@pytest.fixture
def world(db):
    world = build_world()
    # A volunteer facilitator who sees the group's school but not the unit the
    # claims are verified at: only the group hook lets them co-sign.
    volunteer = UserFactory(display_name="志愿者何老师", is_staff=True)
    RoleAssignmentFactory(user=volunteer, role=RoleAssignment.Role.INSTRUCTOR, unit=world.school)
    world.group.facilitator = volunteer
    world.group.save(update_fields=["facilitator"])
    world.volunteer = volunteer
    world.claim_unit = MemberUnitFactory(name="溪口社区")
    return world


def _claim(world, family, *, evidence=HandbookItem.Evidence.COSIGN):
    item = HandbookItemFactory(kind=ItemKind.BEHAVIOUR, evidence=evidence)
    return ClaimFactory(family=family, item=item, unit=world.claim_unit)


def test_facilitator_co_signs_a_member_s_claim(world):
    claim = _claim(world, world.mum.family)
    assert claims_verifiable_by(world.volunteer).filter(pk=claim.pk).exists()
    decided = services.claim_decide(user=world.volunteer, claim_id=claim.pk, decision="approve")
    assert decided.status == "approved"


def test_not_a_non_member_s_claim_nor_another_evidence(world):
    claim = _claim(world, world.dad.family)
    note_claim = _claim(world, world.mum.family, evidence=HandbookItem.Evidence.NOTE)
    visible = claims_verifiable_by(world.volunteer)
    assert not visible.filter(pk__in=[claim.pk, note_claim.pk]).exists()
    with pytest.raises(HandbookError) as error:
        services.claim_decide(user=world.volunteer, claim_id=claim.pk, decision="approve")
    assert error.value.code == "claim_missing"


def test_not_after_the_family_left(world):
    claim = _claim(world, world.mum.family)
    group_services.group_leave(user=world.mum.user, group_id=world.group.pk)
    assert not claims_verifiable_by(world.volunteer).filter(pk=claim.pk).exists()


def test_not_after_the_group_was_dissolved(world):
    claim = _claim(world, world.mum.family)
    group_services.group_dissolve(user=world.coordinator, group_id=world.group.pk)
    assert not claims_verifiable_by(world.volunteer).filter(pk=claim.pk).exists()


def test_unit_verifiers_keep_their_claims(world):
    claim = _claim(world, world.dad.family)
    coordinator = UserFactory(is_staff=True)
    RoleAssignmentFactory(
        user=coordinator, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=world.claim_unit
    )
    assert claims_verifiable_by(coordinator).filter(pk=claim.pk).exists()
    assert not claims_verifiable_by(world.mum.user).exists()
