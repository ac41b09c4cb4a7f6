"""A small world for the boards' and groups' tests (fixture ``board_world`` in
community/tests/conftest.py; groups and api tests import ``build_world``).

* an alliance whose base unit is a school (``school``) hosting ``parent_school``
  (a school parent school), with its school board ``board`` (made from the
  factory, not the service); another alliance with ``other_school`` /
  ``other_parent_school`` and its board ``other_board``; the alliance board
  ``alliance_board``;
* families, each with one guardian whose phone is verified and one child:
  ``mum`` (child 「小雨点」 at the school), ``dad`` (another family, child at the
  school), ``outsider`` (child at the other school), ``unverified`` (a family
  of the school whose guardian's phone is not verified);
* staff: ``coordinator`` (unit coordinator of the school), ``instructor``
  (instructor at the school, also the facilitator of ``group``),
  ``alliance_coordinator``, ``district_admin``, ``other_coordinator`` (the other
  school);
* ``group``: an active open 家伴 group of ``parent_school`` with max 6, ``mum`` an
  active member (member_count 1), and its board ``group_board``.

Every phone and child nickname is distinctive, so a page or an answer that leaks
one is caught by a plain substring search (``world.secrets()``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from community.models import Board
from groups.models import Group, GroupMembership
from members.models import Membership, RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from parent_school.models import ParentSchool
from parent_school.tests.factories import ParentSchoolFactory

from .factories import BoardFactory


@dataclass
class World:
    alliance: object
    school: object
    parent_school: object
    board: Board
    other_alliance: object
    other_school: object
    other_parent_school: object
    other_board: Board
    alliance_board: Board
    mum: object  # Guardian (her .family, .user)
    dad: object
    outsider: object
    unverified: object
    mum_child: object
    dad_child: object
    coordinator: object  # User
    instructor: object
    alliance_coordinator: object
    district_admin: object
    other_coordinator: object
    group: Group
    group_board: Board

    def secrets(self) -> list[str]:
        """Strings no other family may ever see: phones and children's nicknames."""
        values = []
        for guardian in (self.mum, self.dad, self.outsider, self.unverified):
            values.append(guardian.user.phone)
            values.extend(child.nickname for child in guardian.family.children.all())
        return [v for v in values if v]


_phone_counter = [0]


def _guardian(name: str, *, school, child_name: str, verified: bool = True):
    _phone_counter[0] += 1
    phone = f"1370{_phone_counter[0]:07d}"
    user = UserFactory(
        username=f"{name}{_phone_counter[0]}",
        display_name=name,
        phone=phone,
        phone_verified=verified,
    )
    guardian = GuardianFactory(user=user, phone=phone)
    child = ChildFactory(family=guardian.family, nickname=child_name, school=school)
    return guardian, child


def _staff(name: str, role: str, **scope):
    user = UserFactory(username=f"{name}{_phone_counter[0]}", display_name=name, is_staff=True)
    RoleAssignmentFactory(user=user, role=role, **scope)
    return user


def build_world() -> World:
    Role = RoleAssignment.Role
    alliance = AllianceFactory(name="测试溪口联盟")
    school = MemberUnitFactory(name="溪口中心小学")
    alliance.base_unit = school
    alliance.save(update_fields=["base_unit"])
    MembershipFactory(alliance=alliance, unit=school, role=Membership.Role.BASE)
    parent_school = ParentSchoolFactory(
        name="溪口中心小学家长学校", kind=ParentSchool.Kind.SCHOOL, host_unit=school
    )
    other_alliance = AllianceFactory(name="测试渝中联盟")
    other_school = MemberUnitFactory(name="渝中实验小学")
    MembershipFactory(alliance=other_alliance, unit=other_school)
    other_parent_school = ParentSchoolFactory(
        name="渝中实验小学家长学校", kind=ParentSchool.Kind.SCHOOL, host_unit=other_school
    )
    board = BoardFactory(
        parent_school=parent_school, unit=school, title="溪口中心小学家长学校交流区"
    )
    other_board = BoardFactory(
        parent_school=other_parent_school, unit=other_school, title="渝中实验小学家长学校交流区"
    )
    alliance_board = Board.objects.create(
        kind=Board.Kind.ALLIANCE, alliance=alliance, unit=school, title="测试溪口联盟公告"
    )
    mum, mum_child = _guardian("陈妈妈", school=school, child_name="小雨点")
    dad, dad_child = _guardian("李爸爸", school=school, child_name="小石头")
    outsider, _ = _guardian("王妈妈", school=other_school, child_name="小月亮")
    unverified, _ = _guardian("赵奶奶", school=school, child_name="小星星", verified=False)
    coordinator = _staff("周主任", Role.UNIT_COORDINATOR, unit=school)
    instructor = _staff("吴老师", Role.INSTRUCTOR, unit=school)
    alliance_coordinator = _staff(
        "联盟郑老师", Role.ALLIANCE_COORDINATOR, alliance=alliance, unit=None
    )
    district_admin = _staff("区教育局刘科长", Role.CITY_ADMIN, unit=None)
    other_coordinator = _staff("渝中孙主任", Role.UNIT_COORDINATOR, unit=other_school)
    group = Group.objects.create(
        kind=Group.Kind.FAMILY,
        name="周末亲子阅读家伴组",
        parent_school=parent_school,
        facilitator=instructor,
        facilitator_role=Group.FacilitatorRole.INSTRUCTOR,
        min_size=2,
        max_size=6,
        joining=Group.Joining.OPEN,
        member_count=1,
    )
    GroupMembership.objects.create(
        group=group,
        family=mum.family,
        status=GroupMembership.Status.ACTIVE,
        joined_at=timezone.now(),
    )
    group_board = Board.objects.create(
        kind=Board.Kind.GROUP,
        group=group,
        parent_school=parent_school,
        unit=school,
        title=f"{group.name}交流区",
    )
    return World(
        alliance=alliance,
        school=school,
        parent_school=parent_school,
        board=board,
        other_alliance=other_alliance,
        other_school=other_school,
        other_parent_school=other_parent_school,
        other_board=other_board,
        alliance_board=alliance_board,
        mum=mum,
        dad=dad,
        outsider=outsider,
        unverified=unverified,
        mum_child=mum_child,
        dad_child=dad_child,
        coordinator=coordinator,
        instructor=instructor,
        alliance_coordinator=alliance_coordinator,
        district_admin=district_admin,
        other_coordinator=other_coordinator,
        group=group,
        group_board=group_board,
    )
