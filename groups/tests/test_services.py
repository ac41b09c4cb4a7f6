import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from bookings.errors import BookingError
from bookings.models import Booking, Offering
from community.models import Board
from community.selectors import boards_readable_by
from events.models import Notice
from groups import services
from groups.errors import GroupError
from groups.models import Group, GroupMembership, GroupQuota
from members.models import AuditLog

Status = GroupMembership.Status


def _create(world, *, user=None, **overrides):
    fields = {
        "parent_school_id": world.parent_school.pk,
        "kind": Group.Kind.FAMILY,
        "name": "亲子运动家伴组",
        "facilitator_id": world.instructor.pk,
        "facilitator_role": Group.FacilitatorRole.INSTRUCTOR,
        "min_size": 2,
        "max_size": 6,
        "joining": Group.Joining.OPEN,
    }
    fields.update(overrides)
    return services.group_create(user=user or world.coordinator, **fields)


# --- create / update ------------------------------------------------------------------


def test_coordinator_creates_a_group_and_the_facilitator_is_told(world):
    group = _create(world)
    assert group.facilitator == world.instructor
    assert group.member_count == 0
    assert AuditLog.objects.filter(action="groups.group.create", target_id=str(group.pk)).exists()
    assert Notice.objects.filter(
        key=f"groups.facilitator:{group.pk}:{world.instructor.pk}"
    ).exists()


def test_instructor_creates_only_a_group_they_facilitate(world):
    group = _create(world, user=world.instructor)
    assert group.facilitator == world.instructor
    with pytest.raises(GroupError) as error:
        _create(world, user=world.instructor, facilitator_id=world.coordinator.pk)
    assert error.value.field == "facilitator_id"


def test_create_refuses_other_schools_and_bad_fields(world):
    with pytest.raises(GroupError) as error:
        _create(world, user=world.other_coordinator)
    assert error.value.code == "school_missing"
    with pytest.raises(GroupError) as error:
        _create(world, user=world.mum.user)
    assert error.value.code == "school_missing"
    cases = [
        ({"name": "  "}, "name"),
        ({"name": "长" * 41}, "name"),
        ({"kind": "club"}, "kind"),
        ({"joining": "anyone"}, "joining"),
        ({"max_size": "abc"}, "max_size"),
        ({"max_size": 0}, "max_size"),
        ({"min_size": 7, "max_size": 6}, "min_size"),
        ({"facilitator_id": world.other_coordinator.pk}, "facilitator_id"),
        ({"facilitator_id": world.mum.user.pk}, "facilitator_id"),
        ({"facilitator_role": "boss"}, "facilitator_role"),
    ]
    for overrides, field in cases:
        with pytest.raises(GroupError) as error:
            _create(world, **overrides)
        assert error.value.field == field, overrides
        assert str(error.value.message)
    assert Group.objects.count() == 1  # only the world's


def test_update_keeps_max_at_or_above_the_members(world):
    group = world.group  # mum is a member: member_count 1
    services.group_join(user=world.dad.user, group_id=group.pk)
    with pytest.raises(GroupError) as error:
        services.group_update(user=world.instructor, group_id=group.pk, max_size=1, min_size=1)
    assert error.value.code == "max_below_members"
    updated = services.group_update(
        user=world.instructor, group_id=group.pk, max_size=2, min_size=2, name="新名字"
    )
    assert (updated.max_size, updated.name) == (2, "新名字")
    with pytest.raises(GroupError) as error:
        services.group_update(user=world.other_coordinator, group_id=group.pk, name="x")
    assert error.value.code == "group_missing"


# --- joining ---------------------------------------------------------------------------


def test_open_join_takes_a_place_and_a_quota(world):
    membership = services.group_join(user=world.dad.user, group_id=world.group.pk)
    assert membership.status == Status.ACTIVE
    world.group.refresh_from_db()
    assert world.group.member_count == 2
    assert GroupQuota.objects.get(key=f"family:{world.dad.family.pk}:family").used == 1
    with pytest.raises(GroupError) as error:
        services.group_join(user=world.dad.user, group_id=world.group.pk)
    assert error.value.code == "already_member"
    world.group.refresh_from_db()
    assert world.group.member_count == 2


def test_join_refuses_a_foreign_school_group_as_missing(world):
    with pytest.raises(GroupError) as error:
        services.group_join(user=world.outsider.user, group_id=world.group.pk)
    assert error.value.code == "group_missing"


def test_full_group_refuses(world):
    group = _create(world, min_size=1, max_size=1)
    services.group_join(user=world.dad.user, group_id=group.pk)
    with pytest.raises(GroupError) as error:
        services.group_join(user=world.mum.user, group_id=group.pk)
    assert error.value.code == "group_full"
    assert not GroupMembership.objects.filter(group=group, family=world.mum.family).exists()
    # nothing half-written: the quota stayed at her one group
    assert GroupQuota.objects.filter(key=f"family:{world.mum.family.pk}:family").first() is None


@override_settings(GROUPS_MAX_PER_KIND=2)
def test_quota_per_kind(world):
    first = _create(world, name="一组")
    second = _create(world, name="二组")
    third = _create(world, name="三组")
    services.group_join(user=world.dad.user, group_id=first.pk)
    services.group_join(user=world.dad.user, group_id=second.pk)
    with pytest.raises(GroupError) as error:
        services.group_join(user=world.dad.user, group_id=third.pk)
    assert error.value.code == "quota_reached"
    third.refresh_from_db()
    assert third.member_count == 0  # the place rolled back with the refusal
    services.group_leave(user=world.dad.user, group_id=first.pk)
    services.group_join(user=world.dad.user, group_id=third.pk)
    assert GroupQuota.objects.get(key=f"family:{world.dad.family.pk}:family").used == 2


def test_study_group_takes_a_child_of_the_family(world):
    group = _create(world, kind=Group.Kind.STUDY, name="数学学伴组")
    with pytest.raises(GroupError) as error:
        services.group_join(user=world.dad.user, group_id=group.pk)
    assert error.value.code == "child_required"
    with pytest.raises(GroupError) as error:
        services.group_join(user=world.dad.user, group_id=group.pk, child_id=world.mum_child.pk)
    assert error.value.code == "child_invalid"
    membership = services.group_join(
        user=world.dad.user, group_id=group.pk, child_id=world.dad_child.pk
    )
    assert membership.child == world.dad_child
    assert GroupQuota.objects.get(key=f"child:{world.dad_child.pk}:study").used == 1
    with pytest.raises(GroupError) as error:
        services.group_join(
            user=world.dad.user, group_id=world.group.pk, child_id=world.dad_child.pk
        )
    assert error.value.code == "child_not_wanted"


def test_request_flow(world):
    group = _create(world, joining=Group.Joining.REQUEST)
    request = services.group_join(user=world.dad.user, group_id=group.pk)
    assert request.status == Status.REQUESTED
    group.refresh_from_db()
    assert group.member_count == 0
    notice = Notice.objects.get(key=f"groups.request:{request.pk}")
    assert notice.path == f"/groups/{group.pk}/manage/"
    with pytest.raises(GroupError) as error:
        services.group_join(user=world.dad.user, group_id=group.pk)
    assert error.value.code == "already_requested"
    with pytest.raises(GroupError) as error:
        services.group_request_decide(
            user=world.other_coordinator, membership_id=request.pk, approve=True
        )
    assert error.value.code == "request_missing"
    approved = services.group_request_decide(
        user=world.instructor, membership_id=request.pk, approve=True
    )
    assert approved.status == Status.ACTIVE
    group.refresh_from_db()
    assert group.member_count == 1
    assert Notice.objects.filter(key=f"groups.request_decided:{request.pk}").count() == 1
    with pytest.raises(GroupError):
        services.group_request_decide(user=world.instructor, membership_id=request.pk, approve=True)
    other = services.group_join(user=world.mum.user, group_id=group.pk)
    declined = services.group_request_decide(
        user=world.coordinator, membership_id=other.pk, approve=False
    )
    assert declined.status == Status.DECLINED
    group.refresh_from_db()
    assert group.member_count == 1


def test_facilitator_only_groups_refuse_self_join_and_take_added_members(world):
    group = _create(world, joining=Group.Joining.FACILITATOR)
    with pytest.raises(GroupError) as error:
        services.group_join(user=world.dad.user, group_id=group.pk)
    assert error.value.code == "facilitator_only"
    membership = services.group_member_add(
        user=world.instructor,
        group_id=group.pk,
        phone=f" {world.dad.phone[:3]}-{world.dad.phone[3:]} ",
    )
    assert membership.family == world.dad.family and membership.status == Status.ACTIVE
    assert Notice.objects.filter(key=f"groups.added:{membership.pk}").exists()
    # a phone of another school's family, and a phone nobody has: the same message
    for phone in (world.outsider.phone, "13999999999"):
        with pytest.raises(GroupError) as error:
            services.group_member_add(user=world.instructor, group_id=group.pk, phone=phone)
        assert error.value.code == "phone_unknown" and error.value.field == "phone"
    with pytest.raises(GroupError) as error:
        services.group_member_add(user=world.instructor, group_id=group.pk, phone="123")
    assert error.value.code == "phone_invalid"


def test_leave_frees_the_place_and_the_board(world):
    assert boards_readable_by(world.mum.user).filter(pk=world.group_board.pk).exists()
    GroupQuota.objects.create(key=f"family:{world.mum.family.pk}:family", used=1)
    left = services.group_leave(user=world.mum.user, group_id=world.group.pk)
    assert [m.status for m in left] == [Status.LEFT]
    world.group.refresh_from_db()
    assert world.group.member_count == 0
    assert GroupQuota.objects.get(key=f"family:{world.mum.family.pk}:family").used == 0
    assert not boards_readable_by(world.mum.user).filter(pk=world.group_board.pk).exists()
    with pytest.raises(GroupError) as error:
        services.group_leave(user=world.mum.user, group_id=world.group.pk)
    assert error.value.code == "not_member"
    with pytest.raises(GroupError) as error:
        services.group_leave(user=world.outsider.user, group_id=world.group.pk)
    assert error.value.code == "group_missing"


def test_remove_tells_the_family(world):
    membership = GroupMembership.objects.get(group=world.group, family=world.mum.family)
    with pytest.raises(GroupError):
        services.group_member_remove(
            user=world.other_coordinator, membership_id=membership.pk, reason=""
        )
    removed = services.group_member_remove(
        user=world.instructor, membership_id=membership.pk, reason="长期未参加活动"
    )
    assert removed.status == Status.REMOVED
    notice = Notice.objects.get(key=f"groups.removed:{membership.pk}")
    assert "长期未参加活动" in notice.lead
    assert not boards_readable_by(world.mum.user).filter(pk=world.group_board.pk).exists()


def test_a_removed_family_loses_its_places_in_the_group_s_sessions(world):
    session = _session(world, world.group)
    booking = services.group_session_book(user=world.mum.user, session_id=session.pk)
    membership = GroupMembership.objects.get(group=world.group, family=world.mum.family)
    services.group_member_remove(user=world.instructor, membership_id=membership.pk, reason="")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert AuditLog.objects.filter(
        action="bookings.booking.cancel", actor=world.instructor
    ).exists()


# --- dissolving ---------------------------------------------------------------------------


def _session(world, group, *, days=3, capacity=10):
    starts = timezone.now() + dt.timedelta(days=days)
    return services.group_session_create(
        user=world.instructor,
        group_id=group.pk,
        title="周末亲子共读",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=capacity,
        venue="溪口社区活动室",
    )


def test_dissolve_ends_members_cancels_sessions_and_keeps_the_archive_for_members(world):
    group = world.group
    services.group_join(user=world.dad.user, group_id=group.pk)
    services.group_leave(user=world.dad.user, group_id=group.pk)
    session = _session(world, group)
    request_group = world.group
    dissolved = services.group_dissolve(
        user=world.coordinator, group_id=group.pk, reason="学期结束"
    )
    assert dissolved.status == Group.Status.DISSOLVED and dissolved.member_count == 0
    assert GroupMembership.objects.get(group=group, family=world.mum.family).status == Status.ENDED
    session.offering.refresh_from_db()
    assert session.offering.status == Offering.Status.CANCELLED
    notice = Notice.objects.get(key=f"groups.dissolved:{request_group.pk}")
    assert "学期结束" in notice.lead
    assert AuditLog.objects.filter(action="groups.group.dissolve").count() == 1
    with pytest.raises(GroupError) as error:
        services.group_dissolve(user=world.coordinator, group_id=group.pk)
    assert error.value.code == "already_dissolved"
    with pytest.raises(GroupError) as error:
        services.group_join(user=world.dad.user, group_id=group.pk)
    assert error.value.code == "group_dissolved"


def test_dissolve_sends_the_signal_inside_the_transaction(world):
    from groups.signals import group_dissolved

    seen = []

    def receiver(sender, group, **kwargs):
        seen.append((group.pk, Group.objects.get(pk=group.pk).status))

    group_dissolved.connect(receiver)
    try:
        services.group_dissolve(user=world.instructor, group_id=world.group.pk)
    finally:
        group_dissolved.disconnect(receiver)
    assert seen == [(world.group.pk, Group.Status.DISSOLVED)]


def test_dissolve_declines_requests(world):
    group = _create(world, joining=Group.Joining.REQUEST)
    request = services.group_join(user=world.dad.user, group_id=group.pk)
    services.group_dissolve(user=world.coordinator, group_id=group.pk)
    request.refresh_from_db()
    assert request.status == Status.DECLINED


# --- sessions ----------------------------------------------------------------------------


def test_session_is_booked_by_members_only(world):
    session = _session(world, world.group)
    assert session.offering.kind == Offering.Kind.GROUP_SESSION
    assert session.offering.unit == world.school
    assert Notice.objects.filter(key=f"groups.session:{session.pk}").exists()
    booking = services.group_session_book(user=world.mum.user, session_id=session.pk)
    assert booking.status == Booking.Status.CONFIRMED and booking.party_size == 1
    with pytest.raises(BookingError):
        services.group_session_book(user=world.mum.user, session_id=session.pk)
    for outsider in (world.dad.user, world.outsider.user):
        with pytest.raises(GroupError) as error:
            services.group_session_book(user=outsider, session_id=session.pk)
        assert error.value.code == "session_missing"
    cancelled = services.group_session_cancel(user=world.mum.user, booking_id=booking.pk)
    assert cancelled.status == Booking.Status.CANCELLED
    with pytest.raises(GroupError):
        services.group_session_cancel(user=world.dad.user, booking_id=booking.pk)


def test_session_fields_are_checked(world):
    starts = timezone.now() + dt.timedelta(days=1)
    base = dict(
        user=world.instructor,
        group_id=world.group.pk,
        title="活动",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        capacity=5,
    )
    for overrides, field in [
        ({"title": ""}, "title"),
        ({"ends_at": starts}, "ends_at"),
        ({"starts_at": "not a date"}, "starts_at"),
        ({"capacity": "many"}, "capacity"),
        ({"capacity": 0}, "capacity"),
        ({"online_url": "javascript:alert(1)"}, "online_url"),
    ]:
        with pytest.raises(GroupError) as error:
            services.group_session_create(**{**base, **overrides})
        assert error.value.field == field
    with pytest.raises(GroupError) as error:
        services.group_session_create(**{**base, "user": world.mum.user})
    assert error.value.code == "group_missing"
    assert not Offering.objects.exists()


def test_attendance_by_the_facilitator(world):
    starts = timezone.now() - dt.timedelta(minutes=10)
    session = services.group_session_create(
        user=world.instructor,
        group_id=world.group.pk,
        title="进行中的活动",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=5,
    )
    # Booking opens until the start; book through bookings directly for a started session.
    from bookings.models import Booking as B

    booking = B.objects.create(
        offering=session.offering,
        family=world.mum.family,
        booked_by=world.mum.user,
        status=B.Status.CONFIRMED,
        party_size=1,
        confirmed_at=timezone.now(),
    )
    with pytest.raises(GroupError):
        services.group_session_attendance(
            user=world.other_coordinator, booking_id=booking.pk, present=True
        )
    marked = services.group_session_attendance(
        user=world.instructor, booking_id=booking.pk, present=True
    )
    assert marked.attendance == B.Attendance.PRESENT


def test_group_board_archive_is_community_s(world):
    # Sanity for the board's own rule (community reads groups' memberships).
    assert Board.objects.filter(group=world.group).count() == 1
