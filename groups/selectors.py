"""Reads of buddy groups. Who is in a group, and who runs it, is answered here
once: the boards (community), the surveys and the pages all ask these."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from bookings.models import Booking
from members.access import units_changeable_by, visible_unit_ids
from members.models import Child, Family
from parent_school.models import ParentSchool

from .models import Group, GroupMembership

Status = GroupMembership.Status


def _family_id(family: Family | int | None) -> int | None:
    return family.pk if isinstance(family, Family) else family


# --- who is in a group ---------------------------------------------------------------


def member_group_ids(family: Family | int | None) -> QuerySet:
    """Ids of the active groups the family is an active member of (for ``__in``)."""
    family_id = _family_id(family)
    if family_id is None:
        return GroupMembership.objects.none().values("group_id")
    return (
        GroupMembership.objects.filter(
            family_id=family_id, status=Status.ACTIVE, group__status=Group.Status.ACTIVE
        )
        .order_by()
        .values("group_id")
    )


def former_group_ids(family: Family | int | None) -> QuerySet:
    """Ids of dissolved groups the family was a member of when they were dissolved
    (their archived boards stay readable to it); never a group it left."""
    family_id = _family_id(family)
    if family_id is None:
        return GroupMembership.objects.none().values("group_id")
    return (
        GroupMembership.objects.filter(family_id=family_id, status=Status.ENDED)
        .order_by()
        .values("group_id")
    )


def is_member(*, family: Family | int | None, group: Group | int) -> bool:
    group_id = group.pk if isinstance(group, Group) else group
    return member_group_ids(family).filter(group_id=group_id).exists()


def member_family_ids(group: Group | int) -> QuerySet:
    """The group's active member families (a family with two children in a 学伴
    group appears once)."""
    group_id = group.pk if isinstance(group, Group) else group
    return (
        GroupMembership.objects.filter(group_id=group_id, status=Status.ACTIVE)
        .order_by()
        .values("family_id")
        .distinct()
    )


# --- whose school -------------------------------------------------------------------


def family_parent_school_ids(family: Family | int | None) -> QuerySet:
    """Parent schools a family belongs to, for ``__in`` filters: a child at the
    host unit, a confirmed booking (now or before) of one of its courses, or an
    active group of it."""
    family_id = family.pk if isinstance(family, Family) else family
    if family_id is None:
        return ParentSchool.objects.none().values("pk")
    child_units = Child.objects.filter(family_id=family_id, school__isnull=False).values(
        "school_id"
    )
    booked = Booking.objects.filter(
        family_id=family_id,
        status=Booking.Status.CONFIRMED,
        offering__course_session__isnull=False,
    ).values("offering__course_session__course__parent_school_id")
    grouped = Group.objects.filter(pk__in=member_group_ids(family_id)).values("parent_school_id")
    return (
        ParentSchool.objects.filter(
            Q(host_unit_id__in=child_units) | Q(pk__in=booked) | Q(pk__in=grouped)
        )
        .order_by()
        .values("pk")
    )


# --- who runs a group ----------------------------------------------------------------


def groups_facilitated_by(user) -> QuerySet[Group]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Group.objects.none()
    return Group.objects.filter(facilitator_id=user.pk)


def groups_visible_to_staff(user) -> QuerySet[Group]:
    """Groups of the parent schools whose host unit the user sees, and the user's own."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Group.objects.none()
    return Group.objects.filter(
        Q(parent_school__host_unit_id__in=visible_unit_ids(user)) | Q(facilitator_id=user.pk)
    )


def groups_changeable_by(user) -> QuerySet[Group]:
    """Groups the user may manage: their facilitator, or a coordinator of the
    school's host unit."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Group.objects.none()
    return Group.objects.filter(
        Q(parent_school__host_unit_id__in=units_changeable_by(user).values("pk"))
        | Q(facilitator_id=user.pk)
    )


def can_manage_group(user, group: Group) -> bool:
    return groups_changeable_by(user).filter(pk=group.pk).exists()
