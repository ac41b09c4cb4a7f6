"""The board pages (互助交流). Thin: community.selectors read and scope (a board,
thread or post the user may not read is 404, like a missing one),
community.services write, and a CommunityError is shown on the field it names
or as a message. Every page is the person's own (nicknames aside, it shows what
they may read), so none is cached."""

from __future__ import annotations

from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from courses.streaming import file_response
from groups.models import Group
from groups.selectors import can_manage_group, is_member
from members.access import is_staff_member
from members.formatting import id_or_none

from . import selectors, services
from .errors import CommunityError
from .forms import (
    BoardSettingsForm,
    DecideForm,
    ProfileForm,
    QueueFilterForm,
    ReplyForm,
    ReportForm,
    SearchForm,
    ThreadForm,
)
from .models import Board, Post, Thread

# A post's picture is a family's: kept by no shared cache.
IMAGE_CACHE_CONTROL = "private, no-store"


def _show_error(form, error: CommunityError) -> None:
    """The service's message on the field it names (or on the whole form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def _board_or_404(request, board_id) -> Board:
    board = selectors.board_readable(request.user, board_id)
    if board is None:
        raise Http404(CommunityError("board_missing").message)
    return board


def _thread_or_404(request, thread_id) -> Thread:
    thread = selectors.thread_readable(request.user, thread_id)
    if thread is None:
        raise Http404(CommunityError("thread_missing").message)
    return thread


def _post_or_404(request, post_id) -> Post:
    post = selectors.post_readable(request.user, post_id)
    if post is None:
        raise Http404(CommunityError("post_missing").message)
    return post


def _thread_url(thread_id: int, *, page=None, anchor: str = "") -> str:
    url = reverse("community:thread", args=[thread_id])
    if page and str(page) != "1":
        url += "?" + urlencode({"page": page})
    return url + (f"#{anchor}" if anchor else "")


def _back(request, default: str) -> str:
    """The page a form came from (``next``, our own paths only)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _thread_kinds(user, board: Board) -> list[str]:
    """What the user may start on this board: announcements on the alliance's
    board (its moderators only); questions and sharing elsewhere, and
    announcements for the board's moderators."""
    moderator = selectors.can_moderate(user, board)
    if board.kind == Board.Kind.ALLIANCE:
        return [Thread.Kind.ANNOUNCEMENT] if moderator else []
    kinds = [Thread.Kind.QUESTION, Thread.Kind.SHARING]
    if moderator:
        kinds.append(Thread.Kind.ANNOUNCEMENT)
    return kinds


def _posting_block(user, board: Board) -> CommunityError | None:
    """Why the user cannot post here (None when they can); the service decides again."""
    if board.is_archived:
        return CommunityError("board_archived")
    if not _thread_kinds(user, board):
        return CommunityError("announcements_only")
    if selectors.staff_role_on(user, board) is None:
        if selectors.family_of(user) is None:
            return CommunityError("no_family")
        if not selectors.has_verified_phone(user):
            return CommunityError("phone_unverified")
    return None


def _tell_held(request, post: Post | None) -> None:
    if post is not None and post.status == Post.Status.HELD:
        messages.info(request, services.held_message(post))


# --- boards ----------------------------------------------------------------------------


@never_cache
@login_required
@require_safe
def home(request):
    """The boards I may read, by section, with their latest activity."""
    services.boards_ensure_for(request.user)
    return render(
        request,
        "community/home.html",
        {
            "sections": selectors.board_home(user=request.user),
            "search_form": SearchForm(),
            "moderates": selectors.boards_moderated_by(request.user).exists(),
        },
    )


@never_cache
@login_required
@require_safe
def board(request, board_id: int):
    board = _board_or_404(request, board_id)
    moderator = selectors.can_moderate(request.user, board)
    return render(
        request,
        "community/board.html",
        {
            "board": board,
            "threads": selectors.board_threads(
                user=request.user, board=board, page=request.GET.get("page")
            ),
            "own_held": selectors.board_own_held_threads(user=request.user, board=board),
            "is_moderator": moderator,
            "queue_count": selectors.board_queue_count(user=request.user, board=board),
            "posting_block": _posting_block(request.user, board),
            "settings_form": (
                BoardSettingsForm(initial={"hold_first_posts": board.hold_first_posts})
                if moderator
                else None
            ),
        },
    )


@login_required
@require_POST
def board_settings(request, board_id: int):
    board = _board_or_404(request, board_id)
    if not selectors.can_moderate(request.user, board):
        raise Http404(CommunityError("board_missing").message)
    form = BoardSettingsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写 0–20 之间的整数。"))
    else:
        try:
            services.board_settings_update(
                user=request.user,
                board_id=board.pk,
                hold_first_posts=form.cleaned_data["hold_first_posts"],
            )
        except CommunityError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("交流区设置已保存。"))
    return redirect("community:board", board_id=board.pk)


@login_required
@require_safe
def group_board(request, group_id: int):
    """A group's board: made on first visit by someone who may read it, then shown.
    Anyone else (a family that left, another school's family) gets 404."""
    group_pk = id_or_none(group_id)
    group = Group.objects.filter(pk=group_pk).select_related("parent_school").first()
    if group is None:
        raise Http404(CommunityError("board_missing").message)
    existing = Board.objects.filter(group_id=group.pk).values_list("pk", flat=True).first()
    if existing is None:
        family = selectors.family_of(request.user)
        may_read = (
            group.facilitator_id == request.user.pk
            or (group.status == Group.Status.ACTIVE and is_member(family=family, group=group))
            or can_manage_group(request.user, group)
        )
        if not may_read:
            raise Http404(CommunityError("board_missing").message)
        existing = services.board_for_group(group).pk
    # The board's own rule has the last word (a dissolved group: former members only).
    board = _board_or_404(request, existing)
    return redirect("community:board", board_id=board.pk)


# --- threads ---------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def new_thread(request, board_id: int):
    board = _board_or_404(request, board_id)
    block = _posting_block(request.user, board)
    kinds = _thread_kinds(request.user, board)
    form = ThreadForm(request.POST or None, request.FILES or None, kinds=kinds)
    if request.method == "POST" and block is None and form.is_valid():
        data = form.cleaned_data
        try:
            thread = services.thread_create(
                user=request.user,
                board_id=board.pk,
                kind=data["kind"],
                title=data["title"],
                body=data["body"],
                images=data["images"],
            )
        except CommunityError as error:
            _show_error(form, error)
        else:
            opening = thread.posts.filter(is_opening=True).first()
            if thread.status == Post.Status.HELD:
                _tell_held(request, opening)
            else:
                messages.success(request, _("已发布。"))
            return redirect("community:thread", thread_id=thread.pk)
    return render(
        request,
        "community/new_thread.html",
        {"board": board, "form": form, "posting_block": block},
    )


def _thread_context(request, thread: Thread, reply_form: ReplyForm | None = None) -> dict:
    view = selectors.thread_page(user=request.user, thread=thread, page=request.GET.get("page"))
    board = thread.board
    reply_block = _posting_block(request.user, board)
    if reply_block is None and thread.is_closed:
        reply_block = CommunityError("thread_closed")
    if reply_block is None and thread.status != Post.Status.PUBLISHED:
        # Not a service rule to break: the reply form is simply not offered yet.
        reply_block = SimpleNamespace(code="held", message=_("帖子审核通过后才能回复。"))
    return {
        "board": board,
        "thread": thread,
        "view": view,
        "reply_form": reply_form or ReplyForm(),
        "reply_block": reply_block,
        "family": selectors.family_of(request.user),
        "decide_forms": {},
    }


@never_cache
@login_required
@require_safe
def thread(request, thread_id: int):
    thread = _thread_or_404(request, thread_id)
    return render(request, "community/thread.html", _thread_context(request, thread))


@login_required
@require_POST
def reply(request, thread_id: int):
    thread = _thread_or_404(request, thread_id)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            post = services.reply_create(
                user=request.user,
                thread_id=thread.pk,
                body=form.cleaned_data["body"],
                images=form.cleaned_data["images"],
            )
        except CommunityError as error:
            _show_error(form, error)
        else:
            if post.status == Post.Status.HELD:
                _tell_held(request, post)
            else:
                messages.success(request, _("回复已发布。"))
            return redirect(_thread_url(thread.pk, page="last", anchor=f"post-{post.pk}"))
    context = _thread_context(request, thread, reply_form=form)
    return render(request, "community/thread.html", context, status=200)


@login_required
@require_POST
def accept(request, thread_id: int):
    thread = _thread_or_404(request, thread_id)
    try:
        services.answer_accept(
            user=request.user, thread_id=thread.pk, post_id=request.POST.get("post")
        )
    except CommunityError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已采纳这条回答。"))
    return redirect(_thread_url(thread.pk))


def _moderator_toggle(request, thread_id: int, action):
    thread = _thread_or_404(request, thread_id)
    if not selectors.can_moderate(request.user, thread.board):
        raise Http404(CommunityError("thread_missing").message)
    on = request.POST.get("on") == "1"
    try:
        action(thread, on)
    except CommunityError as error:
        messages.error(request, error.message)
    return redirect(_thread_url(thread.pk))


@login_required
@require_POST
def pin(request, thread_id: int):
    def do(thread, on):
        services.thread_pin(user=request.user, thread_id=thread.pk, pinned=on)
        messages.success(request, _("已置顶。") if on else _("已取消置顶。"))

    return _moderator_toggle(request, thread_id, do)


@login_required
@require_POST
def close(request, thread_id: int):
    def do(thread, on):
        services.thread_close(user=request.user, thread_id=thread.pk, closed=on)
        messages.success(request, _("已关闭回复。") if on else _("已重新开放回复。"))

    return _moderator_toggle(request, thread_id, do)


# --- reports and moderation ------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def report(request, post_id: int):
    post = _post_or_404(request, post_id)
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.report_create(
                user=request.user,
                post_id=post.pk,
                reason=form.cleaned_data["reason"],
                detail=form.cleaned_data["detail"],
            )
        except CommunityError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("已收到您的举报，管理员会尽快处理。谢谢您。"))
            return redirect(_thread_url(post.thread_id, anchor=f"post-{post.pk}"))
    return render(request, "community/report.html", {"post": post, "form": form})


def _queue_query(request) -> str:
    params = {k: request.GET[k] for k in ("board", "reason") if request.GET.get(k)}
    return urlencode(params)


@never_cache
@login_required
@require_safe
def moderation(request):
    boards = selectors.queue_boards(request.user)
    if not boards and not is_staff_member(request.user):
        # Families have no queue; staff whose boards do not exist yet see it empty.
        raise PermissionDenied
    filter_form = QueueFilterForm(request.GET or None, boards=boards)
    page = selectors.moderation_queue(
        user=request.user, page=request.GET.get("page"), **filter_form.filters()
    )
    rows = [(post, DecideForm(post=post)) for post in page.object_list]
    return render(
        request,
        "community/moderation.html",
        {
            "filter_form": filter_form,
            "page_obj": page,
            "rows": rows,
            "query_string": _queue_query(request),
            "here": request.get_full_path(),
        },
    )


@login_required
@require_POST
def decide(request, post_id: int):
    default = reverse("community:moderation")
    # A post the user does not moderate is 404 before anything else is read.
    post = selectors.post_readable(request.user, post_id)
    if post is None or not selectors.can_moderate(request.user, post.board):
        raise Http404(CommunityError("post_missing").message)
    post_pk = post.pk
    form = DecideForm(request.POST, prefix=f"p{post_pk}")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(_back(request, default))
    data = form.cleaned_data
    try:
        services.post_decide(
            user=request.user,
            post_id=post_pk,
            action=data["action"],
            reason=data["reason"],
            mute_days=data["mute_days"],
        )
    except CommunityError as error:
        if error.code.endswith("_missing"):
            raise Http404(error.message) from error
        messages.error(request, error.message)
    else:
        messages.success(request, _("已处理，发帖人会收到通知。"))
    return redirect(_back(request, default))


# --- search, profile, images -----------------------------------------------------------


@never_cache
@login_required
@require_safe
def search(request):
    form = SearchForm(request.GET or None)
    q = selectors.search_clean(request.GET.get("q"))
    page = selectors.search_posts(user=request.user, q=q, page=request.GET.get("page"))
    return render(
        request,
        "community/search.html",
        {
            "search_form": form,
            "q": q,
            "page_obj": page,
            "query_string": urlencode({"q": q}) if q else "",
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """The family's nickname and the daily-digest choice (the digest is anyone's)."""
    family = selectors.family_of(request.user)
    nickname = services.profile_for_family(family).nickname if family is not None else ""
    form = ProfileForm(
        request.POST or None,
        initial={
            "nickname": nickname,
            "daily_digest": selectors.digest_preference(request.user),
        },
    )
    if family is None:
        form.fields["nickname"].required = False
        form.fields["nickname"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if family is not None and data["nickname"] != nickname:
                services.nickname_set(user=request.user, nickname=data["nickname"])
            services.digest_preference_set(user=request.user, daily=data["daily_digest"])
        except CommunityError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("已保存。"))
            return redirect("community:profile")
    return render(request, "community/profile.html", {"form": form, "family": family})


@login_required
@require_safe
def post_image(request, image_id: int):
    """A post's picture, for whoever may see the post; anyone else gets 404."""
    image = selectors.post_image_readable(request.user, image_id)
    if image is None or not image.image:
        raise Http404
    return file_response(request, image.image, cache_control=IMAGE_CACHE_CONTROL)
