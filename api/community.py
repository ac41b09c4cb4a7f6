"""API: the mutual-help board 互助交流 (docs/API.md, docs/COMMUNITY.md).

The same access rules and services as the board pages: the boards a caller may
read are ``community.selectors.boards_readable_by`` (a board, a thread or a post
outside them is 404, the same body as a missing id), and every write is a
``community.services`` call — a new thread (``thread_create``), a reply
(``reply_create``), a report (``report_create``) and an accepted answer
(``answer_accept``), each with an ``Idempotency-Key``. A post the sensitive-word
list, the board's "first posts are held" setting or the cloud check holds is
answered 201 with ``status: held`` and the polite sentence of the pages
(``services.held_message``); nobody but its author and the board's moderators
ever reads it.

What a post shows is what the pages show: the snapshot of the family's board
nickname (or a staff member's name) and the school, the role, never a phone,
never a child's name (the post rows hold none). A new thread or a reply is JSON,
or the same fields as ``multipart/form-data`` with up to
``COMMUNITY_POST_MAX_IMAGES`` pictures in ``images`` (cleaned by the service:
EXIF stripped, resized, re-encoded); the pictures of a post are counted in
``image_count`` and shown on the site's pages.
"""

import datetime
import json
from typing import Literal

import pydantic
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db.models import OuterRef, Prefetch, Q, Subquery
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema
from ninja.errors import ValidationError as SchemaValidationError
from pydantic import Field

from community import selectors, services
from community.errors import CommunityError
from community.models import Board, Post, PostImage, Report, Thread

from .auth import require_scope, signed_in
from .catalogue import MAX_ID, object_id
from .core import register_rule_errors
from .idempotency import idempotent
from .pagination import keyset_page
from .schemas import ErrorOut

register_rule_errors(CommunityError)

router = Router(tags=["community"])

BOARD_LIMIT = 20
THREAD_LIMIT = 20
POST_LIMIT = 20
MAX_LIMIT = 50
TITLE_MAX = 80
REASON_DETAIL_MAX = 200

READ_ANSWERS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ANSWERS = {**READ_ANSWERS, 503: ErrorOut}

ThreadKind = Literal.__getitem__(tuple(Thread.Kind.values))
ReportReason = Literal.__getitem__(tuple(Report.Reason.values))

BoardId = Path(..., ge=1, le=MAX_ID, description="交流区的 id")
ThreadId = Path(..., ge=1, le=MAX_ID, description="主题帖的 id")
PostId = Path(..., ge=1, le=MAX_ID, description="帖子（主题首帖或回复）的 id")


def _own(user, post_or_thread) -> bool:
    """Written by the caller's family (or by the caller, for staff without one)."""
    family = selectors.family_of(user)
    if family is not None and post_or_thread.author_family_id == family.pk:
        return True
    return post_or_thread.author_user_id == user.pk


# Boards -------------------------------------------------------------------------------


class BoardOut(Schema):
    id: int
    kind: str = Field(description="school 家长学校交流区 · group 小组交流区 · alliance 联盟公告")
    kind_label: str
    title: str
    school: str | None = Field(None, description="家长学校（小组交流区：小组所属的家长学校）")
    alliance: str | None = Field(None, description="联盟（联盟公告区）")
    group_id: int | None = Field(None, description="小组交流区的小组 id")
    is_archived: bool = Field(description="小组已解散，交流区已归档，只能查看")
    can_moderate: bool = Field(description="您是本交流区的管理员（协调员或小组带领人）")
    latest_activity_at: datetime.datetime | None = Field(
        None, description="最近一次发帖或回复的时间"
    )


def _board_out(board: Board, *, moderated: set[int]) -> BoardOut:
    return BoardOut(
        id=board.pk,
        kind=board.kind,
        kind_label=board.get_kind_display(),
        title=board.title,
        school=board.parent_school.name if board.parent_school_id else None,
        alliance=board.alliance.name if board.alliance_id else None,
        group_id=board.group_id,
        is_archived=board.is_archived,
        can_moderate=board.pk in moderated,
        latest_activity_at=getattr(board, "latest_activity_at", None),
    )


def _moderated_ids(user, board_ids) -> set[int]:
    """Which of these boards the caller moderates, in one query (not one per board)."""
    return set(
        selectors.boards_moderated_by(user).filter(pk__in=board_ids).values_list("pk", flat=True)
    )


class BoardListOut(Schema):
    items: list[BoardOut]
    next_cursor: str | None = None
    limit: int


class BoardListQuery(Schema):
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(BOARD_LIMIT, ge=1, le=MAX_LIMIT)


@router.get(
    "/boards",
    auth=signed_in,
    response={200: BoardListOut, **READ_ANSWERS},
    summary="我能查看的交流区：我的家长学校、我的小组、联盟公告",
)
def board_list(request, query: Query[BoardListQuery]):
    require_scope(request, "read")
    user = request.user
    # The school and alliance boards are made when first needed, as on the pages.
    services.boards_ensure_for(user)
    latest = (
        Thread.objects.filter(board_id=OuterRef("pk"), status=Post.Status.PUBLISHED)
        .order_by("-last_activity_at")
        .values("last_activity_at")[:1]
    )
    boards = (
        selectors.boards_readable_by(user)
        .select_related("parent_school", "alliance")
        .annotate(latest_activity_at=Subquery(latest))
    )
    rows, next_cursor = keyset_page(
        boards,
        order=("kind", "pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"community.boards:{user.pk}",
    )
    moderated = _moderated_ids(user, [b.pk for b in rows])
    return BoardListOut(
        items=[_board_out(b, moderated=moderated) for b in rows],
        next_cursor=next_cursor,
        limit=query.limit,
    )


# Threads on a board ------------------------------------------------------------------


class AuthorOut(Schema):
    """Who wrote it, as every reader sees it: a nickname (or a staff member's name)
    and the school; never a phone, never a child's name."""

    name: str = Field(description="家庭的交流区昵称，或老师的姓名")
    school: str = Field(description="所在家长学校")
    role: str = Field(
        description="family 家长 · instructor 讲师 · facilitator 小组带领人 · coordinator 协调员"
    )
    role_label: str
    is_staff: bool = Field(description="老师、小组带领人或协调员（页面上显示身份标签）")


def _author(post: Post | None) -> AuthorOut:
    if post is None:  # an opening post removed by hand: the thread keeps no snapshot
        return AuthorOut(name="", school="", role="family", role_label="", is_staff=False)
    return AuthorOut(
        name=post.author_name,
        school=post.author_school,
        role=post.author_role,
        role_label=post.get_author_role_display(),
        is_staff=post.author_role in Post.STAFF_ROLES,
    )


class ThreadCardOut(Schema):
    id: int
    board_id: int
    kind: str = Field(description="question 提问 · sharing 分享 · announcement 公告")
    kind_label: str
    title: str
    author: AuthorOut
    status: str = Field(
        description="published 已发布 · held 审核中（只有作者本人和管理员看得到） · "
        "hidden 已隐藏（只有管理员看得到）"
    )
    status_label: str
    mine: bool = Field(description="本家庭发的帖子")
    is_pinned: bool
    is_closed: bool
    has_accepted_answer: bool = Field(description="提问已有采纳的回答")
    reply_count: int
    last_activity_at: datetime.datetime
    published_at: datetime.datetime | None = None


def _thread_card(user, thread: Thread, opening: Post | None) -> ThreadCardOut:
    return ThreadCardOut(
        id=thread.pk,
        board_id=thread.board_id,
        kind=thread.kind,
        kind_label=thread.get_kind_display(),
        title=thread.title,
        author=_author(opening),
        status=thread.status,
        status_label=str(Post.Status(thread.status).label),
        mine=_own(user, thread),
        is_pinned=thread.is_pinned,
        is_closed=thread.is_closed,
        has_accepted_answer=thread.accepted_post_id is not None,
        reply_count=thread.reply_count,
        last_activity_at=thread.last_activity_at,
        published_at=thread.published_at,
    )


def _openings(thread_ids) -> dict[int, Post]:
    """The opening posts of these threads (their author snapshot), in one query."""
    posts = Post.objects.filter(thread_id__in=thread_ids, is_opening=True)
    return {post.thread_id: post for post in posts}


class ThreadListOut(Schema):
    board: BoardOut
    can_post: bool = Field(
        description="可以发帖：交流区未归档，联盟公告区只有管理员可以发布（发帖时仍会检查"
        "手机号验证与禁言）"
    )
    items: list[ThreadCardOut]
    next_cursor: str | None = None
    limit: int


class ThreadListQuery(Schema):
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(THREAD_LIMIT, ge=1, le=MAX_LIMIT)


def _readable_board(user, board_id: int) -> Board:
    board = selectors.board_readable(user, board_id)
    if board is None:
        raise CommunityError("board_missing")
    return board


def _board_threads(user, board: Board):
    """The board's published threads, and the caller's family's own held ones."""
    own = Q(author_user_id=user.pk)
    family = selectors.family_of(user)
    if family is not None:
        own |= Q(author_family_id=family.pk)
    return Thread.objects.filter(board=board).filter(
        Q(status=Post.Status.PUBLISHED) | (Q(status=Post.Status.HELD) & own)
    )


@router.get(
    "/boards/{board_id}/threads",
    auth=signed_in,
    response={200: ThreadListOut, **READ_ANSWERS},
    summary="一个交流区的主题帖：置顶的在前，然后按最近回复",
)
def thread_list(request, query: Query[ThreadListQuery], board_id: int = BoardId):
    require_scope(request, "read")
    user = request.user
    board = _readable_board(user, board_id)
    rows, next_cursor = keyset_page(
        _board_threads(user, board),
        order=("-is_pinned", "-last_activity_at", "-pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"community.threads:{board.pk}:{user.pk}",
    )
    openings = _openings([t.pk for t in rows])
    moderated = _moderated_ids(user, [board.pk])
    can_post = not board.is_archived and (board.kind != Board.Kind.ALLIANCE or bool(moderated))
    return ThreadListOut(
        board=_board_out(board, moderated=moderated),
        can_post=can_post,
        items=[_thread_card(user, t, openings.get(t.pk)) for t in rows],
        next_cursor=next_cursor,
        limit=query.limit,
    )


# A thread and its posts ---------------------------------------------------------------


class PostOut(Schema):
    id: int
    thread_id: int
    is_opening: bool = Field(description="主题首帖（其余为回复）")
    body: str = Field(description="纯文本（不含 HTML；显示时请转义，链接可自行识别）")
    author: AuthorOut
    status: str = Field(
        description="published 已发布 · held 审核中（只有作者本人和管理员看得到） · "
        "hidden 已隐藏（只有管理员看得到）"
    )
    status_label: str
    mine: bool = Field(description="本家庭发的帖子")
    is_accepted: bool = Field(description="被采纳的回答")
    image_count: int = Field(description="帖子里的图片数（图片请在网页上查看）")
    created_at: datetime.datetime
    published_at: datetime.datetime | None = None


def _post_out(user, post: Post, *, accepted_id: int | None) -> PostOut:
    return PostOut(
        id=post.pk,
        thread_id=post.thread_id,
        is_opening=post.is_opening,
        body=post.body,
        author=_author(post),
        status=post.status,
        status_label=post.get_status_display(),
        mine=_own(user, post),
        is_accepted=post.pk == accepted_id,
        image_count=len(post.images.all()),
        created_at=post.created_at,
        published_at=post.published_at,
    )


def _thread_posts(user, thread: Thread, *, moderator: bool):
    """Posts of the thread the caller may read: published ones, the caller's own
    held ones; a moderator reads held and hidden posts too."""
    posts = Post.objects.filter(thread=thread).prefetch_related(
        Prefetch("images", queryset=PostImage.objects.only("pk", "post_id"))
    )
    if moderator:
        return posts
    own = Q(author_user_id=user.pk)
    family = selectors.family_of(user)
    if family is not None:
        own |= Q(author_family_id=family.pk)
    return posts.filter(Q(status=Post.Status.PUBLISHED) | (Q(status=Post.Status.HELD) & own))


class ThreadOut(Schema):
    id: int
    board: BoardOut
    kind: str = Field(description="question 提问 · sharing 分享 · announcement 公告")
    kind_label: str
    title: str
    author: AuthorOut
    status: str = Field(description="published 已发布 · held 审核中 · hidden 已隐藏")
    status_label: str
    mine: bool
    is_pinned: bool
    is_closed: bool = Field(description="已关闭：不能再回复")
    reply_count: int
    last_activity_at: datetime.datetime
    published_at: datetime.datetime | None = None
    accepted: PostOut | None = Field(None, description="采纳的回答（页面上显示在最前）")
    can_reply: bool = Field(description="可以回复（未关闭、未归档；回复时仍会检查手机号与禁言）")
    can_accept: bool = Field(description="可以把一条回复标为采纳的回答（提问的家庭、老师、管理员）")


class ThreadPageOut(Schema):
    thread: ThreadOut
    posts: list[PostOut] = Field(description="主题首帖与回复，按时间先后")
    next_cursor: str | None = None
    limit: int


class ThreadPageQuery(Schema):
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(POST_LIMIT, ge=1, le=MAX_LIMIT)


def _readable_thread(user, thread_id: int) -> Thread:
    thread = selectors.thread_readable(user, thread_id)
    if thread is None:
        raise CommunityError("thread_missing")
    return thread


def _thread_out(user, thread: Thread, *, moderator: bool, opening: Post | None = None):
    board = thread.board
    if opening is None:
        opening = _openings([thread.pk]).get(thread.pk)
    accepted = None
    if thread.accepted_post_id is not None:
        accepted_post = (
            _thread_posts(user, thread, moderator=moderator)
            .filter(pk=thread.accepted_post_id)
            .first()
        )
        if accepted_post is not None:
            accepted = _post_out(user, accepted_post, accepted_id=thread.accepted_post_id)
    moderated = {board.pk} if moderator else set()
    open_for_replies = not thread.is_closed and not board.is_archived
    return ThreadOut(
        id=thread.pk,
        board=_board_out(board, moderated=moderated),
        kind=thread.kind,
        kind_label=thread.get_kind_display(),
        title=thread.title,
        author=_author(opening),
        status=thread.status,
        status_label=str(Post.Status(thread.status).label),
        mine=_own(user, thread),
        is_pinned=thread.is_pinned,
        is_closed=thread.is_closed,
        reply_count=thread.reply_count,
        last_activity_at=thread.last_activity_at,
        published_at=thread.published_at,
        accepted=accepted,
        can_reply=open_for_replies and thread.status == Post.Status.PUBLISHED,
        can_accept=selectors.can_accept(user, thread) and not board.is_archived,
    )


@router.get(
    "/threads/{thread_id}",
    auth=signed_in,
    response={200: ThreadPageOut, **READ_ANSWERS},
    summary="一个主题帖：首帖与回复（按游标翻页），采纳的回答",
)
def thread_page(request, query: Query[ThreadPageQuery], thread_id: int = ThreadId):
    require_scope(request, "read")
    user = request.user
    thread = _readable_thread(user, thread_id)
    moderator = selectors.can_moderate(user, thread.board)
    rows, next_cursor = keyset_page(
        _thread_posts(user, thread, moderator=moderator),
        order=("created_at", "pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"community.posts:{thread.pk}:{user.pk}",
    )
    opening = next((p for p in rows if p.is_opening), None)
    return ThreadPageOut(
        thread=_thread_out(user, thread, moderator=moderator, opening=opening),
        posts=[_post_out(user, p, accepted_id=thread.accepted_post_id) for p in rows],
        next_cursor=next_cursor,
        limit=query.limit,
    )


# Writing ------------------------------------------------------------------------------
# A post is JSON, or a form with its pictures (as the handbook's claims with a photo).

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _form_schema(model: type[Schema]) -> dict:
    schema = model.model_json_schema()
    properties = dict(schema.get("properties", {}))
    properties["images"] = {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "maxItems": settings.COMMUNITY_POST_MAX_IMAGES,
        "title": "Images",
        "description": "图片（JPG、PNG 或 WebP，可多张）",
    }
    return {
        "type": "object",
        "title": f"{schema.get('title', model.__name__)}Form",
        "properties": properties,
        "required": schema.get("required", []),
    }


def _json_or_form(model: type[Schema]) -> dict:
    """OpenAPI for a body that is JSON (no pictures) or a form with pictures."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": model.model_json_schema()},
                "multipart/form-data": {"schema": _form_schema(model)},
            },
        }
    }


def _invalid(loc: str):
    return SchemaValidationError([{"loc": ("body", loc), "type": "value_error", "msg": ""}])


def _read_post_body(request, model: type[Schema]):
    """(payload, images): the body as JSON, or as a form with ``images`` files."""
    images = []
    if request.content_type in FORM_TYPES:
        try:
            data = {name: request.POST.get(name) for name in request.POST}
            images = request.FILES.getlist("images")
        except (MultiPartParserError, SuspiciousOperation):
            raise _invalid("body") from None
    else:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise _invalid("body") from None
        if not isinstance(data, dict):
            raise _invalid("body")
    try:
        payload = model.model_validate(data)
    except pydantic.ValidationError as error:
        raise SchemaValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None
    return payload, images


class ThreadIn(Schema):
    kind: ThreadKind = Field(
        description="question 提问 · sharing 分享 · announcement 公告（只有管理员可以发布）"
    )
    title: str = Field(description="标题（4–80 个字）", max_length=TITLE_MAX)
    body: str = Field(description="内容（纯文本）")


class PostedOut(Schema):
    post: PostOut
    thread_id: int
    held: bool = Field(description="需要审核：审核通过后其他家长才能看到，结果会通知您")
    message: str = Field(description="告诉作者的话（需要审核时为审核说明）")


def _posted(user, post: Post) -> PostedOut:
    post = Post.objects.prefetch_related("images").get(pk=post.pk)
    held = post.status == Post.Status.HELD
    return PostedOut(
        post=_post_out(user, post, accepted_id=None),
        thread_id=post.thread_id,
        held=held,
        message=str(services.held_message(post)) if held else str(_("发布成功。")),
    )


@router.post(
    "/boards/{board_id}/threads",
    auth=signed_in,
    response={201: PostedOut, **WRITE_ANSWERS},
    summary="发帖：提问、分享（JSON；带图片时用 multipart/form-data 的 images）",
    openapi_extra=_json_or_form(ThreadIn),
)
@idempotent
def thread_create(request, board_id: int = BoardId):
    require_scope(request, "write")
    user = request.user
    payload, images = _read_post_body(request, ThreadIn)
    thread = services.thread_create(
        user=user,
        board_id=board_id,
        kind=payload.kind,
        title=payload.title,
        body=payload.body,
        images=images,
    )
    opening = Post.objects.get(thread=thread, is_opening=True)
    return 201, _posted(user, opening)


class ReplyIn(Schema):
    body: str = Field(description="回复内容（纯文本）")


@router.post(
    "/threads/{thread_id}/replies",
    auth=signed_in,
    response={201: PostedOut, **WRITE_ANSWERS},
    summary="回复一个主题帖（JSON；带图片时用 multipart/form-data 的 images）",
    openapi_extra=_json_or_form(ReplyIn),
)
@idempotent
def reply_create(request, thread_id: int = ThreadId):
    require_scope(request, "write")
    user = request.user
    payload, images = _read_post_body(request, ReplyIn)
    post = services.reply_create(user=user, thread_id=thread_id, body=payload.body, images=images)
    return 201, _posted(user, post)


class ReportIn(Schema):
    reason: ReportReason = Field(
        description="ads 广告或引流 · abuse 辱骂或人身攻击 · privacy 泄露他人隐私 · "
        "false 不实信息 · illegal 违法违规内容 · other 其他"
    )
    detail: str = Field("", max_length=REASON_DETAIL_MAX, description="补充说明（可不填）")


class ReportOut(Schema):
    id: int
    post_id: int
    reason: str
    reason_label: str
    created_at: datetime.datetime
    message: str


@router.post(
    "/posts/{post_id}/reports",
    auth=signed_in,
    response={201: ReportOut, **WRITE_ANSWERS},
    summary="举报一条帖子（每个家庭对一条帖子举报一次）",
)
@idempotent
def report_create(request, payload: ReportIn, post_id: int = PostId):
    require_scope(request, "write")
    report = services.report_create(
        user=request.user, post_id=post_id, reason=payload.reason, detail=payload.detail
    )
    return 201, ReportOut(
        id=report.pk,
        post_id=report.post_id,
        reason=report.reason,
        reason_label=report.get_reason_display(),
        created_at=report.created_at,
        message=str(_("感谢您的举报，管理员会尽快处理。")),
    )


class AcceptIn(Schema):
    post_id: int = object_id(description="要采纳的回复的 id")


@router.post(
    "/threads/{thread_id}/accept",
    auth=signed_in,
    response={200: ThreadOut, **WRITE_ANSWERS},
    summary="把一条回复标为采纳的回答（提问的家庭、老师或管理员）",
)
@idempotent
def answer_accept(request, payload: AcceptIn, thread_id: int = ThreadId):
    require_scope(request, "write")
    user = request.user
    services.answer_accept(user=user, thread_id=thread_id, post_id=payload.post_id)
    thread = _readable_thread(user, thread_id)
    moderator = selectors.can_moderate(user, thread.board)
    return 200, _thread_out(user, thread, moderator=moderator)
