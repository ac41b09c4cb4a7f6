"""A station world for the guidance and volunteers tests (``station_world`` in
guidance/tests/conftest.py; volunteers and api tests import ``build_station_world``).

- 海天舒 station (at a guidance-centre unit, limits 2 open / 4 per term) with a chief
  mentor 首席王老师, a 心理健康辅导 mentor 林老师 and a 家庭教育指导 mentor 郑老师
  (each with a login), and the unit's coordinator 周主任;
- another station (渝中) with its mentor 孙老师 and coordinator 钱主任;
- families: 陈妈妈 (child 小雨点) and 李爸爸 (child 小石头), verified phones;
- a teacher (an instructor at a school), a district administrator;
- a current term around today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from members.models import RoleAssignment
from members.tests.factories import (
    ChildFactory,
    GuardianFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from parent_school.models import Term
from parent_school.tests.factories import TermFactory

from .factories import MentorFactory, StationFactory


@dataclass
class StationWorld:
    term: object
    unit: object
    station: object
    chief: object  # Mentor (its .user)
    psych: object  # Mentor, 心理健康辅导
    family_mentor: object  # Mentor, 家庭教育指导
    coordinator: object  # User
    other_unit: object
    other_station: object
    other_mentor: object
    other_coordinator: object
    mum: object  # Guardian (.family, .user)
    mum_child: object
    dad: object
    dad_child: object
    teacher: object  # User (instructor at a school, no family)
    school: object
    district_admin: object

    def secrets(self) -> list[str]:
        """Strings no other family may see: phones and children's nicknames."""
        values = [self.mum.user.phone, self.dad.user.phone]
        values += [self.mum_child.nickname, self.dad_child.nickname]
        return [v for v in values if v]


_counter = [0]


def _user(name: str, **extra):
    _counter[0] += 1
    return UserFactory(username=f"g{name}{_counter[0]}", display_name=name, **extra)


def _guardian(name: str, child_name: str, school):
    _counter[0] += 1
    phone = f"1391{_counter[0]:07d}"
    user = _user(name, phone=phone, phone_verified=True)
    guardian = GuardianFactory(user=user, phone=phone)
    child = ChildFactory(family=guardian.family, nickname=child_name, school=school)
    return guardian, child


def _mentor(station, name: str, areas: list[str], **extra):
    user = _user(name, is_staff=False)
    return MentorFactory(station=station, user=user, name=name, areas=areas, **extra)


def build_station_world() -> StationWorld:
    Role = RoleAssignment.Role
    today = timezone.localdate()
    Term.objects.filter(is_current=True).update(is_current=False)
    term = TermFactory(
        code=f"g{today:%Y%m%d}",
        starts_on=today - dt.timedelta(days=60),
        ends_on=today + dt.timedelta(days=90),
        is_current=True,
    )
    unit = MemberUnitFactory(name="镇海区“海天舒”学生成长指导工作站", kind="guidance_centre")
    station = StationFactory(
        unit=unit, name="海天舒学生成长指导工作站", open_bookings_max=2, term_bookings_max=4
    )
    chief = _mentor(
        station,
        "首席王老师",
        ["family_education", "mental_health"],
        is_chief=True,
        title="首席导师",
    )
    psych = _mentor(station, "林老师", ["mental_health"], title="心理健康教育教师")
    family_mentor = _mentor(station, "郑老师", ["family_education"], title="家庭教育指导师")
    coordinator = _user("周主任", is_staff=True)
    RoleAssignmentFactory(user=coordinator, role=Role.UNIT_COORDINATOR, unit=unit)

    other_unit = MemberUnitFactory(name="渝中家长成长指导中心", kind="guidance_centre")
    other_station = StationFactory(unit=other_unit, name="渝中家长成长指导中心")
    other_mentor = _mentor(other_station, "孙老师", ["mental_health"])
    other_coordinator = _user("钱主任", is_staff=True)
    RoleAssignmentFactory(user=other_coordinator, role=Role.UNIT_COORDINATOR, unit=other_unit)

    school = MemberUnitFactory(name="澥浦中学", kind="middle_school")
    mum, mum_child = _guardian("陈妈妈", "小雨点", school)
    dad, dad_child = _guardian("李爸爸", "小石头", school)
    teacher = _user("吴老师", is_staff=True)
    RoleAssignmentFactory(user=teacher, role=Role.INSTRUCTOR, unit=school)
    district_admin = _user("区教育局刘科长", is_staff=True)
    RoleAssignmentFactory(user=district_admin, role=Role.CITY_ADMIN, unit=None)
    return StationWorld(
        term=term,
        unit=unit,
        station=station,
        chief=chief,
        psych=psych,
        family_mentor=family_mentor,
        coordinator=coordinator,
        other_unit=other_unit,
        other_station=other_station,
        other_mentor=other_mentor,
        other_coordinator=other_coordinator,
        mum=mum,
        mum_child=mum_child,
        dad=dad,
        dad_child=dad_child,
        teacher=teacher,
        school=school,
        district_admin=district_admin,
    )
