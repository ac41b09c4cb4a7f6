"""Writes of the boards (docs/COMMUNITY.md): boards, nicknames, threads and
replies, accepted answers, reports, moderators' decisions, the word list,
notices and the daily digest. Pages, admin, the API and tasks call these.

- **Who** may read, post and moderate is answered by the first section of
  community/selectors.py, never here again.
- **Counters** on a thread (reply_count, last_activity_at, first_staff_reply_at)
  change only when a post is published or leaves publication, under the
  thread's row lock; a post's reports under the thread's and then the post's
  lock (always that order, so two writers never deadlock). Lock waits are
  bounded (BOOKING_LOCK_TIMEOUT); a timeout is CommunityError("busy").
- **Rows made on first use** (a board, a family's nickname) are inserted with
  ``ON CONFLICT DO NOTHING`` or in a savepoint, so two first calls at once give
  one row and the second caller gets the first's.
- **Checks that may be slow** (the cloud content check, cleaning pictures) run
  before the transaction, never while a lock is held.
- **Notices** go through ``_notify``: the outbox (events.services.notice_send)
  with a unique key, or the person's daily digest (DigestEntry) if they chose it.
"""

from __future__ import annotations

import datetime
import logging
import re
import secrets
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Value
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.locking import bounded_atomic
from events.services import notice_send
from groups.models import Group
from groups.selectors import family_parent_school_ids
from members.access import can_change_unit, is_staff_member, sees_every_district, visible_unit_ids
from members.formatting import id_or_none
from members.models import Alliance, Family, Membership
from members.photos import PhotoRejected, photo_clean
from members.services import audit_log_record
from parent_school.models import ParentSchool

from . import selectors
from .errors import CommunityError
from .models import (
    MUTE_MAX,
    Board,
    BoardProfile,
    CommunityPreference,
    Decision,
    DigestEntry,
    Mute,
    Post,
    PostImage,
    Report,
    SensitiveWord,
    Thread,
    default_nickname,
)

logger = logging.getLogger(__name__)

TITLE_MIN, TITLE_MAX = 4, 80
NICKNAME_MIN, NICKNAME_MAX = 2, 12
# Words a family's nickname may not contain: others would take the poster for staff.
NICKNAME_RESERVED = ("老师", "讲师", "导师", "协调员", "管理员", "官方", "客服")
REASON_MAX = 200
DETAIL_MAX = 200
HOLD_FIRST_POSTS_MAX = 20
# boards_ensure_for makes at most this many missing boards per call: a district
# administrator "sees" every school, and a page view must stay a page view; the
# rest are made on later visits (or on first use, board_for_school).
BOARDS_ENSURE_CAP = 50
# digests_send takes people in batches of this size, each batch one transaction
# whose entry rows are locked (SKIP LOCKED), so a second run at the same time
# takes other people and nobody gets two digests.
DIGEST_BATCH = 200
NOTICE_TOPIC = "community"
# The day of a digest entry is the families' day, whatever the server's zone.
DIGEST_TZ = ZoneInfo("Asia/Shanghai")

# Control characters other than tab and newline (a body) or any (a title): they
# show as nothing or as boxes and can hide text from the word check's reader.
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PHONE_LIKE = re.compile(r"\d{5,}")


def _locked_atomic():
    return bounded_atomic(lambda: CommunityError("busy"))


def _path(name: str, *args, fallback: str) -> str:
    # The pages are reversed by name when they are there; the documented path
    # otherwise (a notice written by a task before the URLconf has the page).
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return fallback


def _thread_path(thread_id: int) -> str:
    return _path("community:thread", thread_id, fallback=f"/community/threads/{thread_id}/")


def _moderation_path() -> str:
    return _path("community:moderation", fallback="/community/moderation/")


def _text_check(text: str):
    # Imported here, not at the top: the word list's module is its own owner's,
    # and the services load even while it is being changed.
    from .filtering import text_check

    return text_check(text)


# --- boards --------------------------------------------------------------------------


def _board_get_or_create(lookup: dict, **defaults) -> Board:
    board = Board.objects.filter(**lookup).first()
    if board is not None:
        return board
    # ON CONFLICT DO NOTHING on whichever unique key holds (one board per school,
    # per alliance, the group's one-to-one): a second first call waits for the
    # first's transaction, inserts nothing, and reads the first's row.
    Board.objects.bulk_create([Board(**lookup, **defaults)], ignore_conflicts=True)
    return Board.objects.get(**lookup)


def _title(name: str, suffix: str) -> str:
    limit = Board._meta.get_field("title").max_length
    return f"{name[: limit - len(suffix)]}{suffix}"


def board_for_school(parent_school: ParentSchool) -> Board:
    """The parent school's board (made on first use)."""
    return _board_get_or_create(
        {"kind": Board.Kind.SCHOOL, "parent_school": parent_school},
        title=_title(parent_school.name, "交流区"),
        unit_id=parent_school.host_unit_id,
    )


def board_for_group(group: Group) -> Board:
    """The group's board (made on first use; archived if the group is dissolved)."""
    dissolved = group.status == Group.Status.DISSOLVED
    archived_at = (group.dissolved_at or timezone.now()) if dissolved else None
    board = _board_get_or_create(
        {"group": group},
        kind=Board.Kind.GROUP,
        title=_title(group.name, "交流区"),
        parent_school_id=group.parent_school_id,
        unit_id=ParentSchool.objects.values_list("host_unit_id", flat=True).get(
            pk=group.parent_school_id
        ),
        is_archived=dissolved,
        archived_at=archived_at,
    )
    if dissolved and not board.is_archived:
        # Dissolved before its board existed or before the receiver ran: archive now,
        # never show a dissolved group's board as open.
        Board.objects.filter(pk=board.pk, is_archived=False).update(
            is_archived=True, archived_at=archived_at
        )
        board.is_archived, board.archived_at = True, archived_at
    return board


def board_for_alliance(alliance: Alliance) -> Board | None:
    """The alliance's announcement board, spoken for by its base unit (None without one)."""
    if not alliance.base_unit_id:
        return None
    return _board_get_or_create(
        {"kind": Board.Kind.ALLIANCE, "alliance": alliance},
        title=_title(alliance.name, "公告"),
        unit_id=alliance.base_unit_id,
    )


def boards_ensure_for(user) -> None:
    """Make the school and alliance boards the user should find on /community/:
    those of the family's parent schools and of the parent schools at the units a
    staff member sees. One query when they all exist."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return
    scope = Q(pk__in=[])
    family = selectors.family_of(user)
    if family is not None:
        scope |= Q(pk__in=family_parent_school_ids(family.pk))
    if is_staff_member(user):
        scope |= Q(host_unit_id__in=visible_unit_ids(user))
    schools = ParentSchool.objects.filter(scope)
    school_boards = Board.objects.filter(kind=Board.Kind.SCHOOL, parent_school_id=OuterRef("pk"))
    alliance_boards = Board.objects.filter(kind=Board.Kind.ALLIANCE, alliance_id=OuterRef("pk"))
    member_alliances = Membership.objects.filter(
        unit_id__in=schools.values("host_unit_id"), left_on__isnull=True
    ).values("alliance_id")
    missing_schools = (
        schools.filter(~Exists(school_boards))
        .annotate(owner=Value("school"))
        .values_list("owner", "pk")
        .order_by()
    )
    missing_alliances = (
        Alliance.objects.filter(pk__in=member_alliances, base_unit__isnull=False)
        .filter(~Exists(alliance_boards))
        .annotate(owner=Value("alliance"))
        .values_list("owner", "pk")
        .order_by()
    )
    missing = list(missing_schools.union(missing_alliances)[:BOARDS_ENSURE_CAP])
    if not missing:
        return
    ids = defaultdict(list)
    for owner, pk in missing:
        ids[owner].append(pk)
    for parent_school in ParentSchool.objects.filter(pk__in=ids["school"]).order_by("pk"):
        board_for_school(parent_school)
    for alliance in Alliance.objects.filter(pk__in=ids["alliance"]).order_by("pk"):
        board_for_alliance(alliance)


def board_settings_update(*, user, board_id, hold_first_posts) -> Board:
    """A moderator sets how many first posts of a new family are held on the board."""
    board = selectors.board_readable(user, board_id)
    if board is None:
        raise CommunityError("board_missing")
    if not selectors.can_moderate(user, board):
        raise CommunityError("not_allowed")
    count = _int_in_range(
        hold_first_posts, 0, HOLD_FIRST_POSTS_MAX, code="hold_first_posts", field="hold_first_posts"
    )
    with _locked_atomic():
        locked = Board.objects.select_for_update(no_key=True).get(pk=board.pk)
        before = locked.hold_first_posts
        if before != count:
            locked.hold_first_posts = count
            locked.save(update_fields=["hold_first_posts"])
            audit_log_record(
                actor=user,
                action="community.board.settings",
                target=locked,
                data={"hold_first_posts": [before, count]},
            )
    board.hold_first_posts = count
    return board


def _int_in_range(value, low: int, high: int, *, code: str, field: str) -> int:
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise CommunityError(code, field=field, max=high)
    return number


# --- nicknames -----------------------------------------------------------------------


def profile_for_family(family: Family) -> BoardProfile:
    """The family's board profile, made on first use with a random nickname
    (家长 + four letters); two first calls at once give one profile."""
    profile = BoardProfile.objects.filter(family_id=family.pk).first()
    if profile is not None:
        return profile
    for _attempt in range(8):
        try:
            with transaction.atomic():
                return BoardProfile.objects.create(family_id=family.pk, nickname=default_nickname())
        except IntegrityError:
            # Either the family's profile was made meanwhile (take it), or the
            # random nickname was taken (draw again).
            profile = BoardProfile.objects.filter(family_id=family.pk).first()
            if profile is not None:
                return profile
    raise CommunityError("busy")


def _nickname_clean(nickname) -> str:
    text = " ".join(str(nickname or "").split())
    if _LINE_CONTROL.search(str(nickname or "")):
        raise CommunityError("control_chars", field="nickname", label=_("昵称"))
    if not NICKNAME_MIN <= len(text) <= NICKNAME_MAX:
        raise CommunityError(
            "nickname_length", field="nickname", min=NICKNAME_MIN, max=NICKNAME_MAX
        )
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Digits with spaces, dashes or dots between them are still a phone number.
    if _PHONE_LIKE.search(re.sub(r"[\s\-_.·]", "", folded)):
        raise CommunityError("nickname_digits", field="nickname")
    for word in NICKNAME_RESERVED:
        if word in folded:
            raise CommunityError("nickname_reserved", field="nickname", word=word)
    if _text_check(text).hit:
        raise CommunityError("nickname_sensitive", field="nickname")
    return text


def nickname_set(*, user, nickname) -> BoardProfile:
    """The family chooses the nickname other families see (2–12 characters)."""
    family = selectors.family_of(user)
    if family is None:
        raise CommunityError("no_family")
    text = _nickname_clean(nickname)
    profile = profile_for_family(family)
    with _locked_atomic():
        locked = BoardProfile.objects.select_for_update().get(pk=profile.pk)
        before = locked.nickname
        if before == text:
            return locked
        locked.nickname = text
        try:
            with transaction.atomic():
                locked.save(update_fields=["nickname", "updated_at"])
        except IntegrityError as error:
            raise CommunityError("nickname_taken", field="nickname") from error
        audit_log_record(
            actor=user,
            action="community.nickname.change",
            target=locked,
            data={"family": family.pk, "from": before, "to": text},
        )
    return locked


# --- posting -------------------------------------------------------------------------


@dataclass
class _Author:
    user: object
    family: Family | None
    role: str
    name: str
    moderator: bool


def _author_for(user, board: Board, *, now) -> _Author:
    """Who posts, and how they appear: staff in their role on this board, a
    family under its nickname (verified phone, not muted)."""
    moderator = selectors.can_moderate(user, board)
    if board.kind == Board.Kind.ALLIANCE and not moderator:
        raise CommunityError("announcements_only")
    role = selectors.staff_role_on(user, board)
    if role is not None:
        label = Post.Role(role).label
        name = (getattr(user, "display_name", "") or "").strip()
        if not name:
            name = f"{getattr(user, 'last_name', '')}{getattr(user, 'first_name', '')}".strip()
        # Never a phone or an e-mail: a staff member without a name shows the role only.
        shown = f"{name}（{label}）" if name else str(label)
        limit = Post._meta.get_field("author_name").max_length
        return _Author(user, None, role, shown[:limit], moderator)
    family = selectors.family_of(user)
    if family is None:
        raise CommunityError("no_family")
    if not selectors.has_verified_phone(user):
        raise CommunityError("phone_unverified")
    mute = selectors.active_mute(family=family, board=board, now=now)
    if mute is not None:
        raise CommunityError("muted", until=selectors.mute_label(mute.until))
    profile = profile_for_family(family)
    return _Author(user, family, Post.Role.FAMILY, profile.nickname, moderator)


def _author_school(board: Board) -> str:
    limit = Post._meta.get_field("author_school").max_length
    if board.kind == Board.Kind.ALLIANCE:
        return (board.alliance.name if board.alliance_id else "")[:limit]
    return (board.parent_school.name if board.parent_school_id else "")[:limit]


def _title_clean(title) -> str:
    raw = str(title or "")
    if _LINE_CONTROL.search(raw.replace("\n", " ").replace("\r", " ").replace("\t", " ")):
        raise CommunityError("control_chars", field="title", label=_("标题"))
    text = " ".join(raw.split())
    if not TITLE_MIN <= len(text) <= TITLE_MAX:
        raise CommunityError("title_length", field="title", min=TITLE_MIN, max=TITLE_MAX)
    return text


def _body_clean(body) -> str:
    # Plain text as given (pages escape it); newlines kept, the ends trimmed.
    text = str(body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if _BODY_CONTROL.search(text):
        raise CommunityError("control_chars", field="body", label=_("内容"))
    if not text:
        raise CommunityError("body_empty", field="body")
    limit = settings.COMMUNITY_POST_MAX_CHARS
    if len(text) > limit:
        raise CommunityError("body_too_long", field="body", max=limit)
    return text


def _images_clean(images) -> list:
    uploads = [image for image in (images or ()) if image]
    limit = settings.COMMUNITY_POST_MAX_IMAGES
    if len(uploads) > limit:
        raise CommunityError("too_many_images", field="images", max=limit)
    cleaned = []
    for upload in uploads:
        try:
            cleaned.append(
                photo_clean(
                    upload,
                    max_bytes=settings.COMMUNITY_IMAGE_MAX_BYTES,
                    max_side=settings.COMMUNITY_IMAGE_MAX_SIDE,
                )
            )
        except PhotoRejected as error:
            if error.code == "too_large":
                raise CommunityError("image_too_large", field="images", mb=error.mb) from error
            raise CommunityError("image_not_image", field="images") from error
    return cleaned


def _images_attach(post: Post, cleaned: list, stored: list[str]) -> None:
    for order, photo in enumerate(cleaned):
        image = PostImage(post=post, width=photo.width, height=photo.height, sort_order=order)
        # A random name, never the uploaded one (it can carry a child's name or a date).
        image.image.save(f"{secrets.token_hex(16)}.jpg", ContentFile(photo.content), save=False)
        stored.append(image.image.name)
        image.save()


def _files_delete(names: Iterable[str]) -> None:
    storage = PostImage._meta.get_field("image").storage
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("could not delete the board image %s", name, exc_info=True)


def _hold_reason(*, author: _Author, board: Board, text: str) -> tuple[str, str]:
    """(held_for, matched categories) for a new post: the word list, then a new
    family's first posts, then the cloud check. Moderators publish at once (the
    categories are still recorded for the log)."""
    result = _text_check(text)
    limit = Post._meta.get_field("matched_categories").max_length
    categories = ",".join(result.categories)[:limit] if result.hit else ""
    if author.moderator:
        return "", categories
    if result.hit:
        return Post.HeldFor.SENSITIVE, categories
    if author.family is not None and board.hold_first_posts:
        published = Post.objects.filter(
            board=board, author_family=author.family, status=Post.Status.PUBLISHED
        ).count()
        if published < board.hold_first_posts:
            return Post.HeldFor.NEW_MEMBER, ""
    from .content_check import get_checker

    # Off by default (NullChecker); an outage of the cloud passes (content_check).
    verdict = get_checker().check(text=text, user=author.user)
    if verdict.suggest in ("review", "risky"):
        return Post.HeldFor.CLOUD, categories
    return "", categories


def held_message(post: Post) -> str:
    """What a held post's author is told, politely, never which word or rule."""
    return _("您的帖子已提交，管理员审核通过后将对其他家长显示，审核结果会通知您。")


def _writable_board(user, board_id) -> Board:
    board = selectors.board_readable(user, board_id)
    if board is None:
        raise CommunityError("board_missing")
    if board.is_archived:
        raise CommunityError("board_archived")
    return board


def thread_create(*, user, board_id, kind, title, body, images=(), now=None) -> Thread:
    """Open a thread (its opening post); held for moderation when a rule says so
    (``thread.opening_post.status``; tell the author ``held_message``)."""
    now = now or timezone.now()
    board = _writable_board(user, board_id)
    author = _author_for(user, board, now=now)
    if kind not in Thread.Kind.values:
        raise CommunityError("kind_invalid", field="kind")
    if kind == Thread.Kind.ANNOUNCEMENT and not author.moderator:
        raise CommunityError("announcement_moderators", field="kind")
    title = _title_clean(title)
    body = _body_clean(body)
    cleaned = _images_clean(images)
    held_for, categories = _hold_reason(author=author, board=board, text=f"{title}\n{body}")
    status = Post.Status.HELD if held_for else Post.Status.PUBLISHED
    published_at = now if status == Post.Status.PUBLISHED else None
    stored: list[str] = []
    try:
        with _locked_atomic():
            thread = Thread.objects.create(
                board=board,
                kind=kind,
                title=title,
                status=status,
                author_family=author.family,
                author_user=user,
                last_activity_at=now,
                published_at=published_at,
            )
            post = Post.objects.create(
                thread=thread,
                board=board,
                is_opening=True,
                body=body,
                author_family=author.family,
                author_user=user,
                author_role=author.role,
                author_name=author.name,
                author_school=_author_school(board),
                status=status,
                held_for=held_for,
                matched_categories=categories,
                published_at=published_at,
            )
            _images_attach(post, cleaned, stored)
    except BaseException:
        _files_delete(stored)
        raise
    thread.board = board
    thread.opening_post = post
    return thread


def reply_create(*, user, thread_id, body, images=(), now=None) -> Post:
    """Reply to a published thread; the thread's author is told once it is published."""
    now = now or timezone.now()
    thread = selectors.thread_readable(user, thread_id)
    if thread is None:
        raise CommunityError("thread_missing")
    board = thread.board
    if board.is_archived:
        raise CommunityError("board_archived")
    author = _author_for(user, board, now=now)
    if thread.status != Post.Status.PUBLISHED:
        raise CommunityError("thread_held")
    if thread.is_closed and not author.moderator:
        raise CommunityError("thread_closed")
    body = _body_clean(body)
    cleaned = _images_clean(images)
    held_for, categories = _hold_reason(author=author, board=board, text=body)
    status = Post.Status.HELD if held_for else Post.Status.PUBLISHED
    stored: list[str] = []
    try:
        with _locked_atomic():
            locked = _thread_lock(thread.pk)
            # Closed or held meanwhile (a moderator, reports): the lock's view counts.
            if locked.status != Post.Status.PUBLISHED:
                raise CommunityError("thread_held")
            if locked.is_closed and not author.moderator:
                raise CommunityError("thread_closed")
            post = Post.objects.create(
                thread=locked,
                board=board,
                is_opening=False,
                body=body,
                author_family=author.family,
                author_user=user,
                author_role=author.role,
                author_name=author.name,
                author_school=_author_school(board),
                status=status,
                held_for=held_for,
                matched_categories=categories,
                published_at=now if status == Post.Status.PUBLISHED else None,
            )
            _images_attach(post, cleaned, stored)
            if status == Post.Status.PUBLISHED:
                _reply_published(locked, post, now=now)
    except BaseException:
        _files_delete(stored)
        raise
    return post


def _thread_lock(thread_id: int) -> Thread:
    # NO KEY UPDATE: new posts (which only point at the thread) are not blocked
    # by it, but two writers of the thread's counters take turns.
    return (
        Thread.objects.select_for_update(no_key=True, of=("self",))
        .select_related("board", "board__group")
        .get(pk=thread_id)
    )


def _reply_published(thread: Thread, post: Post, *, now) -> None:
    """A reply was just published (posted or approved): the thread's counters,
    then its author is told (not the replier, nor the replier's own family)."""
    thread.reply_count += 1
    thread.last_activity_at = max(thread.last_activity_at, now)
    fields = ["reply_count", "last_activity_at"]
    if post.author_role in Post.STAFF_ROLES and thread.first_staff_reply_at is None:
        thread.first_staff_reply_at = post.published_at or now
        fields.append("first_staff_reply_at")
    thread.save(update_fields=fields)
    _reply_notify(thread, post, now=now)


def _reply_notify(thread: Thread, post: Post, *, now) -> None:
    if thread.author_user_id is None or thread.author_user_id == post.author_user_id:
        return
    if thread.author_family_id is not None and thread.author_family_id == post.author_family_id:
        return
    _notify(
        key=f"community.reply:{post.pk}",
        user_ids=[thread.author_user_id],
        subject=_("您的帖子有新回复：%(title)s") % {"title": thread.title},
        lead=_("%(name)s 回复了您在“%(board)s”发的帖子“%(title)s”。")
        % {"name": post.author_name, "board": thread.board.title, "title": thread.title},
        path=_thread_path(thread.pk),
        unit_id=thread.board.unit_id,
        now=now,
    )


def _thread_counters_refresh(thread: Thread) -> None:
    """Recount a thread's counters from its published replies, after a post left
    or came back to publication (hidden, held by reports, approved again)."""
    replies = Post.objects.filter(thread=thread, is_opening=False, status=Post.Status.PUBLISHED)
    figures = replies.aggregate(
        count=Count("pk"),
        latest=Max("published_at"),
        first_staff=Min("published_at", filter=Q(author_role__in=Post.STAFF_ROLES)),
    )
    thread.reply_count = figures["count"]
    thread.first_staff_reply_at = figures["first_staff"]
    candidates = [t for t in (figures["latest"], thread.published_at) if t is not None]
    if candidates:
        thread.last_activity_at = max(candidates)
    if thread.accepted_post_id and not replies.filter(pk=thread.accepted_post_id).exists():
        # An accepted answer that is no longer shown is no longer the answer.
        thread.accepted_post = None
        thread.accepted_by = None
        thread.accepted_at = None
    thread.save(
        update_fields=[
            "reply_count",
            "first_staff_reply_at",
            "last_activity_at",
            "accepted_post",
            "accepted_by",
            "accepted_at",
        ]
    )


# --- accepted answers, pins, closing ---------------------------------------------------


def answer_accept(*, user, thread_id, post_id, now=None) -> Thread:
    """Mark a published reply as the question's accepted answer. The asker is told
    once per thread, the reply's author once per reply (neither if they accepted
    it themselves); accepting the same reply again changes nothing."""
    now = now or timezone.now()
    thread = selectors.thread_readable(user, thread_id)
    if thread is None or thread.status != Post.Status.PUBLISHED:
        raise CommunityError("thread_missing")
    if not selectors.can_accept(user, thread):
        raise CommunityError("not_allowed")
    post_pk = id_or_none(post_id)
    with _locked_atomic():
        locked = _thread_lock(thread.pk)
        post = Post.objects.filter(
            pk=post_pk, thread=locked, is_opening=False, status=Post.Status.PUBLISHED
        ).first()
        if post is None:
            raise CommunityError("post_not_answer", field="post")
        if locked.accepted_post_id == post.pk:
            return locked
        locked.accepted_post = post
        locked.accepted_by = user
        locked.accepted_at = now
        locked.save(update_fields=["accepted_post", "accepted_by", "accepted_at"])
        path = _thread_path(locked.pk)
        if locked.author_user_id and locked.author_user_id != user.pk:
            _notify(
                key=f"community.accepted:{locked.pk}",
                user_ids=[locked.author_user_id],
                subject=_("您的提问有了采纳的回答：%(title)s") % {"title": locked.title},
                lead=_("您在“%(board)s”的提问“%(title)s”，%(name)s 的回答已被采纳。")
                % {"board": locked.board.title, "title": locked.title, "name": post.author_name},
                path=path,
                unit_id=locked.board.unit_id,
                now=now,
            )
        if post.author_user_id and post.author_user_id != user.pk:
            _notify(
                key=f"community.answer_accepted:{post.pk}",
                user_ids=[post.author_user_id],
                subject=_("您的回答被采纳了：%(title)s") % {"title": locked.title},
                lead=_("您在“%(board)s”对“%(title)s”的回答被采纳为答案，谢谢您的帮助。")
                % {"board": locked.board.title, "title": locked.title},
                path=path,
                unit_id=locked.board.unit_id,
                now=now,
            )
    return locked


def _moderated_thread(user, thread_id) -> Thread:
    thread = selectors.thread_readable(user, thread_id)
    if thread is None:
        raise CommunityError("thread_missing")
    if not selectors.can_moderate(user, thread.board):
        raise CommunityError("not_allowed")
    return thread


def thread_pin(*, user, thread_id, pinned: bool) -> Thread:
    """A moderator pins a thread to the top of its board (or unpins it)."""
    thread = _moderated_thread(user, thread_id)
    with _locked_atomic():
        locked = _thread_lock(thread.pk)
        if locked.is_pinned != bool(pinned):
            locked.is_pinned = bool(pinned)
            locked.save(update_fields=["is_pinned"])
            audit_log_record(
                actor=user,
                action="community.thread.pin" if pinned else "community.thread.unpin",
                target=locked,
                data={"board": locked.board_id},
            )
    return locked


def thread_close(*, user, thread_id, closed: bool) -> Thread:
    """A moderator closes a thread to new replies (or opens it again)."""
    thread = _moderated_thread(user, thread_id)
    with _locked_atomic():
        locked = _thread_lock(thread.pk)
        if locked.is_closed != bool(closed):
            locked.is_closed = bool(closed)
            locked.save(update_fields=["is_closed"])
            audit_log_record(
                actor=user,
                action="community.thread.close" if closed else "community.thread.reopen",
                target=locked,
                data={"board": locked.board_id},
            )
    return locked


# --- reports --------------------------------------------------------------------------


def report_create(*, user, post_id, reason, detail="", now=None) -> Report:
    """A reader reports (举报) a published post, once per family: a second report
    by the same family (its other guardian, a double tap) returns the first. At
    COMMUNITY_REPORTS_HOLD open reports the post is held for the moderators; on a
    group board the group's facilitator is told of each report."""
    now = now or timezone.now()
    post = Post.objects.filter(pk=id_or_none(post_id)).only("pk", "thread_id", "status").first()
    if post is None or post.status != Post.Status.PUBLISHED:
        raise CommunityError("post_missing")
    thread = selectors.thread_readable(user, post.thread_id)
    if thread is None:
        raise CommunityError("post_missing")
    if reason not in Report.Reason.values:
        raise CommunityError("report_reason", field="reason")
    detail = _line_clean(detail, field="detail", label=_("补充说明"), limit=DETAIL_MAX)
    family = selectors.family_of(user)
    with _locked_atomic():
        locked_thread = _thread_lock(thread.pk)
        locked = Post.objects.select_for_update(no_key=True, of=("self",)).get(pk=post.pk)
        if locked.author_user_id == user.pk or (
            family is not None and locked.author_family_id == family.pk
        ):
            raise CommunityError("report_own")
        mine = Report.objects.filter(post=locked)
        mine = (
            mine.filter(reporter_family=family)
            if family is not None
            else mine.filter(reporter_family__isnull=True, reporter_user=user)
        )
        existing = mine.first()
        if existing is not None:
            return existing
        if locked.status != Post.Status.PUBLISHED:
            raise CommunityError("post_missing")
        report = Report.objects.create(
            post=locked, reporter_family=family, reporter_user=user, reason=reason, detail=detail
        )
        locked.report_count += 1
        fields = ["report_count"]
        open_reports = Report.objects.filter(post=locked, resolved_at__isnull=True).count()
        if open_reports >= settings.COMMUNITY_REPORTS_HOLD:
            locked.status = Post.Status.HELD
            locked.held_for = Post.HeldFor.REPORTS
            fields += ["status", "held_for"]
        locked.save(update_fields=fields)
        if locked.status == Post.Status.HELD:
            _thread_after_post_change(locked_thread, locked)
        board = locked_thread.board
        if (
            board.kind == Board.Kind.GROUP
            and board.group_id
            and board.group.facilitator_id != user.pk
        ):
            _notify(
                key=f"community.report:{report.pk}",
                user_ids=[board.group.facilitator_id],
                subject=_("您带领的小组交流区有新的举报"),
                lead=_("“%(board)s”里的一条内容被举报（%(reason)s），请到审核队列查看处理。")
                % {"board": board.title, "reason": report.get_reason_display()},
                path=_moderation_path(),
                unit_id=board.unit_id,
                now=now,
            )
    return report


def _line_clean(value, *, field: str, label: str, limit: int) -> str:
    raw = str(value or "")
    if _LINE_CONTROL.search(raw.replace("\n", " ").replace("\r", " ").replace("\t", " ")):
        raise CommunityError("control_chars", field=field, label=label)
    text = " ".join(raw.split())
    if len(text) > limit:
        code = {"detail": "detail_too_long", "note": "note_too_long"}.get(field, "reason_too_long")
        raise CommunityError(code, field=field, max=limit)
    return text


def _thread_after_post_change(thread: Thread, post: Post) -> None:
    """A post changed status under the thread's lock: the thread follows its
    opening post, and its counters are recounted."""
    if post.is_opening and thread.status != post.status:
        thread.status = post.status
        fields = ["status"]
        if post.status == Post.Status.PUBLISHED and thread.published_at is None:
            thread.published_at = post.published_at
            thread.last_activity_at = max(thread.last_activity_at, post.published_at)
            fields += ["published_at", "last_activity_at"]
        thread.save(update_fields=fields)
    if not post.is_opening:
        _thread_counters_refresh(thread)


# --- moderators' decisions -------------------------------------------------------------


def post_decide(*, user, post_id, action, reason="", mute_days=None, now=None) -> Decision:
    """A moderator decides on a post: approve (publish a held or hidden post), hide,
    warn, mute the family for 1–90 days, or dismiss its reports (a post held by
    reports is shown again). Every decision resolves the post's open reports, is
    audit-logged and is told to the author (with the reason, never the words)."""
    now = now or timezone.now()
    post = (
        Post.objects.filter(pk=id_or_none(post_id)).select_related("board", "board__group").first()
    )
    if post is None or not selectors.can_moderate(user, post.board):
        raise CommunityError("post_missing")
    if action not in Decision.Action.values:
        raise CommunityError("action_invalid", field="action")
    reason = _line_clean(reason, field="reason", label=_("理由"), limit=REASON_MAX)
    if action in (Decision.Action.HIDE, Decision.Action.WARN, Decision.Action.MUTE) and not reason:
        raise CommunityError("reason_required", field="reason")
    mute_until = None
    mute_scope: dict = {}
    if action == Decision.Action.MUTE:
        days = _int_in_range(mute_days, 1, MUTE_MAX.days, code="mute_days", field="mute_days")
        if post.author_family_id is None:
            raise CommunityError("mute_family_only", field="action")
        mute_until = now + datetime.timedelta(days=days)
        mute_scope = _mute_scope(user, post.board)
    with _locked_atomic():
        thread = _thread_lock(post.thread_id)
        locked = (
            Post.objects.select_for_update(no_key=True, of=("self",))
            .select_related("board")
            .get(pk=post.pk)
        )
        before = locked.status
        if action == Decision.Action.APPROVE and before != Post.Status.PUBLISHED:
            _post_publish(locked, now=now)
        elif action == Decision.Action.HIDE:
            locked.status = Post.Status.HIDDEN
        elif (
            action == Decision.Action.DISMISS
            and before == Post.Status.HELD
            and locked.held_for == Post.HeldFor.REPORTS
        ):
            _post_publish(locked, now=now)
        locked.decided_at = now
        locked.save(update_fields=["status", "published_at", "decided_at"])
        decision = Decision.objects.create(
            board=locked.board,
            post=locked,
            family_id=locked.author_family_id,
            action=action,
            reason=reason,
            mute_until=mute_until,
            decided_by=user,
        )
        if action == Decision.Action.MUTE:
            Mute.objects.create(
                family_id=locked.author_family_id, until=mute_until, decision=decision, **mute_scope
            )
        reports_resolved = Report.objects.filter(post=locked, resolved_at__isnull=True).update(
            resolved_at=now
        )
        if locked.status != before:
            _thread_after_post_change(thread, locked)
        audit_log_record(
            actor=user,
            action=f"community.post.{action}",
            target=locked,
            data={
                "board": locked.board_id,
                "thread": thread.pk,
                "family": locked.author_family_id,
                "status": [before, locked.status],
                "reason": reason,
                "mute_until": mute_until.isoformat() if mute_until else None,
                "held_for": locked.held_for,
            },
        )
        _decision_notify(
            decision, locked, thread, before=before, reports_resolved=reports_resolved, now=now
        )
        if (
            not locked.is_opening
            and before != Post.Status.PUBLISHED
            and locked.status == Post.Status.PUBLISHED
        ):
            # The thread's author hears of an approved reply as if it was just posted.
            _reply_notify(thread, locked, now=now)
    return decision


def _post_publish(post: Post, *, now) -> None:
    post.status = Post.Status.PUBLISHED
    # A post held from the start is published now; one held by reports (or hidden
    # after being shown) keeps its first publication time.
    post.published_at = post.published_at or now


def _mute_scope(user, board: Board) -> dict:
    """Where a mute applies: the group only when the moderator is only its
    facilitator; otherwise the board's school (its board and its groups')."""
    if board.kind == Board.Kind.GROUP and board.group_id:
        if not can_change_unit(user, board.unit_id):
            return {"group_id": board.group_id}
    if board.parent_school_id is None:
        raise CommunityError("mute_family_only", field="action")
    return {"parent_school_id": board.parent_school_id}


def _decision_notify(
    decision: Decision, post: Post, thread: Thread, *, before, reports_resolved: int, now
) -> None:
    """The author is told every decision (the issue: "every decision audit-logged
    and the author told"), in words that fit it: a post shown (again), a post
    that stayed shown after its reports were checked, hidden, a warning, a mute.
    Only a repeat that decides nothing (approving a shown post with no open
    report: a double click) tells nobody."""
    Action = Decision.Action
    if post.author_user_id is None:
        return
    shown_again = before != Post.Status.PUBLISHED and post.status == Post.Status.PUBLISHED
    names = {"board": thread.board.title, "title": thread.title, "reason": decision.reason}
    if decision.action in (Action.APPROVE, Action.DISMISS) and not shown_again:
        if not reports_resolved:
            return
        subject = _("您的帖子经核实没有问题")
        lead = _(
            "有家长对您在“%(board)s”发的内容（“%(title)s”）提出了意见，管理员核实后认为没有问题，"
            "内容继续显示。感谢您的分享。"
        )
    elif decision.action == Action.APPROVE:
        subject = _("您的帖子已通过审核")
        lead = _("您在“%(board)s”发的内容（“%(title)s”）已通过审核，其他家长现在可以看到了。")
    elif decision.action == Action.DISMISS:
        subject = _("您的帖子已恢复显示")
        lead = _("您在“%(board)s”发的内容（“%(title)s”）经管理员核实后已恢复显示。")
    elif decision.action == Action.HIDE:
        subject = _("您的一条帖子已被隐藏")
        lead = _("您在“%(board)s”发的内容（“%(title)s”）已被管理员隐藏。理由：%(reason)s")
    elif decision.action == Action.WARN:
        subject = _("交流区管理员的提醒")
        lead = _("关于您在“%(board)s”发的内容（“%(title)s”），管理员提醒您：%(reason)s")
    else:
        names["until"] = selectors.mute_label(decision.mute_until)
        subject = _("您在交流区暂时不能发言")
        lead = _(
            "因您在“%(board)s”发的内容（“%(title)s”），您至 %(until)s 前不能在这里发言。"
            "理由：%(reason)s"
        )
    _notify(
        key=f"community.decision:{decision.pk}",
        user_ids=[post.author_user_id],
        subject=subject,
        lead=lead % names,
        path=_thread_path(thread.pk),
        unit_id=thread.board.unit_id,
        now=now,
    )


# --- notices and the daily digest -------------------------------------------------------


def _shanghai_day(now) -> datetime.date:
    return timezone.localtime(now, DIGEST_TZ).date()


def _notify(*, key, user_ids, subject, lead, path, unit_id, now=None) -> None:
    """Tell people something once: through the outbox, or into the daily digest
    of those who chose it (CommunityPreference.daily_digest). Written in the
    caller's transaction."""
    now = now or timezone.now()
    people = sorted({int(pk) for pk in user_ids if pk})
    if not people:
        return
    digest_people = set(
        CommunityPreference.objects.filter(user_id__in=people, daily_digest=True).values_list(
            "user_id", flat=True
        )
    )
    if digest_people:
        limit = DigestEntry._meta.get_field("subject").max_length
        day = _shanghai_day(now)
        DigestEntry.objects.bulk_create(
            [
                DigestEntry(
                    key=f"{key}:{pk}", user_id=pk, day=day, subject=str(subject)[:limit], path=path
                )
                for pk in sorted(digest_people)
            ],
            ignore_conflicts=True,
        )
    others = [pk for pk in people if pk not in digest_people]
    if others:
        notice_send(
            key=key,
            topic=NOTICE_TOPIC,
            subject=str(subject),
            lead=str(lead),
            user_ids=others,
            path=path,
            unit=unit_id,
            now=now,
        )


def digest_preference_set(*, user, daily: bool) -> CommunityPreference:
    """Board notices one by one (False) or as one digest each evening (True)."""
    if not getattr(user, "is_authenticated", False):
        raise CommunityError("not_allowed")
    preference, _created = CommunityPreference.objects.update_or_create(
        user_id=user.pk, defaults={"daily_digest": bool(daily)}
    )
    return preference


def digests_send(*, now=None) -> int:
    """Send each person with waiting entries (today's or older) one digest notice
    for today; the entries are marked sent with it. Idempotent: a second run the
    same day sends nothing again, and entries that came after today's digest wait
    for tomorrow's. Returns the digests written."""
    now = now or timezone.now()
    today = _shanghai_day(now)
    waiting = DigestEntry.objects.filter(sent_at__isnull=True, day__lte=today)
    sent = 0
    last_user = 0
    while True:
        # The next people by id (keyset, so each pass is one index range), then
        # all their waiting entries under a row lock that a second run skips.
        people = list(
            waiting.filter(user_id__gt=last_user)
            .order_by("user_id")
            .values_list("user_id", flat=True)
            .distinct()[:DIGEST_BATCH]
        )
        if not people:
            return sent
        last_user = people[-1]
        with transaction.atomic():
            by_user: dict[int, list[DigestEntry]] = defaultdict(list)
            locked = (
                waiting.select_for_update(skip_locked=True)
                .filter(user_id__in=people)
                .order_by("user_id", "created_at", "pk")
            )
            for entry in locked:
                by_user[entry.user_id].append(entry)
            for user_id in sorted(by_user):
                if _digest_write(user_id, by_user[user_id], day=today, now=now):
                    sent += 1


def _digest_write(user_id: int, entries: list[DigestEntry], *, day, now) -> bool:
    from events.models import Notice

    from .receivers import community_notice_check

    key = f"community.digest:{user_id}:{day.isoformat()}"
    if Notice.objects.filter(key=key).exists():
        # Today's digest is out already: these entries go into tomorrow's.
        return False
    current = [e for e in entries if not community_notice_check(_KeyOnly(e.key))]
    ids = [e.pk for e in entries]
    DigestEntry.objects.filter(pk__in=ids).update(sent_at=now)
    if not current:
        return False
    lines = "\n".join(f"· {e.subject}" for e in current)
    notice_send(
        key=key,
        topic=NOTICE_TOPIC,
        subject=_("交流区今日动态（%(n)s 条）") % {"n": len(current)},
        lead=lines,
        user_ids=[user_id],
        path=_path("community:home", fallback="/community/"),
        now=now,
    )
    return True


@dataclass
class _KeyOnly:
    # The notice check reads only the key; a digest entry's key is the notice's
    # key with ":<user id>" after it.
    key: str


# --- the sensitive-word list ------------------------------------------------------------


def _words_admin(user) -> None:
    # City-wide reference data: the city's to edit (one list filters every district's
    # boards; a district administrator is refused like any coordinator).
    if not sees_every_district(user):
        raise CommunityError("not_allowed")


def _category_clean(category) -> str:
    value = str(category or "").strip()
    if value in SensitiveWord.Category.values:
        return value
    for code, label in SensitiveWord.Category.choices:
        if value == str(label):
            return code
    raise CommunityError("category_invalid", field="category")


def _word_clean(word) -> str:
    from .filtering import normalise

    normalised = normalise(str(word or ""))
    if not normalised:
        raise CommunityError("word_empty", field="word")
    limit = SensitiveWord._meta.get_field("word").max_length
    if len(normalised) > limit:
        raise CommunityError("word_too_long", field="word", max=limit)
    return normalised


def sensitive_word_save(
    *, user, word, category, match_pinyin=True, is_active=True, note="", word_id=None
) -> SensitiveWord:
    """A city administrator adds or changes a word (stored normalised)."""
    from .filtering import wordlist_bump

    _words_admin(user)
    normalised = _word_clean(word)
    category = _category_clean(category)
    note = _line_clean(note, field="note", label=_("备注"), limit=200)
    with _locked_atomic():
        if word_id is not None:
            row = SensitiveWord.objects.select_for_update().filter(pk=id_or_none(word_id)).first()
            if row is None:
                raise CommunityError("word_missing")
            verb = "change"
        else:
            row, verb = SensitiveWord(), "add"
        before = {"word": row.word, "category": row.category, "is_active": row.is_active}
        row.word, row.category = normalised, category
        row.match_pinyin, row.is_active, row.note = bool(match_pinyin), bool(is_active), note
        row.updated_by = user
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError as error:
            raise CommunityError("word_duplicate", field="word", word=normalised) from error
        wordlist_bump()
        audit_log_record(
            actor=user,
            action=f"community.word.{verb}",
            target=row,
            data={"before": before if verb == "change" else None, "category": category},
        )
    return row


def sensitive_word_delete(*, user, word_id) -> None:
    from .filtering import wordlist_bump

    _words_admin(user)
    with _locked_atomic():
        row = SensitiveWord.objects.select_for_update().filter(pk=id_or_none(word_id)).first()
        if row is None:
            raise CommunityError("word_missing")
        audit_log_record(
            actor=user,
            action="community.word.delete",
            target=row,
            data={"word": row.word, "category": row.category},
        )
        row.delete()
        wordlist_bump()


def sensitive_words_import(*, user, rows) -> int:
    """Import (row_number, word, category) rows, all or nothing: a word already in
    the list has its category updated; any bad row → CommunityError listing every
    bad row by 第 N 行 and column (敏感词 / 类别), nothing written. Returns the rows taken."""
    from .filtering import wordlist_bump

    _words_admin(user)
    errors: list[tuple[int, str, str]] = []
    cleaned: dict[str, tuple[int, str]] = {}
    for row_number, word, category in rows:
        try:
            normalised = _word_clean(word)
        except CommunityError as error:
            errors.append((row_number, str(_("敏感词")), str(error.message)))
            normalised = None
        try:
            code = _category_clean(category)
        except CommunityError as error:
            errors.append((row_number, str(_("类别")), str(error.message)))
            code = None
        if normalised and code:
            if normalised in cleaned:
                why = _("与第 %(n)s 行重复。") % {"n": cleaned[normalised][0]}
                errors.append((row_number, str(_("敏感词")), str(why)))
            else:
                cleaned[normalised] = (row_number, code)
    if errors:
        lines = [
            str(CommunityError("import_row", row=r, column=c, why=w).message) for r, c, w in errors
        ]
        error = CommunityError("import_invalid", field="file", errors="；".join(lines))
        error.row_errors = errors
        raise error
    if not cleaned:
        return 0
    with _locked_atomic():
        existing = {
            w.word: w for w in SensitiveWord.objects.select_for_update().filter(word__in=cleaned)
        }
        new = []
        for normalised, (_row, code) in cleaned.items():
            row = existing.get(normalised)
            if row is None:
                new.append(SensitiveWord(word=normalised, category=code, updated_by=user))
            elif row.category != code:
                row.category, row.updated_by = code, user
                row.save(update_fields=["category", "updated_by", "updated_at"])
        try:
            with transaction.atomic():
                SensitiveWord.objects.bulk_create(new)
        except IntegrityError as error:
            # Added by someone else since the read: the same answer as a duplicate row.
            raise CommunityError("busy") from error
        wordlist_bump()
        audit_log_record(
            actor=user,
            action="community.word.import",
            data={"rows": len(cleaned), "added": len(new)},
        )
    return len(cleaned)
