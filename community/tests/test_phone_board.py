"""Done when #1, on a phone as a new user would: a parent (verified phone) finds
互助交流 under 我的, opens her school's board and asks a question that contains a
listed word written in pinyin; it is held and she is told politely (never which
word). The school's coordinator approves it in the moderation queue; the
instructor answers and marks the answer accepted; she is told once. axe (WCAG 2.1
AA) and no sideways scroll on the board, the thread and the queue, at 375×812 in
Debian's Chromium."""

from __future__ import annotations

import pytest

from community import services
from community.models import Post, Thread
from events.models import Delivery, Notice
from tests.phone import fits_and_is_accessible, signed_in_phone

from .world import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "群里有人拉孩子去 shua dan 赚零花钱，靠谱吗？"


def _settled(page, label: str) -> None:
    page.wait_for_load_state("networkidle")
    fits_and_is_accessible(page, label)


def test_a_question_held_for_a_pinyin_word_approved_answered_and_accepted(live_server, browser):
    # given the school's board, the district's word list with 刷单, and 陈妈妈
    # (verified phone) who has never posted
    w = build_world()
    services.sensitive_word_save(user=w.district_admin, word="刷单", category="fraud")
    mum, pages = w.mum.user, []

    mum_context, page = signed_in_phone(browser, live_server, mum)
    pages.append(mum_context)
    try:
        # when she finds the board from 我的
        page.goto(f"{live_server.url}/mine/")
        page.get_by_role("link", name="互助交流").click()
        page.wait_for_url("**/community/")
        page.get_by_role("link", name=w.board.title).click()
        page.wait_for_url(f"**/community/boards/{w.board.pk}/")
        _settled(page, "board")

        # and asks her question, the listed word in pinyin
        page.get_by_role("link", name="发帖").click()
        page.get_by_label("提问").check()
        page.get_by_label("标题").fill("有人拉孩子赚零花钱")
        page.get_by_label("内容").fill(QUESTION)
        page.get_by_role("button", name="发布").click()
        page.wait_for_load_state("networkidle")

        # then it is held, and she is told politely, without the word
        thread = Thread.objects.get(title="有人拉孩子赚零花钱")
        opening = thread.posts.get(is_opening=True)
        assert (opening.status, opening.held_for) == (Post.Status.HELD, Post.HeldFor.SENSITIVE)
        notice = page.locator(".messages").inner_text()
        assert "管理员审核通过后将对其他家长显示" in notice
        assert "刷单" not in notice and "shua" not in notice
        assert page.locator(".community-post .tag-flag").first.inner_text() == "审核中"
        _settled(page, "held thread (author)")

        # when the school's coordinator approves it in the queue
        coordinator_context, queue = signed_in_phone(browser, live_server, w.coordinator)
        pages.append(coordinator_context)
        queue.goto(f"{live_server.url}/community/moderation/")
        item = queue.locator(f"#queue-{opening.pk}")
        assert "有人拉孩子赚零花钱" in item.inner_text()
        assert "诈骗与违法" in item.inner_text()  # the category, for the moderator
        assert "陈妈妈" in item.inner_text()  # the real name behind the nickname
        assert mum.phone not in queue.content()
        _settled(queue, "moderation queue")
        item.get_by_label("通过").check()
        item.get_by_role("button", name="提交处理").click()
        queue.wait_for_load_state("networkidle")
        opening.refresh_from_db()
        assert opening.status == Post.Status.PUBLISHED

        # and the instructor answers and accepts his answer
        instructor_context, answer = signed_in_phone(browser, live_server, w.instructor)
        pages.append(instructor_context)
        answer.goto(f"{live_server.url}/community/boards/{w.board.pk}/")
        answer.get_by_role("link", name="有人拉孩子赚零花钱").click()
        answer.get_by_label("回复内容").fill("这是骗局，请告诉孩子不要参加，已在班里提醒。")
        answer.get_by_role("button", name="发表回复").click()
        answer.wait_for_load_state("networkidle")
        answer.get_by_role("button", name="采纳这个回答").click()
        answer.wait_for_load_state("networkidle")
        assert "已采纳这条回答" in answer.locator(".messages").inner_text()
        _settled(answer, "thread with the accepted answer")

        # then she sees the accepted answer first, marked, with the instructor's badge
        page.reload()
        accepted = page.locator(".community-post-accepted")
        assert "这是骗局" in accepted.inner_text() and "讲师" in accepted.inner_text()
        _settled(page, "thread (author)")
    finally:
        for context in pages:
            context.close()

    # and she was told of the acceptance once: one notice, one in-site delivery
    thread.refresh_from_db()
    key = f"community.accepted:{thread.pk}"
    assert thread.accepted_post is not None
    assert Notice.objects.filter(key=key).count() == 1
    assert (
        Delivery.objects.filter(notice__key=key, user=mum, channel=Delivery.Channel.INBOX).count()
        == 1
    )
    assert not Notice.objects.filter(key__startswith="community.accepted:").exclude(key=key)
