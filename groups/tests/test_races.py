"""The limits under concurrent joins, on PostgreSQL with real threads."""

import pytest
from django.db import connection
from django.test import override_settings

from groups import services
from groups.errors import GroupError
from groups.models import Group, GroupMembership, GroupQuota
from members.models import RoleAssignment
from members.tests.factories import MemberUnitFactory, RoleAssignmentFactory, UserFactory
from parent_school.models import ParentSchool
from parent_school.tests.factories import ParentSchoolFactory
from tests.races import run_together

from .helpers import family_at

pytestmark = pytest.mark.django_db(transaction=True)


def _school_and_facilitator():
    school = MemberUnitFactory(name="镇海蛟川小学")
    parent_school = ParentSchoolFactory(
        name="镇海蛟川小学家长学校", kind=ParentSchool.Kind.SCHOOL, host_unit=school
    )
    facilitator = UserFactory(display_name="钱老师", is_staff=True)
    RoleAssignmentFactory(user=facilitator, role=RoleAssignment.Role.INSTRUCTOR, unit=school)
    return school, parent_school, facilitator


def _group(parent_school, facilitator, *, max_size=6, name="家伴组"):
    return services.group_create(
        user=facilitator,
        parent_school_id=parent_school.pk,
        kind=Group.Kind.FAMILY,
        name=name,
        facilitator_id=facilitator.pk,
        facilitator_role=Group.FacilitatorRole.VOLUNTEER,
        min_size=2,
        max_size=max_size,
        joining=Group.Joining.OPEN,
    )


def _outcome_codes(outcome):
    return sorted(getattr(e, "code", repr(e)) for e in outcome.errors)


def test_seven_families_race_for_six_places():
    assert connection.vendor == "postgresql"
    school, parent_school, facilitator = _school_and_facilitator()
    group = _group(parent_school, facilitator, max_size=6)
    guardians = [family_at(school) for _ in range(7)]

    outcome = run_together(
        [(lambda g=g: services.group_join(user=g.user, group_id=group.pk)) for g in guardians],
        meet_before_write=["groups_group"],
    )
    assert outcome.met == 7
    assert _outcome_codes(outcome) == ["group_full"]
    group.refresh_from_db()
    assert group.member_count == 6
    assert GroupMembership.objects.filter(group=group, status="active").count() == 6


@override_settings(GROUPS_MAX_PER_KIND=2)
def test_one_family_races_into_three_groups_with_a_quota_of_two():
    school, parent_school, facilitator = _school_and_facilitator()
    groups = [_group(parent_school, facilitator, name=f"组{i}") for i in range(3)]
    guardian = family_at(school)

    outcome = run_together(
        [(lambda g=g: services.group_join(user=guardian.user, group_id=g.pk)) for g in groups],
        meet_before_write=["groups_group"],
    )
    assert outcome.met == 3
    assert _outcome_codes(outcome) == ["quota_reached"]
    assert GroupQuota.objects.get(key=f"family:{guardian.family.pk}:family").used == 2
    assert GroupMembership.objects.filter(family=guardian.family, status="active").count() == 2
    assert (
        sum(
            Group.objects.filter(pk__in=[g.pk for g in groups]).values_list(
                "member_count", flat=True
            )
        )
        == 2
    )


def test_the_same_family_twice_at_once_joins_once():
    school, parent_school, facilitator = _school_and_facilitator()
    group = _group(parent_school, facilitator)
    guardian = family_at(school)
    outcome = run_together(
        [lambda: services.group_join(user=guardian.user, group_id=group.pk)] * 2,
        meet_before_write=["groups_group"],
    )
    assert _outcome_codes(outcome) == ["already_member"]
    assert all(isinstance(e, GroupError) for e in outcome.errors)
    group.refresh_from_db()
    assert group.member_count == 1
    assert GroupQuota.objects.get(key=f"family:{guardian.family.pk}:family").used == 1


def test_done_when_a_facilitator_s_group_of_six_races_books_and_a_leaver_loses_the_board():
    """Issue 16, Done when #2, end to end on PostgreSQL."""
    import datetime as dt

    from django.utils import timezone

    from bookings.models import Booking
    from community.selectors import board_readable
    from community.services import board_for_group

    school, parent_school, facilitator = _school_and_facilitator()
    group = _group(parent_school, facilitator, max_size=6)
    guardians = [family_at(school) for _ in range(7)]
    outcome = run_together(
        [(lambda g=g: services.group_join(user=g.user, group_id=group.pk)) for g in guardians],
        meet_before_write=["groups_group"],
    )
    members = [g for g, r in zip(guardians, outcome.results, strict=True) if r is not None]
    assert len(members) == 6
    starts = timezone.now() + dt.timedelta(days=5)
    session = services.group_session_create(
        user=facilitator,
        group_id=group.pk,
        title="家伴小组第一次活动",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=12,
        venue="蛟川社区活动室",
    )
    booking = services.group_session_book(user=members[0].user, session_id=session.pk)
    assert booking.status == Booking.Status.CONFIRMED
    board = board_for_group(group)
    leaver = members[1]
    assert board_readable(leaver.user, board.pk) is not None
    services.group_leave(user=leaver.user, group_id=group.pk)
    assert board_readable(leaver.user, board.pk) is None
    assert board_readable(members[2].user, board.pk) is not None


def test_approve_and_withdraw_at_once_keep_the_count_true():
    school, parent_school, facilitator = _school_and_facilitator()
    group = _group(parent_school, facilitator)
    Group.objects.filter(pk=group.pk).update(joining=Group.Joining.REQUEST)
    guardian = family_at(school)
    request = services.group_join(user=guardian.user, group_id=group.pk)
    outcome = run_together(
        [
            lambda: services.group_request_decide(
                user=facilitator, membership_id=request.pk, approve=True
            ),
            lambda: services.group_leave(user=guardian.user, group_id=group.pk),
        ],
        meet_before_write=["groups_group"],
    )
    assert all(isinstance(e, GroupError) for e in outcome.errors), outcome.errors
    group.refresh_from_db()
    active = GroupMembership.objects.filter(group=group, status="active").count()
    assert group.member_count == active
    quota = GroupQuota.objects.filter(key=f"family:{guardian.family.pk}:family").first()
    assert (quota.used if quota else 0) == active
