"""axe (WCAG 2.1 AA) and no sideways scroll on every board page at 375×812, for a
parent and for a moderator, with the states that add markup: a pinned and a held
thread, an accepted answer, images, a report, a form sent back with errors."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from community.models import Post, Thread
from tests.phone import fits_and_is_accessible, signed_in_phone

from .factories import PostFactory, PostImageFactory, ReportFactory, ThreadFactory
from .world import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The smallest valid JPEG would do for the page; axe only needs the <img> with alt.
PIXEL = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c"
    "1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b"
    "080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5"
    "100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c115"
    "52d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a6364"
    "65666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7"
    "b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100"
    "003f00fbd3ffd9"
)


def _seed(w):
    pinned = ThreadFactory(board=w.board, title="交流区公约", is_pinned=True, kind="sharing")
    PostFactory(thread=pinned, is_opening=True, body="请友善发言。\n见 https://example.cn/rules")
    question = ThreadFactory(
        board=w.board,
        title="孩子写作业拖拉",
        author_family=w.mum.family,
        author_user=w.mum.user,
        reply_count=2,
    )
    opening = PostFactory(
        thread=question,
        is_opening=True,
        author_family=w.mum.family,
        author_user=w.mum.user,
        author_name="雨点妈妈",
        author_school="溪口中心小学家长学校",
    )
    image = PostImageFactory(post=opening, width=1, height=1)
    image.image.save("pixel.jpg", ContentFile(PIXEL), save=True)
    answer = PostFactory(
        thread=question,
        body="可以试试番茄钟。",
        author_user=w.instructor,
        author_role=Post.Role.INSTRUCTOR,
        author_name="吴老师",
    )
    reply = PostFactory(thread=question, body="我们也这样。", author_family=w.dad.family)
    ReportFactory(post=reply, reporter_family=w.mum.family)
    Thread.objects.filter(pk=question.pk).update(accepted_post=answer)
    held = ThreadFactory(
        board=w.board,
        title="审核中的帖子",
        status="held",
        author_family=w.mum.family,
        author_user=w.mum.user,
    )
    PostFactory(
        thread=held,
        is_opening=True,
        status="held",
        held_for="sensitive",
        matched_categories="ads",
        author_family=w.mum.family,
        author_user=w.mum.user,
    )
    return question, reply


def test_the_board_pages_pass_axe_on_a_phone(live_server, browser):
    w = build_world()
    question, reply = _seed(w)
    parent_pages = [
        ("home", reverse("community:home")),
        ("board", reverse("community:board", args=[w.board.pk])),
        ("thread", reverse("community:thread", args=[question.pk])),
        ("new thread", reverse("community:new_thread", args=[w.board.pk])),
        ("report", reverse("community:report", args=[reply.pk])),
        ("search", reverse("community:search") + "?q=作业"),
        ("profile", reverse("community:profile")),
        ("alliance board", reverse("community:board", args=[w.alliance_board.pk])),
    ]
    moderator_pages = [
        ("moderation", reverse("community:moderation")),
        ("moderation filtered", reverse("community:moderation") + "?reason=sensitive"),
        ("board (moderator)", reverse("community:board", args=[w.board.pk])),
        ("thread (moderator)", reverse("community:thread", args=[question.pk])),
    ]
    for user, pages in ((w.mum.user, parent_pages), (w.coordinator, moderator_pages)):
        context, page = signed_in_phone(browser, live_server, user)
        try:
            for label, path in pages:
                page.goto(live_server.url + path)
                page.wait_for_load_state("networkidle")
                fits_and_is_accessible(page, label)
        finally:
            context.close()

    # a form sent back with its errors, and a verified-phone notice
    context, page = signed_in_phone(browser, live_server, w.mum.user)
    try:
        page.goto(live_server.url + reverse("community:new_thread", args=[w.board.pk]))
        page.get_by_label("标题").fill("短")
        page.get_by_label("内容").fill("x")
        page.get_by_role("button", name="发布").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("[role=alert]").count() >= 1
        fits_and_is_accessible(page, "new thread with errors")
    finally:
        context.close()
    context, page = signed_in_phone(browser, live_server, w.unverified.user)
    try:
        page.goto(live_server.url + reverse("community:new_thread", args=[w.board.pk]))
        page.wait_for_load_state("networkidle")
        assert "验证手机号" in page.content()
        fits_and_is_accessible(page, "new thread (phone not verified)")
    finally:
        context.close()
