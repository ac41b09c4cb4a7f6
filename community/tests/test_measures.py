"""互助交流's measures per parent school (community.selectors.board_measures):
questions asked, answered (a staff reply or an accepted answer), the median time
to the first staff reply; in the term window; one query whatever the schools."""

import datetime as dt
import statistics
from decimal import Decimal

from django.db.models import DurationField, ExpressionWrapper, F
from django.utils import timezone

from community.models import Board, Post, Thread
from community.selectors import _medians_in_python, board_measures
from parent_school.tests.factories import ParentSchoolFactory

from .factories import BoardFactory, PostFactory, ThreadFactory

START = timezone.make_aware(dt.datetime(2026, 9, 1, 8, 0))


def _question(board, *, at=START, staff_after=None, accepted=False, **fields):
    thread = ThreadFactory(
        board=board,
        kind=fields.pop("kind", Thread.Kind.QUESTION),
        status=fields.pop("status", Post.Status.PUBLISHED),
        published_at=at,
        last_activity_at=at,
        first_staff_reply_at=at + dt.timedelta(minutes=staff_after) if staff_after else None,
        **fields,
    )
    if accepted:
        reply = PostFactory(thread=thread, author_role=Post.Role.FAMILY)
        thread.accepted_post = reply
        thread.save(update_fields=["accepted_post"])
    return thread


def test_asked_answered_and_the_median_time_to_the_first_staff_answer(board_world):
    w = board_world
    # given on the school's board: three questions a staff member answered after
    # 30, 90 and 600 minutes, one answered only by a family's reply marked
    # accepted, one unanswered
    for minutes in (30, 90, 600):
        _question(w.board, staff_after=minutes)
    _question(w.board, accepted=True)
    _question(w.board)
    # and what does not count: a held question, a sharing thread, a hidden question,
    # a question on the school's group board, one on another school's board
    _question(w.board, status=Post.Status.HELD, staff_after=5)
    _question(w.board, kind=Thread.Kind.SHARING, staff_after=5)
    _question(w.board, status=Post.Status.HIDDEN, staff_after=5)
    _question(w.group_board, staff_after=5)
    _question(w.other_board, staff_after=20)
    _question(w.other_board, staff_after=40)

    # when
    measures = board_measures(parent_school_ids=[w.parent_school.pk, w.other_parent_school.pk])

    # then
    mine = measures[w.parent_school.pk]
    assert (mine.asked, mine.answered) == (5, 4)
    assert mine.median_minutes == statistics.median([30, 90, 600]) == 90
    assert mine.answer_rate == Decimal("80.0")
    other = measures[w.other_parent_school.pk]
    assert (other.asked, other.answered, other.median_minutes) == (2, 2, 30.0)


def test_the_window_counts_questions_by_their_publication(board_world):
    w = board_world
    # given a question before the term, two in it (one answered after the term
    # ended: it still counts as answered), one after
    term_start, term_end = START, START + dt.timedelta(days=140)
    _question(w.board, at=term_start - dt.timedelta(days=1), staff_after=10)
    _question(w.board, at=term_start, staff_after=60 * 24 * 200)
    _question(w.board, at=term_end - dt.timedelta(minutes=1))
    _question(w.board, at=term_end, staff_after=10)

    # when
    mine = board_measures(parent_school_ids=[w.parent_school.pk], since=term_start, until=term_end)[
        w.parent_school.pk
    ]

    # then
    assert (mine.asked, mine.answered) == (2, 1)
    assert mine.median_minutes == 60 * 24 * 200


def test_a_school_without_questions_or_board_gets_zeros_and_no_rate(board_world):
    w = board_world
    school_without_board = ParentSchoolFactory()

    measures = board_measures(parent_school_ids=[w.parent_school.pk, school_without_board.pk, "x"])

    assert set(measures) == {w.parent_school.pk, school_without_board.pk}
    empty = measures[school_without_board.pk]
    assert (empty.asked, empty.answered, empty.median_minutes, empty.answer_rate) == (
        0,
        0,
        None,
        None,
    )
    assert board_measures(parent_school_ids=[]) == {}


def test_one_query_whatever_the_number_of_schools(board_world, django_assert_num_queries):
    w = board_world
    _question(w.board, staff_after=15)
    few = [w.parent_school.pk]
    many = [w.parent_school.pk]
    for _ in range(12):
        board = BoardFactory()
        assert board.kind == Board.Kind.SCHOOL
        for minutes in (10, 20, 30):
            _question(board, staff_after=minutes)
        many.append(board.parent_school_id)

    with django_assert_num_queries(1):
        board_measures(parent_school_ids=few)
    with django_assert_num_queries(1):
        measures = board_measures(parent_school_ids=many)

    assert len(measures) == 13
    assert all(m.median_minutes == 20 for pk, m in measures.items() if pk != w.parent_school.pk)


def test_the_fallback_median_for_sqlite_agrees_with_percentile_cont(board_world):
    # given an even number of staff answers (the median is the mean of the two middle)
    w = board_world
    for minutes in (7, 11, 45, 300):
        _question(w.board, staff_after=minutes)
    _question(w.other_board, staff_after=3)
    questions = Thread.objects.filter(
        kind=Thread.Kind.QUESTION, first_staff_reply_at__isnull=False
    ).exclude(board__kind=Board.Kind.GROUP)
    delay = ExpressionWrapper(F("first_staff_reply_at") - F("published_at"), DurationField())

    # when the delays are ordered in one query and the middle taken in Python
    fallback = _medians_in_python(questions, delay)

    # then the same as PostgreSQL's percentile_cont
    sql = board_measures(parent_school_ids=[w.parent_school.pk, w.other_parent_school.pk])
    assert fallback == {
        w.parent_school.pk: 28.0,
        w.other_parent_school.pk: 3.0,
    }
    assert {pk: m.median_minutes for pk, m in sql.items()} == fallback
