"""The boards' search on PostgreSQL: the bigram indexes find the candidates, the
LIKE decides, and the answer is what a plain scan gives (community migration 0003)."""

from django.db import connection

from community import selectors
from community.models import Post, Thread
from courses.search import TextHasBigrams, bigrams

from .factories import PostFactory, ThreadFactory


def _portable(user, q: str) -> list[int]:
    """What a plain LIKE over every readable published post finds (SQLite's path)."""
    readable = list(selectors.boards_readable_by(user).values_list("pk", flat=True))
    found = Post.objects.filter(
        board_id__in=readable, status="published", thread__status="published"
    ).filter(
        # the same two ways a post is found: its text, or its thread's title (opening post)
        pk__in=[
            p.pk
            for p in Post.objects.select_related("thread")
            if q.lower() in p.body.lower() or (p.is_opening and q.lower() in p.thread.title.lower())
        ]
    )
    return sorted(found.values_list("pk", flat=True))


def test_the_indexed_search_finds_what_a_scan_finds_on_readable_boards_only(board_world):
    w = board_world
    texts = ["孩子不爱写作业怎么办", "亲子沟通的小技巧", "作业拖拉，沟通无效", "周末去哪儿玩"]
    for board in (w.board, w.other_board, w.alliance_board):
        for i, text in enumerate(texts):
            thread = ThreadFactory(board=board, title="关于沟通" if i == 3 else f"话题{i}")
            PostFactory(thread=thread, body=text, is_opening=True)
            PostFactory(thread=thread, body=f"回复：{text}")
    held = ThreadFactory(board=w.board, title="沟通", status="held")
    PostFactory(thread=held, body="沟通", is_opening=True, status="held")
    for q in ("沟通", "作业", "怎么办", "小技巧", "无效", "沟", "不存在的话", "AI"):
        page = selectors.search_posts(user=w.dad.user, q=q, page=1)
        found = sorted(
            Post.objects.filter(pk__in=[p.pk for p in page.object_list]).values_list(
                "pk", flat=True
            )
        )
        assert page.paginator.count == len(found) < 20
        assert found == _portable(w.dad.user, q), q
    # never the other school's posts, never a held thread
    hits = selectors.search_posts(user=w.dad.user, q="沟通", page=1).object_list
    assert hits and all(p.board_id in (w.board.pk, w.alliance_board.pk) for p in hits)
    assert all(p.thread_id != held.pk for p in hits)


def test_on_postgresql_the_search_reads_the_bigram_indexes(board_world):
    w = board_world
    readable = list(selectors.boards_readable_by(w.dad.user).values_list("pk", flat=True))
    # Planned without the board condition, which a tiny test table would prefer.
    posts = Post.objects.filter(selectors._text_found("沟通", readable))
    titles = Thread.objects.filter(TextHasBigrams(bigrams(("沟通",)), "title"))
    with connection.cursor() as cursor:
        # a tiny table is scanned whatever the indexes; forbid that to see them used
        cursor.execute("SET enable_seqscan = off")
        try:
            post_plan, title_plan = posts.explain(), titles.explain()
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "Bitmap Index Scan on post_body_bigrams" in post_plan
    assert "Bitmap Index Scan on thread_title_bigrams" in title_plan


def test_control_characters_in_a_query_are_spaces_not_an_error(client, board_world):
    w = board_world
    thread = ThreadFactory(board=w.board, title="作业")
    PostFactory(thread=thread, body="孩子写作业拖拉", is_opening=True)
    assert selectors.search_clean("作\x00业\x07 \t拖拉") == "作 业 拖拉"
    client.force_login(w.mum.user)
    response = client.get("/community/search/", {"q": "\x00拖拉"})
    assert response.status_code == 200
    assert [p.pk for p in response.context["page_obj"]] == [thread.posts.get().pk]
