"""The board page and the thread page read the same few queries whatever the
number of threads and posts (5 or 50 rows: the same count)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from community.models import Post, Thread

from .factories import PostFactory, PostImageFactory, ReportFactory, ThreadFactory

pytestmark = pytest.mark.django_db

# The ceiling, with the session, the user, the layout's unread count and the
# access rules included; what matters is that it does not grow with the rows.
# Measured: board 10 (a family) / 14 (a moderator: the queue count, the access
# rules); thread 17 / 20; queue 9.
BOARD_PAGE_MAX = 14
THREAD_PAGE_MAX = 20
QUEUE_PAGE_MAX = 9


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _threads(board, n: int, author) -> None:
    for index in range(n):
        thread = ThreadFactory(
            board=board,
            title=f"话题{index:03d}",
            is_pinned=index % 7 == 0,
            reply_count=2,
        )
        PostFactory(thread=thread, is_opening=True, author_name=f"家长{index}")
        PostFactory(thread=thread, author_name="回复者", author_family=author.family)


def _thread_with_replies(board, n: int, dad, mum) -> Thread:
    thread = ThreadFactory(board=board, title="很多回复的话题", reply_count=n)
    PostFactory(thread=thread, is_opening=True)
    accepted = None
    for index in range(n):
        post = PostFactory(thread=thread, body=f"回复{index}", author_family=dad.family)
        PostImageFactory(post=post)
        if index % 3 == 0:
            ReportFactory(post=post, reporter_family=mum.family)
        if index == 1:
            accepted = post
    PostFactory(thread=thread, body="审核中", status=Post.Status.HELD, author_family=mum.family)
    Thread.objects.filter(pk=thread.pk).update(accepted_post=accepted)
    return thread


@pytest.mark.parametrize("reader", ["mum", "coordinator"])
def test_the_board_page_reads_the_same_queries_for_5_or_50_threads(
    client, board_world, django_assert_max_num_queries, reader
):
    w = board_world
    user = w.mum.user if reader == "mum" else w.coordinator
    client.force_login(user)
    _threads(w.board, 5, w.dad)
    few = _queries(client, reverse("community:board", args=[w.board.pk]))
    _threads(w.board, 45, w.dad)

    with django_assert_max_num_queries(BOARD_PAGE_MAX):
        many = _queries(client, reverse("community:board", args=[w.board.pk]))

    assert many == few


@pytest.mark.parametrize("reader", ["mum", "coordinator"])
def test_the_thread_page_reads_the_same_queries_for_5_or_50_replies(
    client, board_world, django_assert_max_num_queries, reader
):
    w = board_world
    user = w.mum.user if reader == "mum" else w.coordinator
    client.force_login(user)
    few_thread = _thread_with_replies(w.board, 5, w.dad, w.mum)
    many_thread = _thread_with_replies(w.board, 50, w.dad, w.mum)
    few = _queries(client, reverse("community:thread", args=[few_thread.pk]))

    with django_assert_max_num_queries(THREAD_PAGE_MAX):
        many = _queries(client, reverse("community:thread", args=[many_thread.pk]))

    assert many == few


def test_the_queue_and_the_search_read_the_same_queries_for_5_or_50_posts(
    client, board_world, django_assert_max_num_queries
):
    w = board_world
    client.force_login(w.coordinator)

    def held(n):
        for index in range(n):
            thread = ThreadFactory(board=w.board, title=f"待审{index}", status="held")
            post = PostFactory(
                thread=thread,
                is_opening=True,
                status="held",
                held_for="sensitive",
                author_user=w.mum.user,
                author_family=w.mum.family,
                matched_categories="ads",
            )
            ReportFactory(post=post)

    held(5)
    few = _queries(client, reverse("community:moderation"))
    held(45)
    with django_assert_max_num_queries(QUEUE_PAGE_MAX):
        many = _queries(client, reverse("community:moderation"))
    assert many == few

    _threads(w.board, 5, w.dad)
    few = _queries(client, reverse("community:search") + "?q=话题")
    _threads(w.board, 45, w.dad)
    assert _queries(client, reverse("community:search") + "?q=话题") == few
