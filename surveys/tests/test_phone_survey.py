"""Answering on a phone (issue 15): a parent who attended a session opens 我的问卷
from 我的 on a 375×812 phone in Debian's Chromium, answers one question per
screen, leaves half-way, comes back later (a new browser, the same account) and
resumes her saved draft, changes an answer from the review page and submits;
then her family's other guardian, on his own phone, is told the family has
answered. axe (WCAG 2.1 AA) on every screen, no sideways scroll."""

from __future__ import annotations

import pytest

from surveys.models import Draft, Participation, Response
from surveys.tests.world import session_survey
from tests.phone import fits_and_is_accessible, signed_in_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _settled(page, label: str) -> None:
    page.wait_for_load_state("networkidle")
    fits_and_is_accessible(page, label)


def _next(page) -> None:
    page.get_by_role("button", name="下一题").click()
    page.wait_for_load_state("networkidle")


def test_a_parent_answers_on_a_phone_leaves_resumes_and_submits(live_server, browser, tx_world):
    world = tx_world
    survey = session_survey(world, title="亲子沟通课后问卷")
    base = live_server.url
    context, page = signed_in_phone(browser, live_server, world.attended_parent)
    try:
        # she finds 我的问卷 on 我的, and the survey with what it is about
        page.goto(f"{base}/mine/")
        page.get_by_role("link", name="我的问卷").click()
        page.wait_for_load_state("networkidle")
        card = page.locator(".survey-open")
        assert card.count() == 1
        assert world.offering.title in card.inner_text()
        assert "截止时间" in card.inner_text()
        _settled(page, "my surveys")

        page.get_by_role("link", name="亲子沟通课后问卷").click()
        page.wait_for_load_state("networkidle")
        assert "共 5 题" in page.content()
        _settled(page, "start")
        page.get_by_role("link", name="开始填写").click()
        page.wait_for_load_state("networkidle")

        # 1: a required rating; going on empty names the question
        assert "第 1 / 5 题" in page.locator(".survey-progress").inner_text()
        _settled(page, "question 1")
        _next(page)
        assert "请回答“您对本次课程的总体满意度”，这道题必答。" in page.content()
        _settled(page, "question 1 (required)")
        page.get_by_label("4 · 满意").check()
        _next(page)

        # 2: NPS, eleven large labelled choices
        assert "第 2 / 5 题" in page.locator(".survey-progress").inner_text()
        assert page.locator(".survey-option").count() == 11
        box = page.locator(".survey-option").first.bounding_box()
        assert box["height"] >= 44  # a tap target
        _settled(page, "question 2")
        page.get_by_label("9", exact=True).check()
        _next(page)

        # 3: single choice — and she leaves (the phone locks, she closes the tab)
        assert "您最喜欢的形式" in page.content()
        _settled(page, "question 3")
        assert Draft.objects.filter(survey=survey, family=world.attended).exists()
    finally:
        context.close()

    # later, a new browser session of the same account: the draft resumes at 3
    context, page = signed_in_phone(browser, live_server, world.attended_parent)
    try:
        page.goto(f"{base}/surveys/")
        page.get_by_role("link", name="亲子沟通课后问卷").click()
        page.wait_for_load_state("networkidle")
        assert "您上次填到第 3 题，已保存。" in page.content()
        _settled(page, "start (resume)")
        page.get_by_role("link", name="继续填写").click()
        page.wait_for_load_state("networkidle")
        assert "第 3 / 5 题" in page.locator(".survey-progress").inner_text()
        page.get_by_label("案例研讨").check()
        _next(page)

        # 4: multiple choice, optional
        page.get_by_label("沟通").check()
        page.get_by_label("情绪").check()
        _settled(page, "question 4")
        _next(page)

        # 5 of 5 is the short text (why_low stays hidden: she is satisfied)
        assert "第 5 / 5 题" in page.locator(".survey-progress").inner_text()
        box = page.get_by_label("其他建议")
        box.fill("希望多安排周末的场次")
        assert "已输入 10 / 500 字" in page.locator(".survey-counter").inner_text()
        _settled(page, "question 5 (text)")
        _next(page)

        # the review: all answers with 修改; she changes the rating to 2
        assert "检查并提交" in page.locator("h1").inner_text()
        review = page.locator(".survey-review").inner_text()
        assert "4 · 满意" in review and "案例研讨" in review and "沟通、情绪" in review
        _settled(page, "review")
        first = page.locator(".survey-review-row").first
        assert "您对本次课程的总体满意度" in first.inner_text()
        first.get_by_role("link", name="修改").click()
        page.wait_for_load_state("networkidle")
        page.get_by_label("2 · 不满意").check()
        _next(page)
        # the condition now shows 哪些地方让您不满意 after 4; the walk goes through it
        _next(page)
        _next(page)
        _next(page)
        assert "第 5 / 6 题" in page.locator(".survey-progress").inner_text()
        page.get_by_label("哪些地方让您不满意").fill("时间太晚，孩子没人照看")
        _settled(page, "question (condition shown)")
        _next(page)
        _next(page)
        assert "时间太晚，孩子没人照看" in page.locator(".survey-review").inner_text()
        page.get_by_role("button", name="提交").click()
        page.wait_for_load_state("networkidle")
        assert "感谢您的反馈" in page.locator("h1").inner_text()
        _settled(page, "done")

        page.goto(f"{base}/surveys/")
        assert page.locator(".survey-answered").count() == 1
        assert page.locator(".survey-open").count() == 0
        _settled(page, "my surveys (answered)")
    finally:
        context.close()
    assert Participation.objects.filter(survey=survey).count() == 1
    assert Response.objects.get(survey=survey).family_id == world.attended.pk

    # her husband, signed in on his own phone, cannot answer for the family again
    context, page = signed_in_phone(browser, live_server, world.second_parent)
    try:
        page.goto(f"{base}/surveys/{survey.pk}/")
        page.wait_for_load_state("networkidle")
        assert "您的家庭已经填写过这份问卷" in page.locator("h1").inner_text()
        _settled(page, "already answered")
    finally:
        context.close()
    assert Participation.objects.filter(survey=survey).count() == 1
