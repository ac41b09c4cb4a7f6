"""A small hand-built world for the learning-family tests: one alliance with
two member units and one that left, families that meet or miss each rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from bookings.models import Booking
from bookings.tests.factories import OfferingFactory
from courses.models import CreditEntry
from handbook.models import ItemKind
from handbook.tests.factories import ClaimFactory, HandbookItemFactory
from members.models import RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    FamilyFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from parent_school.tests.factories import TermFactory
from recognition.tests.factories import LearningFamilyRuleFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
_keys = count()


def credit(family, term, amount, *, reverses=None):
    return CreditEntry.objects.create(
        key=f"test-credit-{next(_keys)}",
        family=family,
        term=term,
        amount=Decimal(str(amount)),
        reason=CreditEntry.Reason.CORRECTION if reverses else CreditEntry.Reason.ATTENDANCE,
        reverses=reverses,
    )


def attended(family, unit, when: dt.datetime, *, attendance=Booking.Attendance.PRESENT):
    offering = OfferingFactory(unit=unit, starts_at=when, ends_at=when + dt.timedelta(hours=2))
    return Booking.objects.create(
        offering=offering,
        family=family,
        status=Booking.Status.CONFIRMED,
        party_size=1,
        attendance=attendance,
    )


def claim(family, item, term, unit, status, *, created_at=None, points=None):
    made = ClaimFactory(
        family=family,
        item=item,
        term=term,
        unit=unit,
        status=status,
        points=(item.points if status == "approved" else 0) if points is None else points,
    )
    if created_at is not None:
        type(made).objects.filter(pk=made.pk).update(created_at=created_at)
    return made


def family_at(unit, name: str):
    user = UserFactory(display_name=name)
    guardian = GuardianFactory(user=user)
    ChildFactory(family=guardian.family, school=unit, nickname=f"{name}的孩子")
    return guardian.family


@dataclass
class World:
    term: object
    alliance: object
    other_alliance: object
    u1: object
    u2: object
    u_left: object
    rule: object
    meets: object  # every rule met (credits with a reversal)
    few_credits: object
    open_rejection: object
    closed_rejection: object
    no_session: object  # attended only before the term and was absent in it
    left_unit: object  # child at a unit that left the alliance
    no_school: object
    alliance_coordinator: object
    other_coordinator: object
    unit_coordinator: object
    items: dict


def build_world() -> World:
    term = TermFactory(
        code="2025-2026-1", starts_on=dt.date(2025, 9, 1), ends_on=dt.date(2026, 1, 31)
    )
    alliance = AllianceFactory(name="城东协同育人联盟")
    other = AllianceFactory(name="城西协同育人联盟")
    u1, u2, u_left = (
        MemberUnitFactory(name="第一小学"),
        MemberUnitFactory(name="第二小学"),
        (MemberUnitFactory(name="第三小学")),
    )
    MembershipFactory(alliance=alliance, unit=u1)
    MembershipFactory(alliance=alliance, unit=u2)
    MembershipFactory(alliance=alliance, unit=u_left, left_on=dt.date(2025, 8, 1))
    # u1 is also in the other alliance: its families are on both lists.
    MembershipFactory(alliance=other, unit=u1)
    rule = LearningFamilyRuleFactory(
        alliance=alliance,
        term=term,
        min_credits=Decimal("2.0"),
        min_points=4,
        min_home_items=2,
        min_sessions=1,
        no_open_rejection=True,
    )
    home_a = HandbookItemFactory(
        alliance=alliance, kind=ItemKind.HOME, points=2, name="测试亲子共读"
    )
    home_b = HandbookItemFactory(
        alliance=alliance, kind=ItemKind.HOME, points=2, name="测试家务劳动"
    )
    school = HandbookItemFactory(
        alliance=alliance, kind=ItemKind.SCHOOL, points=3, name="测试家长会"
    )
    in_term = dt.datetime(2025, 10, 10, 19, 0, tzinfo=SHANGHAI)
    before = dt.datetime(2025, 8, 20, 19, 0, tzinfo=SHANGHAI)

    def good(family, unit):
        claim(family, home_a, term, unit, "approved")
        claim(family, home_b, term, unit, "approved")
        attended(family, unit, in_term)

    meets = family_at(u1, "李小明")
    good(meets, u1)
    first = credit(meets, term, 2)
    credit(meets, term, 1.5)
    credit(meets, term, -1, reverses=first)  # 2.5 in all: still enough
    # approved the same item twice: counted once as an item, points twice
    claim(meets, home_a, term, u1, "approved")

    few = family_at(u2, "张伟")
    good(few, u2)
    credit(few, term, 1.5)

    open_rej = family_at(u1, "王芳芳")
    good(open_rej, u1)
    credit(open_rej, term, 3)
    t0 = dt.datetime(2025, 10, 1, 9, tzinfo=SHANGHAI)
    claim(open_rej, school, term, u1, "approved", created_at=t0)
    claim(open_rej, school, term, u1, "rejected", created_at=t0 + dt.timedelta(days=3))

    closed_rej = family_at(u2, "欧阳晓明")
    good(closed_rej, u2)
    credit(closed_rej, term, 3)
    claim(closed_rej, school, term, u2, "rejected", created_at=t0)
    claim(closed_rej, school, term, u2, "approved", created_at=t0 + dt.timedelta(days=2))

    no_session = family_at(u1, "赵")
    claim(no_session, home_a, term, u1, "approved")
    claim(no_session, home_b, term, u1, "approved")
    credit(no_session, term, 5)
    attended(no_session, u1, before)
    attended(no_session, u1, in_term, attendance=Booking.Attendance.ABSENT)

    left = family_at(u_left, "钱多多")
    good(left, u_left)
    credit(left, term, 5)

    no_school = FamilyFactory()
    GuardianFactory(family=no_school)

    coordinator = UserFactory(display_name="联盟协调员")
    RoleAssignmentFactory(
        user=coordinator,
        role=RoleAssignment.Role.ALLIANCE_COORDINATOR,
        alliance=alliance,
        unit=None,
    )
    other_coordinator = UserFactory(display_name="城西协调员")
    RoleAssignmentFactory(
        user=other_coordinator,
        role=RoleAssignment.Role.ALLIANCE_COORDINATOR,
        alliance=other,
        unit=None,
    )
    unit_coordinator = UserFactory(display_name="二小协调员")
    RoleAssignmentFactory(user=unit_coordinator, unit=u2)
    return World(
        term=term,
        alliance=alliance,
        other_alliance=other,
        u1=u1,
        u2=u2,
        u_left=u_left,
        rule=rule,
        meets=meets,
        few_credits=few,
        open_rejection=open_rej,
        closed_rejection=closed_rej,
        no_session=no_session,
        left_unit=left,
        no_school=no_school,
        alliance_coordinator=coordinator,
        other_coordinator=other_coordinator,
        unit_coordinator=unit_coordinator,
        items={"home_a": home_a, "home_b": home_b, "school": school},
    )
