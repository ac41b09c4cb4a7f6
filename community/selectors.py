"""Reads of the boards. The first section answers who may read, post on and
moderate which board: every page, the API, the queue and the search ask it.

Readers (docs/COMMUNITY.md):
- a **school board**: the families of the parent school (a child at its host
  unit, a confirmed booking of one of its courses, or an active group of it),
  the staff who see its host unit;
- a **group board**: the group's active members, its facilitator and the
  coordinators of the school; once the group is **dissolved** (board archived)
  only the families that were members then and the facilitator, nobody else;
  a family that left reads nothing of it, before or after;
- an **alliance board**: the families of the parent schools whose host unit is a
  current member of the alliance, and the staff who see the alliance.
Visibility never widens when a group changes: nothing here falls back to a
wider audience when a group, a membership or a board is missing.
"""

from __future__ import annotations

import datetime
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from courses.search import InSubqueryArray, TextHasBigrams, bigrams
from groups.selectors import family_parent_school_ids, former_group_ids, member_group_ids
from members.access import (
    alliances_visible_to,
    can_change_unit,
    coordinated_alliance_ids,
    is_staff_member,
    sees_every_district,
    units_changeable_by,
    visible_unit_ids,
)
from members.formatting import id_or_none
from members.models import Family, Guardian, Membership, RoleAssignment
from parent_school.models import ParentSchool

from .models import Board, CommunityPreference, Mute, Post, PostImage, Report, Thread


def family_of(user) -> Family | None:
    """The signed-in guardian's family (None for staff without one, or anonymous)."""
    if not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_community_family", False)
    if cached is False:
        guardian = Guardian.objects.filter(user_id=user.pk).select_related("family").first()
        cached = guardian.family if guardian is not None else None
        user._community_family = cached
    return cached


def has_verified_phone(user) -> bool:
    """Real-name rule (后台实名): only a guardian with a verified phone may post."""
    return bool(getattr(user, "phone", "") and getattr(user, "phone_verified", False))


# --- whose boards ---------------------------------------------------------------------


def _family_board_condition(family_id: int) -> Q:
    schools = family_parent_school_ids(family_id)
    school_units = ParentSchool.objects.filter(pk__in=schools).values("host_unit_id")
    alliances = Membership.objects.filter(unit_id__in=school_units, left_on__isnull=True).values(
        "alliance_id"
    )
    return (
        Q(kind=Board.Kind.SCHOOL, parent_school_id__in=schools)
        | Q(kind=Board.Kind.ALLIANCE, alliance_id__in=alliances)
        | Q(kind=Board.Kind.GROUP, is_archived=False, group_id__in=member_group_ids(family_id))
        | Q(kind=Board.Kind.GROUP, is_archived=True, group_id__in=former_group_ids(family_id))
    )


def _staff_board_condition(user) -> Q:
    condition = Q(kind=Board.Kind.GROUP, group__facilitator_id=user.pk)
    if not is_staff_member(user):
        return condition
    if sees_every_district(user):
        # Every board but the archived group boards of others (former members only).
        return condition | ~Q(kind=Board.Kind.GROUP) | Q(kind=Board.Kind.GROUP, is_archived=False)
    units = visible_unit_ids(user)
    return (
        condition
        | Q(kind=Board.Kind.SCHOOL, unit_id__in=units)
        | Q(kind=Board.Kind.ALLIANCE, alliance_id__in=alliances_visible_to(user).values("pk"))
        # Active group boards: the coordinators who moderate the school's boards.
        | Q(
            kind=Board.Kind.GROUP,
            is_archived=False,
            unit_id__in=units_changeable_by(user).values("pk"),
        )
    )


def boards_readable_by(user) -> QuerySet[Board]:
    """Every board the user may read (none for anyone signed out)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Board.objects.none()
    condition = _staff_board_condition(user)
    family = family_of(user)
    if family is not None:
        condition |= _family_board_condition(family.pk)
    return Board.objects.filter(condition)


def board_readable(user, board_id) -> Board | None:
    board_pk = id_or_none(board_id)
    if board_pk is None:
        return None
    return (
        boards_readable_by(user)
        .select_related("parent_school", "group", "alliance", "unit")
        .filter(pk=board_pk)
        .first()
    )


def thread_readable(user, thread_id) -> Thread | None:
    """A thread the user may open: on a readable board, and published, or held or
    hidden but the user's own family's or the user moderates the board."""
    thread_pk = id_or_none(thread_id)
    if thread_pk is None:
        return None
    thread = (
        Thread.objects.filter(pk=thread_pk, board__in=boards_readable_by(user))
        .select_related("board", "board__group", "board__parent_school", "board__unit")
        .first()
    )
    if thread is None:
        return None
    if thread.status == Post.Status.PUBLISHED:
        return thread
    family = family_of(user)
    if thread.status == Post.Status.HELD and family is not None:
        if thread.author_family_id == family.pk:
            return thread
    return thread if can_moderate(user, thread.board) else None


# --- who may do what -------------------------------------------------------------------


def can_moderate(user, board: Board) -> bool:
    """Moderators: the coordinators of the board's unit (a school's boards and its
    groups'), the alliance's coordinators on its board, and a group's facilitator
    on that group's board only."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if board.kind == Board.Kind.GROUP and board.group_id:
        if board.group.facilitator_id == user.pk:
            return True
        if board.is_archived:
            return False
    if board.kind == Board.Kind.ALLIANCE:
        return sees_every_district(user) or board.alliance_id in coordinated_alliance_ids(user)
    return can_change_unit(user, board.unit_id)


def boards_moderated_by(user) -> QuerySet[Board]:
    """The boards whose queue the user works (the same rule as can_moderate)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Board.objects.none()
    condition = Q(kind=Board.Kind.GROUP, group__facilitator_id=user.pk)
    if sees_every_district(user):
        return Board.objects.filter(condition | Q(is_archived=False))
    alliances = coordinated_alliance_ids(user)
    units = units_changeable_by(user).values("pk")
    condition |= Q(kind=Board.Kind.ALLIANCE, alliance_id__in=alliances)
    condition |= Q(kind=Board.Kind.SCHOOL, unit_id__in=units)
    condition |= Q(kind=Board.Kind.GROUP, is_archived=False, unit_id__in=units)
    return Board.objects.filter(condition)


def boards_showing_posters_to(user) -> QuerySet[Board]:
    """The real-name rule (后台实名): the boards whose posters' real names the user
    may see: a school's coordinators on its boards and its groups', the alliance's
    coordinators on its board. A facilitator who moderates only their group's board
    sees nicknames there, as the members do."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Board.objects.none()
    if sees_every_district(user):
        return Board.objects.all()
    return Board.objects.filter(
        Q(kind=Board.Kind.ALLIANCE, alliance_id__in=coordinated_alliance_ids(user))
        | Q(
            kind__in=(Board.Kind.SCHOOL, Board.Kind.GROUP),
            unit_id__in=units_changeable_by(user).values("pk"),
        )
    )


def can_see_poster(user, board: Board) -> bool:
    """``boards_showing_posters_to`` for one board."""
    return boards_showing_posters_to(user).filter(pk=board.pk).exists()


def staff_role_on(user, board: Board) -> str | None:
    """How a staff member appears on this board (None: as a family, or not staff)."""
    if board.kind == Board.Kind.GROUP and board.group_id and board.group.facilitator_id == user.pk:
        return Post.Role.FACILITATOR
    if can_moderate(user, board):
        return Post.Role.COORDINATOR
    if board.kind != Board.Kind.ALLIANCE and _is_instructor_at(user, board):
        return Post.Role.INSTRUCTOR
    return None


def _is_instructor_at(user, board: Board) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if board.kind == Board.Kind.GROUP:
        return False  # a group's staff are its facilitator and the moderators
    return (
        RoleAssignment.objects.filter(user_id=user.pk, role=RoleAssignment.Role.INSTRUCTOR).exists()
        and visible_unit_ids(user).filter(pk=board.unit_id).exists()
    )


def can_accept(user, thread: Thread) -> bool:
    """An instructor, mentor or facilitator of the board, a moderator, or the
    asking family may mark a reply as the accepted answer of a question."""
    if thread.kind != Thread.Kind.QUESTION:
        return False
    if staff_role_on(user, thread.board) is not None:
        return True
    family = family_of(user)
    return family is not None and family.pk == thread.author_family_id


def active_mute(*, family: Family | int | None, board: Board, now=None) -> Mute | None:
    """The mute that keeps the family from posting on this board now, if any: one
    on the board's school (its board and its groups') or on the board's group."""
    family_id = family.pk if isinstance(family, Family) else family
    if family_id is None:
        return None
    now = now or timezone.now()
    scope = Q(pk__in=[])
    school_id = board.parent_school_id
    if board.kind == Board.Kind.GROUP and board.group_id:
        scope |= Q(group_id=board.group_id)
        school_id = board.group.parent_school_id
    if school_id:
        scope |= Q(parent_school_id=school_id)
    return Mute.objects.filter(scope, family_id=family_id, until__gt=now).order_by("-until").first()


def mute_label(until: datetime.datetime) -> str:
    return timezone.localtime(until).strftime("%Y-%m-%d %H:%M")


# --- pages: boards, thread lists, thread pages, search, the moderation queue -----------
# (helper 4 adds its reads above the measures marker)

# A board's list and a thread's replies are read a page at a time: two queries
# (the count and the page) whatever the size, plus one for the images and one
# for the family's own reports on that page.
THREADS_PER_PAGE = 20
REPLIES_PER_PAGE = 20
SEARCH_PER_PAGE = 20
QUEUE_PER_PAGE = 20
# The home page lists at most this many boards per section (a district
# administrator reads every board; the queue, not this list, is their tool).
HOME_BOARDS_PER_SECTION = 30
SEARCH_MAX_CHARS = 50


@dataclass
class BoardSection:
    key: str  # "school" | "group" | "alliance"
    title: str
    boards: list
    more: bool  # more readable boards than HOME_BOARDS_PER_SECTION


def board_home(*, user) -> list[BoardSection]:
    """The boards the user may read, by section (my schools, my groups,
    announcements), each with its latest published thread; one query per section."""
    from django.utils.translation import gettext as _

    latest = Thread.objects.filter(board=OuterRef("pk"), status=Post.Status.PUBLISHED).order_by(
        "-last_activity_at", "-pk"
    )
    readable = (
        boards_readable_by(user)
        .select_related("group")
        .annotate(
            latest_at=Subquery(latest.values("last_activity_at")[:1]),
            latest_title=Subquery(latest.values("title")[:1]),
            latest_thread_id=Subquery(latest.values("pk")[:1]),
        )
        .order_by(F("latest_at").desc(nulls_last=True), "title", "pk")
    )
    sections = []
    for key, title in (
        (Board.Kind.SCHOOL, _("我的家长学校")),
        (Board.Kind.GROUP, _("我的小组")),
        (Board.Kind.ALLIANCE, _("联盟公告")),
    ):
        rows = list(readable.filter(kind=key)[: HOME_BOARDS_PER_SECTION + 1])
        sections.append(
            BoardSection(
                key=str(key),
                title=title,
                boards=rows[:HOME_BOARDS_PER_SECTION],
                more=len(rows) > HOME_BOARDS_PER_SECTION,
            )
        )
    return sections


def _opening_post(field: str):
    return Subquery(Post.objects.filter(thread=OuterRef("pk"), is_opening=True).values(field)[:1])


def _thread_rows(queryset: QuerySet[Thread]) -> QuerySet[Thread]:
    """A thread as a list shows it: its opening post's author snapshot beside it."""
    return queryset.annotate(
        author_name=_opening_post("author_name"),
        author_school=_opening_post("author_school"),
        author_role=_opening_post("author_role"),
    )


def board_threads(*, user, board: Board, page=None):
    """A page of the board's published threads, pinned first then the latest
    activity (the index thread_board_list). A Django Page."""
    from django.core.paginator import Paginator

    order = ("-is_pinned", "-last_activity_at", "-pk")
    threads = Thread.objects.filter(board=board, status=Post.Status.PUBLISHED).order_by(*order)
    result = Paginator(threads, THREADS_PER_PAGE).get_page(page)
    # The page's ids first (LIMIT/OFFSET over the list index alone), then the
    # opening posts' snapshots for those rows only, in the same query: annotating
    # before the OFFSET made PostgreSQL compute them for every skipped row (1.2 s
    # for the last page of a 5,000-thread board, docs/PERFORMANCE.md).
    page_ids = result.object_list.values("pk")
    result.object_list = _thread_rows(Thread.objects.filter(pk__in=page_ids).order_by(*order))
    return result


def board_own_held_threads(*, user, board: Board) -> list[Thread]:
    """The user's family's threads waiting for review on this board (shown to them
    only, marked 审核中)."""
    family = family_of(user)
    author = Q(author_user_id=user.pk)
    if family is not None:
        author |= Q(author_family_id=family.pk)
    return list(
        _thread_rows(
            Thread.objects.filter(author, board=board, status=Post.Status.HELD).order_by("-pk")
        )[:THREADS_PER_PAGE]
    )


def board_queue_count(*, user, board: Board) -> int | None:
    """For a moderator: how many posts of this board wait in the queue (else None)."""
    if not can_moderate(user, board):
        return None
    return _queue_posts(Board.objects.filter(pk=board.pk)).count()


def _visible_posts(user, thread: Thread) -> Q:
    """Which of a thread's posts the user sees: published ones; their own family's
    held ones; every one (held and hidden, marked) for a moderator."""
    if can_moderate(user, thread.board):
        return Q()
    family = family_of(user)
    own = Q(author_user_id=user.pk)
    if family is not None:
        own |= Q(author_family_id=family.pk)
    return Q(status=Post.Status.PUBLISHED) | (Q(status=Post.Status.HELD) & own)


@dataclass
class ThreadPage:
    thread: Thread
    opening: Post | None
    accepted: Post | None  # the accepted reply, shown first (None when not visible)
    replies: object  # a Django Page of the other replies
    reported_ids: set  # posts on this page the user's family (or the user) reported
    is_moderator: bool
    can_accept: bool
    staff_role: str | None


def thread_page(*, user, thread: Thread, page=None) -> ThreadPage:
    """The opening post, the accepted answer (first), and a page of the other
    replies, with their images: the same few queries for any number of posts."""
    from django.core.paginator import Paginator

    visible = _visible_posts(user, thread)
    posts = Post.objects.filter(visible, thread=thread).prefetch_related("images")
    opening = posts.filter(is_opening=True).first()
    accepted = None
    if thread.accepted_post_id:
        accepted = posts.filter(pk=thread.accepted_post_id, is_opening=False).first()
    replies = posts.filter(is_opening=False).order_by("created_at", "pk")
    if accepted is not None:
        replies = replies.exclude(pk=accepted.pk)
    paginator = Paginator(replies, REPLIES_PER_PAGE)
    # "last": where a reply just sent is (the count is read once either way).
    replies_page = paginator.get_page(paginator.num_pages if page == "last" else page)
    shown = [p.pk for p in (opening, accepted) if p is not None]
    shown += [p.pk for p in replies_page.object_list]
    family = family_of(user)
    reporter = (
        Q(reporter_family_id=family.pk) if family is not None else Q(reporter_user_id=user.pk)
    )
    reported_ids = set(
        Report.objects.filter(reporter, post_id__in=shown).values_list("post_id", flat=True)
    )
    return ThreadPage(
        thread=thread,
        opening=opening,
        accepted=accepted,
        replies=replies_page,
        reported_ids=reported_ids,
        is_moderator=can_moderate(user, thread.board),
        can_accept=can_accept(user, thread),
        staff_role=staff_role_on(user, thread.board),
    )


def post_readable(user, post_id) -> Post | None:
    """A post the user may see (its thread readable and the post visible to them)."""
    post_pk = id_or_none(post_id)
    if post_pk is None:
        return None
    post = Post.objects.filter(pk=post_pk).only("pk", "thread_id").first()
    if post is None:
        return None
    thread = thread_readable(user, post.thread_id)
    if thread is None:
        return None
    return (
        Post.objects.filter(_visible_posts(user, thread), pk=post_pk)
        .select_related("thread", "board")
        .first()
    )


def post_image_readable(user, image_id) -> PostImage | None:
    image_pk = id_or_none(image_id)
    if image_pk is None:
        return None
    image = PostImage.objects.filter(pk=image_pk).only("pk", "post_id", "image").first()
    if image is None or post_readable(user, image.post_id) is None:
        return None
    return image


def search_clean(q) -> str:
    """The query as searched: control characters (a NUL byte PostgreSQL refuses
    among them) become spaces, runs of space one, at most SEARCH_MAX_CHARS."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(q or ""))
    return " ".join(text.split())[:SEARCH_MAX_CHARS]


def search_posts(*, user, q: str, page=None):
    """Published posts (of published threads) on the boards the user may read whose
    text or thread title contains ``q``, newest first. A Django Page (empty for an
    empty query)."""
    from django.core.paginator import Paginator

    q = search_clean(q)
    posts = Post.objects.none()
    if q:
        # The readable boards as a list first (a family reads a handful; a district
        # administrator a few thousand): with the whole access rule as a subquery
        # the planner misjudges the post scan and JIT-compiles for seconds.
        readable = list(boards_readable_by(user).values_list("pk", flat=True))
        posts = (
            Post.objects.filter(
                _text_found(q, readable),
                board_id__in=readable,
                status=Post.Status.PUBLISHED,
                thread__status=Post.Status.PUBLISHED,
            )
            .select_related("thread", "board")
            .order_by("-created_at", "-pk")
        )
    with _planned_without_jit():
        result = Paginator(posts, SEARCH_PER_PAGE).get_page(page)
        result.object_list = list(result.object_list)
    return result


@contextmanager
def _planned_without_jit():
    """PostgreSQL: the bigram function's cost (COST 1000, courses migration 0006)
    pushes estimates past jit_above_cost, and compiling would take longer than
    the search; as the catalogue's search does, plan these queries without JIT."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        yield


def _text_found(q: str, readable: list[int]) -> Q:
    """Posts whose text holds ``q``, or opening posts whose thread's title does.

    On PostgreSQL the two-character pieces of ``q`` are looked up first in the GIN
    indexes of community migration 0003 (the courses' bigram function: Chinese has
    no spaces, and pg_trgm takes nothing from a two-character word), and the LIKE
    then decides, so a search reads the matching posts, not every post of the
    readable boards (800 ms → a few ms at 500,000 posts, docs/PERFORMANCE.md). A
    one-character query, and SQLite, fall back to the LIKE alone."""
    # Chinese has no letter case: a plain LIKE, cheaper than icontains' UPPER().
    lookup = "contains" if q.lower() == q.upper() else "icontains"
    titled = Thread.objects.filter(**{f"title__{lookup}": q}, board_id__in=readable)
    if connection.vendor == "postgresql" and len(q) > 1:
        pieces = bigrams((q,))
        titled = titled.filter(TextHasBigrams(pieces, "title"))
    found = Q(**{f"body__{lookup}": q}) | Q(is_opening=True, thread_id__in=titled.values("pk"))
    if connection.vendor != "postgresql" or len(q) < 2:
        return found
    # Index conditions only (the body's bigrams OR the titled threads' posts, as
    # = ANY(ARRAY(…))), so the planner collects the candidates with a BitmapOr of
    # index scans; the exact test above then keeps those that really match.
    hint = Q(TextHasBigrams(pieces, "body")) | Q(
        InSubqueryArray(F("thread_id"), Subquery(titled.values("pk")))
    )
    return hint & found


QUEUE_REASONS = ("sensitive", "new_member", "cloud", "reports")


def _open_reports() -> Exists:
    return Exists(Report.objects.filter(post=OuterRef("pk"), resolved_at__isnull=True))


def _queue_posts(boards) -> QuerySet[Post]:
    return Post.objects.filter(
        Q(status=Post.Status.HELD) | Q(_open_reports(), ~Q(status=Post.Status.HIDDEN)),
        board__in=boards,
    )


def moderation_queue(*, user, board_id=None, reason: str = "", page=None):
    """Held posts and posts with open reports on the boards the user moderates,
    oldest first; with the poster's real account and ``poster_visible`` on each post
    (the real-name rule: the school's coordinators see who posted, a facilitator
    does not; ``boards_showing_posters_to``) and the open reports. A Django Page."""
    from django.core.paginator import Paginator

    boards = boards_moderated_by(user)
    board_pk = id_or_none(board_id)
    if board_pk is not None:
        boards = boards.filter(pk=board_pk)
    posts = _queue_posts(boards.values("pk"))
    if reason == "reports":
        posts = posts.filter(Q(held_for=Post.HeldFor.REPORTS) | _open_reports())
    elif reason in QUEUE_REASONS:
        posts = posts.filter(status=Post.Status.HELD, held_for=reason)
    posts = (
        posts.select_related("thread", "board", "author_user")
        .prefetch_related(
            Prefetch(
                "reports",
                queryset=Report.objects.filter(resolved_at__isnull=True).order_by("pk"),
                to_attr="open_reports",
            ),
            "images",
        )
        .order_by("created_at", "pk")
    )
    posts = posts.annotate(
        poster_visible=Exists(boards_showing_posters_to(user).filter(pk=OuterRef("board_id")))
    )
    return Paginator(posts, QUEUE_PER_PAGE).get_page(page)


def digest_preference(user) -> bool:
    """Whether the person gets the board's notices as one digest a day."""
    return CommunityPreference.objects.filter(user_id=user.pk, daily_digest=True).exists()


def queue_boards(user) -> list[Board]:
    """The boards in the queue's filter (those the user moderates)."""
    return list(boards_moderated_by(user).order_by("kind", "title", "pk")[:200])


# --- measures: questions asked, answered, time to the first answer ---------------------
# (helper 6 adds its reads below this line)


@dataclass(frozen=True)
class BoardMeasures:
    """互助交流 on one parent school's board in a window: questions asked (published
    question threads), answered (a staff reply or an accepted answer) and the
    median time to the first staff reply of those a staff member answered."""

    parent_school_id: int
    asked: int = 0
    answered: int = 0
    median_minutes: float | None = None

    @property
    def answer_rate(self) -> Decimal | None:
        """Answered questions per hundred asked (one decimal), None when none was asked."""
        if not self.asked:
            return None
        return (Decimal(self.answered) * 100 / Decimal(self.asked)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )


class _MedianInterval(Aggregate):
    """PostgreSQL's exact median of an interval (percentile_cont accepts intervals)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()
    allow_distinct = False


def board_measures(
    *, parent_school_ids, since: datetime.datetime | None = None, until=None
) -> dict[int, BoardMeasures]:
    """The measures of each parent school's board, one query whatever the number of
    schools (PostgreSQL: counts and the median in one GROUP BY; elsewhere the
    answer delays come in one ordered query and the median is taken here).

    A question counts in the window [since, until) by its publication time; it is
    answered when a staff member replied (``first_staff_reply_at``) or an answer
    was accepted, at any time up to now. Schools without a board or a question
    get zeros, so a dashboard can show every school it asked for."""
    ids = sorted({pk for pk in (id_or_none(v) for v in parent_school_ids) if pk is not None})
    result = {pk: BoardMeasures(parent_school_id=pk) for pk in ids}
    if not ids:
        return result
    questions = Thread.objects.filter(
        board__kind=Board.Kind.SCHOOL,
        board__parent_school_id__in=ids,
        kind=Thread.Kind.QUESTION,
        status=Post.Status.PUBLISHED,
        published_at__isnull=False,
    )
    if since is not None:
        questions = questions.filter(published_at__gte=since)
    if until is not None:
        questions = questions.filter(published_at__lt=until)
    staff_answered = Q(first_staff_reply_at__isnull=False)
    delay = ExpressionWrapper(F("first_staff_reply_at") - F("published_at"), DurationField())
    aggregates = {
        "asked": Count("pk"),
        "answered": Count("pk", filter=staff_answered | Q(accepted_post__isnull=False)),
    }
    postgres = connection.vendor == "postgresql"
    if postgres:
        aggregates["median"] = _MedianInterval(delay, filter=staff_answered)
    rows = questions.values("board__parent_school_id").order_by().annotate(**aggregates)
    medians: dict[int, float | None] = {}
    for row in rows:
        school_id = row["board__parent_school_id"]
        result[school_id] = BoardMeasures(
            parent_school_id=school_id, asked=row["asked"], answered=row["answered"]
        )
        if postgres:
            medians[school_id] = _minutes(row["median"])
    if not postgres:
        medians = _medians_in_python(questions.filter(staff_answered), delay)
    for school_id, minutes in medians.items():
        if school_id in result:
            result[school_id] = replace(result[school_id], median_minutes=minutes)
    return result


def _minutes(delay: datetime.timedelta | None) -> float | None:
    if delay is None:
        return None
    return round(max(delay.total_seconds(), 0) / 60, 1)


def _medians_in_python(questions: QuerySet[Thread], delay) -> dict[int, float | None]:
    """SQLite (the development default) has no percentile_cont: the delays of all
    the schools in one query, ordered, and the middle of each school's run."""
    by_school: dict[int, list[datetime.timedelta]] = {}
    for school_id, value in (
        questions.annotate(delay=delay)
        .order_by("board__parent_school_id", "delay")
        .values_list("board__parent_school_id", "delay")
    ):
        by_school.setdefault(school_id, []).append(value)
    medians = {}
    for school_id, delays in by_school.items():
        middle, odd = divmod(len(delays), 2)
        value = delays[middle] if odd else (delays[middle - 1] + delays[middle]) / 2
        medians[school_id] = _minutes(value)
    return medians
