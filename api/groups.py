"""API: buddy groups 学伴小组 / 家伴小组 (docs/API.md, docs/GROUPS.md).

The same rules and services as the group pages: a family lists its groups and
the groups it may join at its parent schools (``groups.selectors``), reads one,
joins (``groups.services.group_join``: at once for an open group, as a request
the facilitator decides otherwise), leaves (``group_leave``) and books the
group's own sessions (``group_session_book``, through the limited-places
service; cancelling is ``POST /learning/bookings/{booking_id}/cancel``, like any
booking). Writes take an ``Idempotency-Key``.

A group the caller may not see — another school's, a facilitator-only group of
which the family is not a member, a group the family left — is 404
``group_missing``, the same body as a missing id. Other families are never
named: a family sees the member count, its own memberships and the
facilitator's name; the member list is on the facilitator's pages only.
"""

import datetime
from typing import Literal

from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema
from pydantic import Field

from community import selectors as community_selectors
from community import services as community_services
from community.selectors import family_of
from groups import selectors, services
from groups.errors import GroupError
from groups.models import Group, GroupMembership
from members.models import Child

from .auth import require_scope, signed_in
from .catalogue import MAX_ID, object_id
from .core import register_rule_errors
from .idempotency import idempotent
from .learning import BookingOut, PartyIn, booking_out
from .pagination import keyset_page
from .schemas import ErrorOut

register_rule_errors(GroupError)

router = Router(tags=["groups"])

GROUP_LIMIT = 20
SESSION_LIMIT = 20
MAX_LIMIT = 50

READ_ANSWERS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ANSWERS = {**READ_ANSWERS, 503: ErrorOut}

GroupId = Path(..., ge=1, le=MAX_ID, description="小组的 id")
GroupSessionId = Path(..., ge=1, le=MAX_ID, description="小组活动的 id（见小组的活动列表）")

Status = GroupMembership.Status
# The memberships a family still sees its group through: asked, in it, or in it
# when it was dissolved (its archived board stays readable). Left and removed: no.
SHOWN_STATUSES = (Status.REQUESTED, Status.ACTIVE, Status.ENDED)
JOINABLE = (Group.Joining.OPEN, Group.Joining.REQUEST)


# Who sees which group -----------------------------------------------------------------
# The rules are groups.selectors' (the group pages ask the same ones).


def _mine(user, family) -> Q:
    """The caller's groups: in it, asked to join, in it when it was dissolved, or
    its facilitator."""
    condition = Q(facilitator_id=user.pk)
    if family is not None:
        condition |= (
            Q(pk__in=selectors.member_group_ids(family))
            | Q(pk__in=selectors.former_group_ids(family))
            | Q(pk__in=selectors.family_requested_group_ids(family))
        )
    return condition


def _joinable(family) -> Q:
    """Active groups of the family's parent schools that families join by themselves
    or by request and that have a place left."""
    if family is None:
        return Q(pk__in=[])
    return Q(pk__in=selectors.groups_joinable_by(family).order_by().values("pk"))


def _group_for(user, family, group_id: int) -> Group:
    group = selectors.group_for_viewer(user=user, family=family, group_id=group_id)
    if group is None:
        raise GroupError("group_missing")
    return group


def _memberships(family, group_ids) -> dict[int, list[GroupMembership]]:
    """The family's own memberships in these groups, in one query."""
    found: dict[int, list[GroupMembership]] = {}
    if family is None or not group_ids:
        return found
    rows = (
        GroupMembership.objects.filter(
            family=family, group_id__in=group_ids, status__in=SHOWN_STATUSES
        )
        .select_related("child")
        .order_by("pk")
    )
    for row in rows:
        found.setdefault(row.group_id, []).append(row)
    return found


# Shapes ------------------------------------------------------------------------------


class MembershipOut(Schema):
    """One of the caller's family's own memberships (学伴小组: one per child)."""

    id: int
    status: str = Field(
        description="requested 申请中 · active 成员 · ended 小组已解散（仍可查看交流区）"
    )
    status_label: str
    child_id: int | None = Field(None, description="学伴小组：参加的孩子（本家庭）")
    child: str | None = Field(None, description="孩子的昵称（本家庭）")
    requested_at: datetime.datetime | None = None
    joined_at: datetime.datetime | None = None


def _membership_out(row: GroupMembership) -> MembershipOut:
    return MembershipOut(
        id=row.pk,
        status=row.status,
        status_label=row.get_status_display(),
        child_id=row.child_id,
        child=row.child.nickname if row.child_id and row.child is not None else None,
        requested_at=row.requested_at,
        joined_at=row.joined_at,
    )


class GroupCardOut(Schema):
    id: int
    kind: str = Field(description="family 家伴小组 · study 学伴小组（孩子参加）")
    kind_label: str
    name: str
    description: str
    school: str = Field(description="所属家长学校")
    facilitator: str = Field(description="带领人")
    facilitator_role: str = Field(description="instructor 讲师 · mentor 导师 · volunteer 志愿者")
    facilitator_role_label: str
    min_size: int
    max_size: int
    member_count: int = Field(description="现有成员数")
    is_full: bool
    joining: str = Field(
        description="open 可直接加入 · request 申请后由带领人同意 · facilitator 仅由带领人添加"
    )
    joining_label: str
    status: str = Field(description="active 进行中 · dissolved 已解散")
    status_label: str
    relation: str = Field(
        description="member 成员 · requested 申请中 · former 解散时的成员 · "
        "facilitator 带领人 · joinable 可以加入或申请 · other 其他（如仅由带领人添加成员的小组，"
        "或工作人员查看）"
    )
    memberships: list[MembershipOut] = Field(
        default_factory=list, description="本家庭在这个小组的成员身份"
    )
    can_join: bool = Field(description="可以加入或申请（学伴小组按孩子加入）")
    can_leave: bool


def _facilitator_name(group: Group) -> str:
    # The facilitator's display name; never a phone (a volunteer without one
    # shows as their role).
    name = (group.facilitator.display_name or "").strip()
    return name or group.get_facilitator_role_display()


def _relation(user, group: Group, rows: list[GroupMembership]) -> str:
    statuses = {row.status for row in rows}
    if Status.ACTIVE in statuses:
        return "member"
    if Status.REQUESTED in statuses:
        return "requested"
    if Status.ENDED in statuses:
        return "former"
    if group.facilitator_id == user.pk:
        return "facilitator"
    if group.status == Group.Status.ACTIVE and group.joining in JOINABLE:
        return "joinable"
    return "other"


def _card_fields(user, family, group: Group, rows: list[GroupMembership]) -> dict:
    is_full = group.member_count >= group.max_size
    active = group.status == Group.Status.ACTIVE
    open_rows = [r for r in rows if r.status in GroupMembership.OPEN_STATUSES]
    # A 家伴 group takes a family once; a 学伴 group one membership per child.
    room_for_family = group.kind == Group.Kind.STUDY or not open_rows
    return {
        "id": group.pk,
        "kind": group.kind,
        "kind_label": group.get_kind_display(),
        "name": group.name,
        "description": group.description,
        "school": group.parent_school.name,
        "facilitator": _facilitator_name(group),
        "facilitator_role": group.facilitator_role,
        "facilitator_role_label": group.get_facilitator_role_display(),
        "min_size": group.min_size,
        "max_size": group.max_size,
        "member_count": group.member_count,
        "is_full": is_full,
        "joining": group.joining,
        "joining_label": group.get_joining_display(),
        "status": group.status,
        "status_label": group.get_status_display(),
        "relation": _relation(user, group, rows),
        "memberships": [_membership_out(r) for r in rows],
        "can_join": (
            family is not None
            and active
            and group.joining in JOINABLE
            and not is_full
            and room_for_family
        ),
        "can_leave": active and bool(open_rows),
    }


# The list ---------------------------------------------------------------------------


class GroupListOut(Schema):
    items: list[GroupCardOut]
    next_cursor: str | None = None
    limit: int


class GroupListQuery(Schema):
    which: Literal["all", "mine", "joinable"] = Field(
        "all", description="all 我的小组与可以加入的（默认） · mine 我的小组 · joinable 可以加入的"
    )
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(GROUP_LIMIT, ge=1, le=MAX_LIMIT)


@router.get(
    "",
    auth=signed_in,
    response={200: GroupListOut, **READ_ANSWERS},
    summary="我的小组，以及我所在家长学校可以加入的小组（新的在前）",
)
def group_list(request, query: Query[GroupListQuery]):
    require_scope(request, "read")
    user = request.user
    family = family_of(user)
    mine, joinable = _mine(user, family), _joinable(family)
    condition = {"all": mine | joinable, "mine": mine, "joinable": joinable & ~mine}[query.which]
    rows, next_cursor = keyset_page(
        Group.objects.filter(condition).select_related("parent_school", "facilitator"),
        order=("-created_at", "-pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"groups:{user.pk}:{query.which}",
    )
    memberships = _memberships(family, [g.pk for g in rows])
    return GroupListOut(
        items=[
            GroupCardOut(**_card_fields(user, family, g, memberships.get(g.pk, []))) for g in rows
        ],
        next_cursor=next_cursor,
        limit=query.limit,
    )


# One group -------------------------------------------------------------------------


class GroupOut(GroupCardOut):
    board_id: int | None = Field(
        None,
        description="小组交流区的 id（成员、解散时的成员、带领人和管理员可以查看；"
        "见 /community/boards/{board_id}/threads）",
    )


def _group_out(user, family, group: Group) -> GroupOut:
    rows = _memberships(family, [group.pk]).get(group.pk, [])
    fields = _card_fields(user, family, group, rows)
    board_id = None
    if fields["relation"] in ("member", "former", "facilitator") or selectors.can_manage_group(
        user, group
    ):
        # The group's board is made when first needed, as the group page does, and
        # named only to those who may read it.
        board = community_services.board_for_group(group)
        if board is not None and community_selectors.board_readable(user, board.pk) is not None:
            board_id = board.pk
    return GroupOut(**fields, board_id=board_id)


@router.get(
    "/{group_id}",
    auth=signed_in,
    response={200: GroupOut, **READ_ANSWERS},
    summary="一个小组：介绍、带领人、成员数、本家庭的成员身份、交流区",
)
def group_detail(request, group_id: int = GroupId):
    require_scope(request, "read")
    user = request.user
    family = family_of(user)
    return _group_out(user, family, _group_for(user, family, group_id))


# Joining and leaving ----------------------------------------------------------------


class JoinIn(Schema):
    child_id: int | None = object_id(
        default=None, description="学伴小组：参加的孩子（本家庭的孩子，必填）；家伴小组不填"
    )


class GroupChangeOut(Schema):
    group: GroupOut
    message: str


def _own_family(request):
    family = family_of(request.user)
    if family is None:
        raise GroupError("no_family")
    return family


def _own_child(family, child_id: int | None) -> None:
    """A child of another family is refused as a missing one, before anything else
    (leaving a 家伴 group takes no child: naming one must not make it go through)."""
    if child_id is not None and not Child.objects.filter(pk=child_id, family=family).exists():
        raise GroupError("child_invalid", field="child_id")


@router.post(
    "/{group_id}/join",
    auth=signed_in,
    response={201: GroupChangeOut, **WRITE_ANSWERS},
    summary="加入小组（需要带领人同意的小组为提交申请）",
)
@idempotent
def group_join(request, payload: JoinIn, group_id: int = GroupId):
    require_scope(request, "write")
    user = request.user
    family = _own_family(request)
    _own_child(family, payload.child_id)
    group = _group_for(user, family, group_id)
    membership = services.group_join(user=user, group_id=group.pk, child_id=payload.child_id)
    if membership.status == Status.ACTIVE:
        message = _("您已加入“%(name)s”。") % {"name": group.name}
    else:
        message = _("申请已提交，带领人同意后会通知您。")
    group = _group_for(user, family, group_id)
    return 201, GroupChangeOut(group=_group_out(user, family, group), message=str(message))


@router.post(
    "/{group_id}/leave",
    auth=signed_in,
    response={200: GroupChangeOut, **WRITE_ANSWERS},
    summary="退出小组或撤回申请（退出后不能再查看小组交流区）",
)
@idempotent
def group_leave(request, payload: JoinIn, group_id: int = GroupId):
    require_scope(request, "write")
    user = request.user
    family = _own_family(request)
    _own_child(family, payload.child_id)
    group = _group_for(user, family, group_id)
    services.group_leave(user=user, group_id=group.pk, child_id=payload.child_id)
    # Read again: a family that left an open group may still see it as joinable.
    group = Group.objects.select_related("parent_school", "facilitator").get(pk=group.pk)
    message = _("您已退出“%(name)s”。") % {"name": group.name}
    return 200, GroupChangeOut(group=_group_out(user, family, group), message=str(message))


# The group's sessions --------------------------------------------------------------


class GroupSessionBookingOut(Schema):
    id: int
    status: str = Field(description="confirmed 已确认 · waiting 候补中")
    status_label: str


class GroupSessionOut(Schema):
    id: int
    group_id: int
    offering_id: int
    title: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    venue: str
    online_url: str
    note: str
    capacity: int
    free_places: int
    status: str = Field(description="open 开放报名 · cancelled 已取消 · finished 已结束")
    status_label: str
    booking: GroupSessionBookingOut | None = Field(
        None, description="本家庭的报名（取消见 /learning/）"
    )


class GroupSessionListOut(Schema):
    items: list[GroupSessionOut]
    next_cursor: str | None = None
    limit: int


class GroupSessionQuery(Schema):
    past: bool = Field(False, description="false 未结束的（默认，最早的在前） · true 已结束的")
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(SESSION_LIMIT, ge=1, le=MAX_LIMIT)


def _may_see_sessions(user, family, group: Group) -> bool:
    """The group's active members, its facilitator and the staff who see its school."""
    if family is not None and selectors.is_member(family=family, group=group):
        return True
    return selectors.groups_visible_to_staff(user).filter(pk=group.pk).exists()


@router.get(
    "/{group_id}/sessions",
    auth=signed_in,
    response={200: GroupSessionListOut, **READ_ANSWERS},
    summary="小组自己的活动（小组成员可以报名）",
)
def group_sessions(request, query: Query[GroupSessionQuery], group_id: int = GroupId):
    require_scope(request, "read")
    user = request.user
    family = family_of(user)
    group = _group_for(user, family, group_id)
    if not _may_see_sessions(user, family, group):
        raise GroupError("group_missing")
    now = timezone.now()
    sessions = selectors.group_sessions(group).annotate(starts_at=F("offering__starts_at"))
    if query.past:
        sessions, order = sessions.filter(offering__ends_at__lt=now), ("-starts_at", "-pk")
    else:
        sessions, order = sessions.filter(offering__ends_at__gte=now), ("starts_at", "pk")
    rows, next_cursor = keyset_page(
        sessions,
        order=order,
        cursor=query.cursor,
        limit=query.limit,
        scope=f"groups.sessions:{group.pk}:{int(query.past)}",
    )
    bookings = selectors.family_session_bookings(
        family=family, offering_ids=[s.offering_id for s in rows]
    )
    items = []
    for session in rows:
        offering = session.offering
        booking = bookings.get(offering.pk)
        items.append(
            GroupSessionOut(
                id=session.pk,
                group_id=group.pk,
                offering_id=offering.pk,
                title=offering.title,
                starts_at=offering.starts_at,
                ends_at=offering.ends_at,
                venue=session.venue,
                online_url=session.online_url,
                note=session.note,
                capacity=offering.capacity,
                free_places=offering.free_places,
                status=offering.status,
                status_label=offering.get_status_display(),
                booking=GroupSessionBookingOut(
                    id=booking.pk,
                    status=booking.status,
                    status_label=booking.get_status_display(),
                )
                if booking is not None
                else None,
            )
        )
    return GroupSessionListOut(items=items, next_cursor=next_cursor, limit=query.limit)


@router.post(
    "/sessions/{group_session_id}/booking",
    auth=signed_in,
    response={201: BookingOut, **WRITE_ANSWERS},
    summary="报名小组活动（小组成员家庭；满员时进入候补）",
)
@idempotent
def group_session_book(request, payload: PartyIn, group_session_id: int = GroupSessionId):
    require_scope(request, "write")
    family = _own_family(request)
    booking = services.group_session_book(
        user=request.user,
        session_id=group_session_id,
        guardian_ids=payload.guardian_ids,
        child_ids=payload.child_ids,
    )
    return 201, booking_out(request, family, booking.pk)
