"""Boards across two districts (issue 19): a district administrator moderates the
boards of their district's schools and alliances (queue, decisions, admin lists,
real names, nicknames) and reaches nothing of another district's; the word list is
city-wide reference data, the city administrator's alone; the city administrator
sees both districts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse

from community import services
from community.errors import CommunityError
from community.models import Board, Decision, Post, SensitiveWord
from community.tests.factories import (
    BoardFactory,
    BoardProfileFactory,
    PostFactory,
    SensitiveWordFactory,
    ThreadFactory,
)
from members.tests.districts import two_districts
from parent_school.models import ParentSchool
from parent_school.tests.factories import ParentSchoolFactory

pytestmark = pytest.mark.django_db


@dataclass
class BoardSide:
    board: Board
    alliance_board: Board
    post: Post  # held, on the school board, by the side's guardian
    announcement: Post  # held, on the alliance board
    nickname: str


def _board_side(side, tag: str) -> BoardSide:
    school = ParentSchoolFactory(
        name=f"{tag}家长学校", kind=ParentSchool.Kind.SCHOOL, host_unit=side.unit
    )
    board = BoardFactory(parent_school=school, unit=side.unit, title=f"{tag}家长学校交流区")
    alliance_board = Board.objects.create(
        kind=Board.Kind.ALLIANCE, alliance=side.alliance, unit=side.unit, title=f"{tag}联盟公告"
    )

    def held(on: Board, body: str) -> Post:
        thread = ThreadFactory(board=on, title=f"{tag}的话题", author_family=side.guardian.family)
        return PostFactory(
            thread=thread,
            is_opening=True,
            body=body,
            author_family=side.guardian.family,
            author_user=side.guardian.user,
            author_name=f"{tag}昵称",
            status=Post.Status.HELD,
            held_for=Post.HeldFor.SENSITIVE,
            matched_categories="ads",
        )

    nickname = f"{tag}妈妈"
    BoardProfileFactory(family=side.guardian.family, nickname=nickname)
    return BoardSide(
        board=board,
        alliance_board=alliance_board,
        post=held(board, f"{tag}家长待审的帖子"),
        announcement=held(alliance_board, f"{tag}联盟待审的帖子"),
        nickname=nickname,
    )


@pytest.fixture
def districts():
    world = two_districts()
    world.boards_a = _board_side(world.a, "渝中")
    world.boards_b = _board_side(world.b, "乙方")
    return world


def _decide(client, post, action="hide", reason="与话题无关的推广"):
    return client.post(
        reverse("community:decide", args=[post.pk]),
        {f"p{post.pk}-action": action, f"p{post.pk}-reason": reason},
    )


def test_a_district_admin_works_the_queue_of_their_district_and_not_the_other(client, districts):
    # given district A's administrator
    w = districts
    client.force_login(w.a.admin)

    # when she opens the moderation queue
    page = client.get(reverse("community:moderation"))

    # then her district's school and alliance posts are there, the other district's are not
    body = page.content.decode()
    assert page.status_code == 200
    assert "渝中家长待审的帖子" in body and "渝中联盟待审的帖子" in body
    assert "乙方" not in body
    # and she decides on hers; on the other district's a decision answers 404
    assert _decide(client, w.boards_a.post).status_code == 302
    assert _decide(client, w.boards_a.announcement, action="approve", reason="").status_code == 302
    assert _decide(client, w.boards_b.post).status_code == 404
    assert _decide(client, w.boards_b.announcement, action="approve", reason="").status_code == 404
    w.boards_a.post.refresh_from_db()
    w.boards_a.announcement.refresh_from_db()
    w.boards_b.post.refresh_from_db()
    assert w.boards_a.post.status == Post.Status.HIDDEN
    assert w.boards_a.announcement.status == Post.Status.PUBLISHED
    assert w.boards_b.post.status == Post.Status.HELD
    assert set(Decision.objects.values_list("post_id", flat=True)) == {
        w.boards_a.post.pk,
        w.boards_a.announcement.pk,
    }


def test_the_other_districts_boards_are_not_readable_by_a_district_admin(client, districts):
    w = districts
    client.force_login(w.a.admin)
    assert client.get(reverse("community:board", args=[w.boards_a.board.pk])).status_code == 200
    for board in (w.boards_b.board, w.boards_b.alliance_board):
        assert client.get(reverse("community:board", args=[board.pk])).status_code == 404
    thread = w.boards_b.post.thread
    assert client.get(reverse("community:thread", args=[thread.pk])).status_code == 404


def test_the_city_admin_works_both_districts_queues(client, districts):
    w = districts
    client.force_login(w.city_admin)
    body = client.get(reverse("community:moderation")).content.decode()
    assert "渝中家长待审的帖子" in body and "乙方家长待审的帖子" in body
    assert _decide(client, w.boards_b.post).status_code == 302
    w.boards_b.post.refresh_from_db()
    assert w.boards_b.post.status == Post.Status.HIDDEN


def test_admin_lists_of_a_district_admin_hold_their_districts_boards_with_real_names(
    client, districts
):
    w = districts
    client.force_login(w.a.admin)

    posts = client.get(reverse("admin:community_post_changelist"))
    assert posts.status_code == 200
    assert set(posts.context["cl"].result_list) == {w.boards_a.post, w.boards_a.announcement}
    boards = client.get(reverse("admin:community_board_changelist"))
    assert set(boards.context["cl"].result_list) == {w.boards_a.board, w.boards_a.alliance_board}
    # the district's moderators see who posted (name and masked phone), never the number
    page = client.get(reverse("admin:community_post_change", args=[w.boards_a.post.pk]))
    body = page.content.decode()
    phone = w.a.guardian.user.phone
    assert f"{phone[:3]}****{phone[-4:]}" in body and phone not in body
    # the other district's rows answer 404
    for url in (
        reverse("admin:community_post_change", args=[w.boards_b.post.pk]),
        reverse("admin:community_board_change", args=[w.boards_b.board.pk]),
        reverse("admin:community_thread_change", args=[w.boards_b.post.thread.pk]),
    ):
        assert client.get(url).status_code == 404, url

    # and the city admin's lists hold both districts
    client.force_login(w.city_admin)
    posts = client.get(reverse("admin:community_post_changelist"))
    assert {w.boards_a.post, w.boards_b.post} <= set(posts.context["cl"].result_list)


def test_a_district_admin_changes_their_districts_board_setting_only(client, districts):
    w = districts
    client.force_login(w.a.admin)
    url = reverse("admin:community_board_change", args=[w.boards_a.board.pk])
    response = client.post(url, {"hold_first_posts": "2"})
    assert response.status_code == 302, response.content.decode()[:2000]
    w.boards_a.board.refresh_from_db()
    assert w.boards_a.board.hold_first_posts == 2
    other = reverse("admin:community_board_change", args=[w.boards_b.board.pk])
    assert client.post(other, {"hold_first_posts": "3"}).status_code == 404
    w.boards_b.board.refresh_from_db()
    assert w.boards_b.board.hold_first_posts == 0


def test_nicknames_are_looked_up_by_a_district_admin_for_their_districts_families_only(
    client, districts
):
    w = districts
    changelist = reverse("admin:community_boardprofile_changelist")

    # given district A's administrator: A's family's nickname, not B's
    client.force_login(w.a.admin)
    page = client.get(changelist)
    body = page.content.decode()
    assert page.status_code == 200
    assert "渝中妈妈" in body and f"家庭 #{w.a.guardian.family.pk}" in body
    assert "乙方妈妈" not in body
    other = w.b.guardian.family.board_profile
    change = reverse("admin:community_boardprofile_change", args=[other.pk])
    assert client.get(change).status_code == 404
    # a search for the other district's nickname finds nothing either
    found = client.get(changelist, {"q": "乙方妈妈"})
    assert list(found.context["cl"].result_list) == []

    # the city administrator sees both
    client.force_login(w.city_admin)
    body = client.get(changelist).content.decode()
    assert "渝中妈妈" in body and "乙方妈妈" in body


def test_the_word_list_is_the_city_admins_alone(client, districts):
    # given a listed word
    w = districts
    SensitiveWordFactory(word="刷单", category="fraud")
    words = reverse("admin:community_sensitiveword_changelist")

    # a district administrator neither sees nor changes it, in admin or by the service
    client.force_login(w.a.admin)
    assert client.get(words).status_code == 403
    assert client.get(reverse("admin:community_sensitiveword_import")).status_code == 403
    add = reverse("admin:community_sensitiveword_add")
    data = {"word": "代购", "category": "ads", "is_active": "on"}
    assert client.post(add, data).status_code == 403
    with pytest.raises(CommunityError):
        services.sensitive_word_save(user=w.a.admin, word="代购", category="ads")
    assert list(SensitiveWord.objects.values_list("word", flat=True)) == ["刷单"]

    # the city administrator does
    client.force_login(w.city_admin)
    assert client.get(words).status_code == 200
    assert client.post(add, data).status_code == 302
    assert set(SensitiveWord.objects.values_list("word", flat=True)) == {"刷单", "代购"}
