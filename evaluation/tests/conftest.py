"""A small world for the evaluation tests: two terms (last term and the current
one, around today), a school in an alliance with its coordinator, the alliance's
coordinator, a district administrator, and a school of another alliance."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.utils import timezone

from evaluation.defaults import responsibilities_default
from members.models import RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    MembershipFactory,
    MemberUnitFactory,
    RegionFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from parent_school.tests.factories import TermFactory

Role = RoleAssignment.Role


@dataclass
class World:
    last_term: object
    term: object
    alliance: object
    school: object
    other_school: object
    district: object
    city: object
    alliance_coordinator: object
    unit_coordinator: object
    other_coordinator: object
    other_alliance_coordinator: object


def build_world() -> World:
    responsibilities_default()  # a transactional test before may have flushed them
    today = timezone.localdate()
    last_term = TermFactory(
        code="eval-last",
        school_year="2025–2026",
        semester=1,
        starts_on=today - datetime.timedelta(days=200),
        ends_on=today - datetime.timedelta(days=40),
    )
    term = TermFactory(
        code="eval-now",
        school_year="2025–2026",
        semester=2,
        starts_on=today - datetime.timedelta(days=30),
        ends_on=today + datetime.timedelta(days=120),
    )
    # Both schools in one district, whose administrator is the world's "district".
    fenghua = RegionFactory(name="奉化区", kind="district")
    alliance = AllianceFactory(name="溪口教联体", short_name="溪口联盟")
    school = MemberUnitFactory(name="溪口中学", region=RegionFactory(parent=fenghua))
    MembershipFactory(alliance=alliance, unit=school)
    other_alliance = AllianceFactory(name="武岭教联体", short_name="武岭联盟")
    other_school = MemberUnitFactory(name="武岭小学", region=RegionFactory(parent=fenghua))
    MembershipFactory(alliance=other_alliance, unit=other_school)
    district = RoleAssignmentFactory(
        role=Role.DISTRICT_ADMIN,
        region=fenghua,
        unit=None,
        user=UserFactory(display_name="区教育局张老师"),
    ).user
    return World(
        last_term=last_term,
        term=term,
        alliance=alliance,
        school=school,
        other_school=other_school,
        district=district,
        city=RoleAssignmentFactory(
            role=Role.CITY_ADMIN, unit=None, user=UserFactory(display_name="市教育局王老师")
        ).user,
        alliance_coordinator=RoleAssignmentFactory(
            role=Role.ALLIANCE_COORDINATOR,
            alliance=alliance,
            unit=None,
            user=UserFactory(display_name="溪口联盟李老师"),
        ).user,
        unit_coordinator=RoleAssignmentFactory(
            role=Role.UNIT_COORDINATOR, unit=school, user=UserFactory(display_name="溪口中学王老师")
        ).user,
        other_coordinator=RoleAssignmentFactory(
            role=Role.UNIT_COORDINATOR,
            unit=other_school,
            user=UserFactory(display_name="武岭小学赵老师"),
        ).user,
        other_alliance_coordinator=RoleAssignmentFactory(
            role=Role.ALLIANCE_COORDINATOR, alliance=other_alliance, unit=None
        ).user,
    )


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.fixture
def tx_world(transactional_db) -> World:
    return build_world()
