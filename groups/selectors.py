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


# --- the pages (helper 3) ---------------------------------------------------------------


def groups_joinable_lookup(family: Family | int | None) -> QuerySet[Group]:
    """Groups a family may look up by id to join or leave: any group of its schools,
    and any group it has (or had) a membership of. Anything else is a 404."""
    family_id = _family_id(family)
    if family_id is None:
        return Group.objects.none()
    own = GroupMembership.objects.filter(family_id=family_id).order_by().values("group_id")
    return Group.objects.filter(
        Q(parent_school_id__in=family_parent_school_ids(family_id)) | Q(pk__in=own)
    )


def family_groups(family: Family | int | None) -> QuerySet[Group]:
    """The active groups the family is a member of (mine), newest first."""
    return (
        Group.objects.filter(pk__in=member_group_ids(family))
        .select_related("parent_school", "facilitator")
        .order_by("name", "pk")
    )


def family_requested_group_ids(family: Family | int | None) -> set[int]:
    family_id = _family_id(family)
    if family_id is None:
        return set()
    return set(
        GroupMembership.objects.filter(family_id=family_id, status=Status.REQUESTED).values_list(
            "group_id", flat=True
        )
    )


def groups_joinable_by(family: Family | int | None) -> QuerySet[Group]:
    """Active groups at the family's schools that take families themselves (open or
    by request), not full, and that the family is not a member of (a 学伴 group
    stays listed: another child may join it)."""
    family_id = _family_id(family)
    if family_id is None:
        return Group.objects.none()
    from django.db.models import F

    return (
        Group.objects.filter(
            parent_school_id__in=family_parent_school_ids(family_id),
            status=Group.Status.ACTIVE,
            joining__in=[Group.Joining.OPEN, Group.Joining.REQUEST],
            member_count__lt=F("max_size"),
        )
        .exclude(Q(kind=Group.Kind.FAMILY) & Q(pk__in=member_group_ids(family_id)))
        .select_related("parent_school", "facilitator")
        .order_by("parent_school__name", "name", "pk")
    )


def group_for_viewer(*, user, family: Family | None, group_id) -> Group | None:
    """The group page's group if this viewer may see it: a member family (or one whose
    membership ended at dissolution), a family of its school while it is active,
    its facilitator, and staff who see its school. None: a 404."""
    try:
        group_id = int(group_id)
    except (TypeError, ValueError):
        return None
    base = Group.objects.select_related("parent_school", "facilitator")
    if getattr(user, "is_authenticated", False) and user.is_active:
        staff = groups_visible_to_staff(user).filter(pk=group_id)
        if staff.exists():
            return base.get(pk=group_id)
    if family is None:
        return None
    family_id = _family_id(family)
    condition = (
        Q(pk__in=member_group_ids(family_id))
        | Q(pk__in=former_group_ids(family_id))
        | Q(
            status=Group.Status.ACTIVE,
            parent_school_id__in=family_parent_school_ids(family_id),
        )
        | Q(
            pk__in=GroupMembership.objects.filter(
                family_id=family_id, status=Status.REQUESTED
            ).values("group_id")
        )
    )
    return base.filter(condition, pk=group_id).first()


def family_memberships_in(*, family: Family | int | None, group: Group) -> list[GroupMembership]:
    """The family's own open memberships (request or member) in the group."""
    family_id = _family_id(family)
    if family_id is None:
        return []
    return list(
        GroupMembership.objects.filter(
            group=group, family_id=family_id, status__in=GroupMembership.OPEN_STATUSES
        )
        .select_related("child")
        .order_by("pk")
    )


def group_members_for_manager(group: Group) -> list[dict]:
    """The member list for the facilitator and managers: guardian display names and
    masked phones (never shown to families), the child's nickname in 学伴 groups."""
    from members.privacy import mask_phone

    memberships = list(
        GroupMembership.objects.filter(group=group, status=Status.ACTIVE)
        .select_related("child")
        .order_by("joined_at", "pk")
    )
    return _membership_rows(memberships, mask_phone)


def group_requests_for_manager(group: Group) -> list[dict]:
    from members.privacy import mask_phone

    memberships = list(
        GroupMembership.objects.filter(group=group, status=Status.REQUESTED)
        .select_related("child")
        .order_by("requested_at", "pk")
    )
    return _membership_rows(memberships, mask_phone)


def _membership_rows(memberships, mask_phone) -> list[dict]:
    from members.models import Guardian

    family_ids = {m.family_id for m in memberships}
    guardians: dict[int, list] = {}
    for guardian in (
        Guardian.objects.filter(family_id__in=family_ids).select_related("user").order_by("pk")
    ):
        guardians.setdefault(guardian.family_id, []).append(guardian)
    rows = []
    for membership in memberships:
        people = guardians.get(membership.family_id, [])
        rows.append(
            {
                "membership": membership,
                "guardians": [
                    {
                        "name": g.user.display_name or g.get_relation_display(),
                        "phone": mask_phone(g.phone or g.user.phone),
                    }
                    for g in people
                ],
                "child": membership.child.nickname if membership.child_id else "",
            }
        )
    return rows


def group_sessions(group: Group, *, upcoming_only: bool = False, now=None) -> QuerySet:
    from django.utils import timezone

    from .models import GroupSession

    sessions = GroupSession.objects.filter(group=group).select_related("offering")
    if upcoming_only:
        sessions = sessions.filter(offering__ends_at__gte=now or timezone.now())
    return sessions.order_by("offering__starts_at", "pk")


def family_session_bookings(*, family: Family | int | None, offering_ids) -> dict[int, Booking]:
    """The family's live booking (confirmed or waiting) per offering id."""
    family_id = _family_id(family)
    if family_id is None:
        return {}
    bookings = Booking.objects.filter(
        family_id=family_id,
        offering_id__in=list(offering_ids),
        status__in=[Booking.Status.CONFIRMED, Booking.Status.WAITING],
    )
    return {b.offering_id: b for b in bookings}


def session_for_viewer(*, user, family: Family | None, session_id):
    """A group session if the viewer may see it: a member family of its group, or
    staff who may see the group. None: a 404."""
    from .models import GroupSession

    try:
        session_id = int(session_id)
    except (TypeError, ValueError):
        return None
    sessions = GroupSession.objects.select_related(
        "group", "group__parent_school", "group__facilitator", "offering"
    )
    condition = Q(pk__in=[])
    if getattr(user, "is_authenticated", False) and user.is_active:
        condition |= Q(group__in=groups_visible_to_staff(user).values("pk"))
    if family is not None:
        condition |= Q(group__in=member_group_ids(family))
    return sessions.filter(condition, pk=session_id).first()


def session_bookings_for_manager(session) -> list[Booking]:
    return list(
        Booking.objects.filter(
            offering_id=session.offering_id,
            status__in=[Booking.Status.CONFIRMED, Booking.Status.WAITING],
        )
        .select_related("booked_by")
        .order_by("created_at", "pk")
    )


def managed_groups(user) -> QuerySet[Group]:
    """The groups the user may manage, active first, with their school."""
    return (
        groups_changeable_by(user)
        .select_related("parent_school", "facilitator")
        .order_by("status", "name", "pk")
    )


def open_request_counts(group_ids) -> dict[int, int]:
    from django.db.models import Count

    rows = (
        GroupMembership.objects.filter(group_id__in=list(group_ids), status=Status.REQUESTED)
        .values("group_id")
        .annotate(n=Count("pk"))
    )
    return {r["group_id"]: r["n"] for r in rows}


def parent_schools_for_new_group(user) -> QuerySet[ParentSchool]:
    """Parent schools where the user may create a group: host unit changeable by them
    (coordinators) or seen by them (instructors, who facilitate their own)."""
    from members.access import is_staff_member

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ParentSchool.objects.none()
    if not is_staff_member(user):
        return ParentSchool.objects.none()
    return (
        ParentSchool.objects.filter(host_unit_id__in=visible_unit_ids(user))
        .select_related("host_unit")
        .order_by("name", "pk")
    )


def facilitators_for_school(user, school: ParentSchool) -> list:
    """Who may facilitate a group at ``school``: staff who see its host unit (for a
    coordinator creating); an instructor only picks themselves."""
    from django.contrib.auth import get_user_model

    from members.access import can_change_unit, can_view_unit, is_staff_member
    from members.models import RoleAssignment

    if not can_change_unit(user, school.host_unit_id):
        return [user]
    staff_ids = RoleAssignment.objects.filter(
        Q(unit_id=school.host_unit_id) | Q(unit__children=school.host_unit_id)
    ).values("user_id")
    users = (
        get_user_model()
        .objects.filter(pk__in=staff_ids, is_active=True)
        .order_by("display_name", "pk")
    )
    return [u for u in users if is_staff_member(u) and can_view_unit(u, school.host_unit_id)]


def cosign_claims_scope(user) -> Q | None:
    """Handbook claims a group facilitator may verify: "cosign" items of families
    that are active members of active groups they facilitate (none once the family
    left or the group was dissolved). Registered in apps.ready()."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    families = (
        GroupMembership.objects.filter(
            status=Status.ACTIVE,
            group__status=Group.Status.ACTIVE,
            group__facilitator_id=user.pk,
        )
        .order_by()
        .values("family_id")
    )
    return Q(item__evidence="cosign", family_id__in=families)
