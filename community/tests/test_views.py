"""The board pages (community/views.py): what each reader sees, what they may do,
and the text filter. Reads are seeded with the factories; writes go through the
pages into community.services."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from community.models import Board, Decision, Post, Report, Thread
from community.templatetags.community_tags import community_text

from .factories import PostFactory, PostImageFactory, ThreadFactory

pytestmark = pytest.mark.django_db


def _thread(board, *, title="孩子写作业总拖拉怎么办", author=None, status="published", **kw):
    """A thread with its opening post, as the service writes them."""
    family = author.family if author is not None else None
    user = author.user if author is not None else None
    thread = ThreadFactory(
        board=board,
        title=title,
        status=status,
        author_family=family,
        author_user=user,
        published_at=None if status != "published" else kw.pop("published_at", None),
        **kw,
    )
    PostFactory(
        thread=thread,
        is_opening=True,
        body="每天晚上都要催很多次。",
        author_family=family,
        author_user=user,
        author_name="雨点妈妈",
        author_school=board.title,
        status=status,
    )
    return thread


def _reply(thread, *, author=None, body="可以试试番茄钟。", status="published", **kw):
    return PostFactory(
        thread=thread,
        body=body,
        author_family=author.family if author is not None else None,
        author_user=author.user if author is not None else kw.pop("user", None),
        author_name=kw.pop("author_name", "石头爸爸"),
        status=status,
        **kw,
    )


def _page(client, user, name, *args, **params) -> tuple[int, str]:
    client.force_login(user)
    response = client.get(reverse(name, args=args), params)
    return response.status_code, response.content.decode()


# --- the text filter -------------------------------------------------------------------


def test_community_text_escapes_everything_and_links_only_web_addresses():
    html = community_text(
        "<script>alert(1)</script> 见 https://example.cn/a?b=1&c=2。\n"
        "第二行 javascript:alert(1) <b>粗</b>"
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;粗&lt;/b&gt;" in html
    assert (
        '<a href="https://example.cn/a?b=1&amp;c=2" rel="nofollow ugc noopener noreferrer" '
        'target="_blank">https://example.cn/a?b=1&amp;c=2</a>。<br>' in html
    )
    assert 'href="javascript' not in html
    assert html.count("<br>") == 1


def test_community_text_keeps_a_closing_bracket_that_belongs_to_the_address():
    html = community_text("（参考 https://zh.wikipedia.org/wiki/A_(B)）和 http://x.cn/p).")
    assert 'href="https://zh.wikipedia.org/wiki/A_(B)"' in html
    assert 'href="http://x.cn/p"' in html and "</a>)." in html


def test_community_text_never_links_a_quoted_attribute_break_out():
    html = community_text('https://x.cn/"onmouseover="alert(1)')
    assert 'href="https://x.cn/"' in html
    assert "onmouseover=&quot;" in html or "&quot;onmouseover" in html


# --- home, board, thread ---------------------------------------------------------------


def test_home_lists_the_boards_i_read_by_section_with_their_latest_thread(client, board_world):
    w = board_world
    _thread(w.board, title="开学第一周的作息")
    _thread(w.other_board, title="别校的话题")

    status, body = _page(client, w.mum.user, "community:home")

    assert status == 200
    assert w.board.title in body and w.group_board.title in body and w.alliance_board.title in body
    assert "开学第一周的作息" in body
    assert w.other_board.title not in body and "别校的话题" not in body
    assert f'action="{reverse("community:search")}"' in body
    assert body.index("我的家长学校") < body.index("我的小组") < body.index("联盟公告")


def test_home_makes_the_boards_of_my_school_on_first_visit(client, board_world):
    w = board_world
    Board.objects.filter(pk=w.board.pk).delete()

    status, body = _page(client, w.dad.user, "community:home")

    assert status == 200
    made = Board.objects.get(kind=Board.Kind.SCHOOL, parent_school=w.parent_school)
    assert made.title in body


def test_board_lists_published_threads_pinned_first_with_badges(client, board_world):
    w = board_world
    old_pinned = _thread(w.board, title="置顶：交流区公约", is_pinned=True)
    _thread(w.board, title="新问题", kind=Thread.Kind.QUESTION, is_closed=True)
    answered = _thread(w.board, title="已解决的问题")
    accepted = _reply(answered)
    Thread.objects.filter(pk=answered.pk).update(accepted_post=accepted)
    _thread(w.board, title="被隐藏的帖子", status="hidden")

    status, body = _page(client, w.dad.user, "community:board", w.board.pk)

    assert status == 200
    assert body.index("置顶：交流区公约") < body.index("新问题")
    assert "已采纳" in body and "已关闭" in body and "提问" in body
    assert "被隐藏的帖子" not in body
    assert reverse("community:new_thread", args=[w.board.pk]) in body
    assert old_pinned.title in body


def test_a_held_thread_shows_to_its_author_only(client, board_world):
    w = board_world
    _thread(w.board, title="审核中的提问", author=w.mum, status="held")

    _status, mum_sees = _page(client, w.mum.user, "community:board", w.board.pk)
    _status, dad_sees = _page(client, w.dad.user, "community:board", w.board.pk)

    assert "审核中的提问" in mum_sees and "审核中" in mum_sees
    assert "审核中的提问" not in dad_sees
    held = Thread.objects.get(title="审核中的提问")
    assert _page(client, w.dad.user, "community:thread", held.pk)[0] == 404
    status, body = _page(client, w.mum.user, "community:thread", held.pk)
    assert status == 200 and "管理员审核通过后将对其他家长显示" in body


def test_foreign_boards_and_threads_are_404(client, board_world):
    w = board_world
    foreign = _thread(w.other_board, title="渝中的帖子")

    assert _page(client, w.mum.user, "community:board", w.other_board.pk)[0] == 404
    assert _page(client, w.mum.user, "community:thread", foreign.pk)[0] == 404
    assert _page(client, w.outsider.user, "community:board", w.board.pk)[0] == 404
    assert _page(client, w.dad.user, "community:board", w.group_board.pk)[0] == 404
    assert _page(client, w.mum.user, "community:board", 2**70)[0] == 404


def test_thread_page_shows_the_accepted_answer_first_and_hides_what_it_must(client, board_world):
    w = board_world
    thread = _thread(w.board, title="孩子不爱读书", author=w.mum)
    _reply(thread, body="第一条回复", author=w.dad)
    best = _reply(
        thread,
        body="老师的建议：每天固定十五分钟亲子共读。",
        user=w.instructor,
        author_name="吴老师",
        author_role=Post.Role.INSTRUCTOR,
        author_school="溪口中心小学家长学校",
    )
    _reply(thread, body="被隐藏的回复", status="hidden")
    _reply(thread, body="石头爸爸待审核的回复", author=w.dad, status="held")
    Thread.objects.filter(pk=thread.pk).update(accepted_post=best, reply_count=2)

    status, mum_sees = _page(client, w.mum.user, "community:thread", thread.pk)

    assert status == 200
    assert mum_sees.index("每天固定十五分钟") < mum_sees.index("第一条回复")
    assert "已采纳的回答" in mum_sees and "讲师" in mum_sees
    assert "被隐藏的回复" not in mum_sees and "石头爸爸待审核的回复" not in mum_sees
    # the asking family may accept another reply
    assert reverse("community:accept", args=[thread.pk]) in mum_sees
    _status, dad_sees = _page(client, w.dad.user, "community:thread", thread.pk)
    assert "石头爸爸待审核的回复" in dad_sees and "审核中" in dad_sees
    assert reverse("community:accept", args=[thread.pk]) not in dad_sees
    # moderators see every post, marked, and may decide on each
    _status, coordinator_sees = _page(client, w.coordinator, "community:thread", thread.pk)
    assert "被隐藏的回复" in coordinator_sees and "已隐藏" in coordinator_sees
    assert reverse("community:decide", args=[best.pk]) in coordinator_sees
    assert reverse("community:pin", args=[thread.pk]) in coordinator_sees


def test_no_page_shows_a_phone_or_a_childs_name_to_another_family(client, board_world):
    w = board_world
    thread = _thread(w.board, title="家长们好", author=w.mum)
    _reply(thread, author=w.dad)

    for name, args in (
        ("community:home", ()),
        ("community:board", (w.board.pk,)),
        ("community:thread", (thread.pk,)),
        ("community:profile", ()),
    ):
        _status, body = _page(client, w.dad.user, name, *args)
        for secret in (w.mum.user.phone, w.mum_child.nickname, w.mum.user.display_name):
            assert secret not in body, (name, secret)


# --- writes through the pages ------------------------------------------------------------


def test_a_verified_parent_posts_a_question_and_it_shows(client, board_world):
    w = board_world
    client.force_login(w.mum.user)

    response = client.post(
        reverse("community:new_thread", args=[w.board.pk]),
        {"kind": "question", "title": "孩子晚上睡得太晚", "body": "有什么好办法吗？"},
    )

    thread = Thread.objects.get(title="孩子晚上睡得太晚")
    assert response.status_code == 302
    assert response["Location"] == reverse("community:thread", args=[thread.pk])
    assert thread.status == Post.Status.PUBLISHED
    body = client.get(reverse("community:board", args=[w.board.pk])).content.decode()
    assert "孩子晚上睡得太晚" in body


def test_an_unverified_parent_is_told_to_verify_her_phone_and_nothing_is_written(
    client, board_world
):
    w = board_world
    status, body = _page(client, w.unverified.user, "community:new_thread", w.board.pk)
    assert status == 200 and "请先验证手机号码" in body
    assert reverse("account_change_phone") in body

    client.post(
        reverse("community:new_thread", args=[w.board.pk]),
        {"kind": "question", "title": "能发帖吗试一试", "body": "试一下"},
    )

    assert not Thread.objects.filter(title="能发帖吗试一试").exists()


def test_a_bad_title_comes_back_on_its_field(client, board_world):
    w = board_world
    client.force_login(w.mum.user)

    response = client.post(
        reverse("community:new_thread", args=[w.board.pk]),
        {"kind": "question", "title": "短", "body": "内容"},
    )

    assert response.status_code == 200
    assert 'id="id_title"' in response.content.decode()
    assert "errorlist" in response.content.decode()
    assert not Thread.objects.filter(board=w.board).exists()


def test_only_moderators_post_on_the_alliance_board(client, board_world):
    w = board_world
    status, body = _page(client, w.mum.user, "community:board", w.alliance_board.pk)
    assert status == 200
    assert reverse("community:new_thread", args=[w.alliance_board.pk]) not in body
    assert "只有协调员可以发布" in body
    client.post(
        reverse("community:new_thread", args=[w.alliance_board.pk]),
        {"kind": "announcement", "title": "家长冒充的公告", "body": "x"},
    )
    assert not Thread.objects.filter(board=w.alliance_board).exists()

    client.force_login(w.alliance_coordinator)
    client.post(
        reverse("community:new_thread", args=[w.alliance_board.pk]),
        {"kind": "announcement", "title": "本学期家长学校开课通知", "body": "欢迎参加。"},
    )
    assert Thread.objects.get(board=w.alliance_board).kind == Thread.Kind.ANNOUNCEMENT


def test_posting_on_a_foreign_board_is_404_and_writes_nothing(client, board_world):
    w = board_world
    client.force_login(w.outsider.user)

    response = client.post(
        reverse("community:new_thread", args=[w.board.pk]),
        {"kind": "question", "title": "跨校发帖试试", "body": "x"},
    )

    assert response.status_code == 404
    assert not Thread.objects.filter(board=w.board).exists()


def test_reply_report_and_the_moderators_decision(client, board_world):
    w = board_world
    thread = _thread(w.board, title="周末去哪里玩", author=w.mum)
    client.force_login(w.dad.user)

    response = client.post(
        reverse("community:reply", args=[thread.pk]), {"body": "可以去溪口的图书馆。"}
    )
    reply = Post.objects.get(thread=thread, is_opening=False)
    assert response.status_code == 302 and f"#post-{reply.pk}" in response["Location"]
    assert reply.status == Post.Status.PUBLISHED

    # mum reports it, once
    client.force_login(w.mum.user)
    assert client.get(reverse("community:report", args=[reply.pk])).status_code == 200
    client.post(reverse("community:report", args=[reply.pk]), {"reason": "ads", "detail": ""})
    assert Report.objects.filter(post=reply, reporter_family=w.mum.family).count() == 1
    page = client.get(reverse("community:thread", args=[thread.pk])).content.decode()
    assert "您已举报" in page

    # the coordinator sees it in the queue and hides it with a reason
    client.force_login(w.coordinator)
    queue = client.get(reverse("community:moderation")).content.decode()
    assert "可以去溪口的图书馆" in queue and "广告或引流" in queue
    response = client.post(
        reverse("community:decide", args=[reply.pk]),
        {f"p{reply.pk}-action": "hide", f"p{reply.pk}-reason": "与话题无关的推广"},
    )
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.status == Post.Status.HIDDEN
    assert Decision.objects.get(post=reply).action == Decision.Action.HIDE


def test_hiding_without_a_reason_is_refused_with_the_message(client, board_world):
    w = board_world
    thread = _thread(w.board, title="一个普通的帖子", author=w.mum)
    client.force_login(w.coordinator)
    opening = thread.posts.get(is_opening=True)

    response = client.post(
        reverse("community:decide", args=[opening.pk]),
        {f"p{opening.pk}-action": "hide", f"p{opening.pk}-reason": ""},
        follow=True,
    )

    opening.refresh_from_db()
    assert opening.status == Post.Status.PUBLISHED
    assert response.status_code == 200
    assert "理由" in response.content.decode()


def test_a_decision_on_a_foreign_post_is_404(client, board_world):
    w = board_world
    foreign = _thread(w.other_board, title="渝中的帖子二").posts.get(is_opening=True)
    client.force_login(w.coordinator)

    response = client.post(
        reverse("community:decide", args=[foreign.pk]),
        {f"p{foreign.pk}-action": "hide", f"p{foreign.pk}-reason": "越权"},
    )

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == Post.Status.PUBLISHED


def test_the_queue_shows_the_real_poster_to_the_schools_moderators_only(client, board_world):
    w = board_world
    held = _thread(w.board, title="加微信领资料", author=w.mum, status="held")
    Post.objects.filter(thread=held).update(held_for="sensitive", matched_categories="ads")

    status, body = _page(client, w.coordinator, "community:moderation")

    assert status == 200
    assert "加微信领资料" in body
    assert w.mum.user.display_name in body
    masked = w.mum.user.phone[:3] + "****" + w.mum.user.phone[-4:]
    assert masked in body and w.mum.user.phone not in body
    assert "广告引流" in body
    # a family has no queue; another school's coordinator does not see this one
    assert _page(client, w.mum.user, "community:moderation")[0] == 403
    _status, other = _page(client, w.other_coordinator, "community:moderation")
    assert "加微信领资料" not in other and w.mum.user.display_name not in other
    # filtered by reason
    _status, reports_only = _page(client, w.coordinator, "community:moderation", reason="reports")
    assert "加微信领资料" not in reports_only


def test_a_facilitator_moderates_by_nickname_and_the_school_sees_who_posted(client, board_world):
    w = board_world
    held = _thread(w.group_board, title="小组里的求助", author=w.mum, status="held")
    Post.objects.filter(thread=held).update(held_for="sensitive")
    masked = w.mum.user.phone[:3] + "****" + w.mum.user.phone[-4:]

    status, facilitator = _page(client, w.instructor, "community:moderation")
    assert status == 200
    assert "小组里的求助" in facilitator and "雨点妈妈" in facilitator
    assert w.mum.user.display_name not in facilitator and masked not in facilitator
    assert "发帖人：" not in facilitator

    _status, coordinator = _page(client, w.coordinator, "community:moderation")
    assert "小组里的求助" in coordinator
    assert w.mum.user.display_name in coordinator and masked in coordinator


def test_the_group_board_opens_for_members_and_is_404_for_others(client, board_world):
    w = board_world
    client.force_login(w.mum.user)
    response = client.get(reverse("community:group_board", args=[w.group.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("community:board", args=[w.group_board.pk])

    client.force_login(w.dad.user)
    assert client.get(reverse("community:group_board", args=[w.group.pk])).status_code == 404
    assert client.get(reverse("community:group_board", args=[2**40])).status_code == 404

    # the first visit makes the board (the facilitator's)
    Board.objects.filter(pk=w.group_board.pk).delete()
    client.force_login(w.dad.user)
    assert client.get(reverse("community:group_board", args=[w.group.pk])).status_code == 404
    assert not Board.objects.filter(group=w.group).exists()
    client.force_login(w.instructor)
    response = client.get(reverse("community:group_board", args=[w.group.pk]))
    made = Board.objects.get(group=w.group)
    assert response["Location"] == reverse("community:board", args=[made.pk])


def test_search_finds_posts_on_readable_boards_only(client, board_world):
    w = board_world
    _thread(w.board, title="关于午睡的讨论")
    _thread(w.other_board, title="别校关于午睡的话题")

    status, body = _page(client, w.dad.user, "community:search", q="午睡")

    assert status == 200
    assert "关于午睡的讨论" in body
    assert "别校关于午睡的话题" not in body
    assert _page(client, w.dad.user, "community:search")[0] == 200


def test_profile_sets_the_nickname_and_the_daily_digest(client, board_world):
    w = board_world
    client.force_login(w.mum.user)
    assert client.get(reverse("community:profile")).status_code == 200

    response = client.post(
        reverse("community:profile"), {"nickname": "雨点妈妈", "daily_digest": "on"}
    )

    assert response.status_code == 302
    w.mum.family.board_profile.refresh_from_db()
    assert w.mum.family.board_profile.nickname == "雨点妈妈"
    assert w.mum.user.community_preference.daily_digest is True
    bad = client.post(reverse("community:profile"), {"nickname": "13700001234号"})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()


def test_a_posts_image_is_served_to_its_readers_only(client, board_world):
    w = board_world
    post = _thread(w.board, title="孩子的手工作品").posts.get(is_opening=True)
    image = PostImageFactory(post=post, width=2, height=2)
    image.image.save("x.jpg", ContentFile(b"\xff\xd8\xff\xe0pixels"), save=True)

    client.force_login(w.dad.user)
    response = client.get(reverse("community:image", args=[image.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    client.force_login(w.outsider.user)
    assert client.get(reverse("community:image", args=[image.pk])).status_code == 404

    client.force_login(w.dad.user)
    page = client.get(reverse("community:thread", args=[post.thread_id])).content.decode()
    assert 'alt="帖子图片 1"' in page and 'width="2"' in page


def test_staff_whose_boards_do_not_exist_yet_see_an_empty_queue(client):
    from members.models import RoleAssignment
    from members.tests.factories import RoleAssignmentFactory

    coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR).user

    status, body = _page(client, coordinator, "community:moderation")

    assert status == 200 and "没有待处理的内容" in body


def test_any_post_to_decide_on_a_post_one_does_not_moderate_is_404(client, board_world):
    w = board_world
    post = _thread(w.board, title="本校的一个帖子").posts.get(is_opening=True)
    for user in (w.mum.user, w.outsider.user, w.other_coordinator):
        client.force_login(user)
        # with a valid decision or with nothing at all: 404 either way
        for data in ({f"p{post.pk}-action": "hide", f"p{post.pk}-reason": "x"}, {}):
            response = client.post(reverse("community:decide", args=[post.pk]), data)
            assert response.status_code == 404, (user, data)
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED and not Decision.objects.exists()
