"""Done when: on a phone, a parent books this evening's course session (with her child)
and registers for this evening's event (without him); her home page and 我的学习
show both, with the weekday, the place, who goes and the ticket; she cancels the
event on a page that asks first. The tab bar is reachable by keyboard, marks the
current tab and never covers the page. axe (WCAG 2.1 AA) on home, 我的学习, both
booking pages and the cancel confirmation, at 375×812 in Debian's Chromium."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, Offering
from courses.models import Course
from courses.tests.factories import CourseFactory, make_session
from events.models import Event
from events.tests.factories import make_event
from members.formatting import when_label
from members.tests.factories import ChildFactory, GuardianFactory, UserFactory
from tests.phone import fits_and_is_accessible, signed_in_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fits_and_is_accessible_once_idle(page, label: str) -> None:
    # measured once the page's scripts and requests have settled
    page.wait_for_load_state("networkidle")
    fits_and_is_accessible(page, label)


def tab_bar_leaves_the_page_uncovered(page) -> None:
    """Scrolled to the very end, the footer ends above the fixed tab bar."""
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    footer_bottom, bar_top, bar_position = page.evaluate(
        """() => {
            const bar = document.querySelector('.tab-bar');
            return [document.querySelector('.site-footer').getBoundingClientRect().bottom,
                    bar.getBoundingClientRect().top, getComputedStyle(bar).position];
        }"""
    )
    assert bar_position == "fixed"
    assert footer_bottom <= bar_top + 0.5, (footer_bottom, bar_top)


def tab(page, name: str):
    return page.locator(f'.tab-bar a[data-tab="{name}"]')


def test_a_parents_evening_on_a_phone(live_server, browser):
    # given 王妈妈 with her son 小明, a course session and an event this evening
    mother = GuardianFactory(user=UserFactory(display_name="王妈妈"), relation="mother")
    ChildFactory(family=mother.family, nickname="小明")
    evening = timezone.now() + timedelta(hours=4)
    course = CourseFactory(title="亲子沟通的艺术", audience=Course.Audience.PARENTS)
    session = make_session(course, capacity=20, venue="溪口社区活动室")
    Offering.objects.filter(pk=session.offering_id).update(
        starts_at=evening, ends_at=evening + timedelta(hours=2)
    )
    event = make_event(
        title="家庭教育讲座：青春期亲子沟通",
        audience=Event.Audience.PARENTS,
        starts_at=evening + timedelta(minutes=30),
        venue="溪口中学报告厅",
    )
    context, page = signed_in_phone(browser, live_server, mother.user)

    try:
        # when she opens the course page: herself ticked, her son not, and it says so
        page.goto(f"{live_server.url}/courses/{course.pk}/")
        form = page.locator("form.book-form")
        summary = form.locator("[data-party-summary]")
        assert form.get_by_label("我（王妈妈）").is_checked()
        assert not form.get_by_label("小明（孩子", exact=False).is_checked()
        assert summary.inner_text() == "本次报名 1 人：我（不带孩子）"
        fits_and_is_accessible_once_idle(page, "course booking")

        # and ticks him: the line under the boxes says the child is now included
        form.get_by_label("小明（孩子", exact=False).check()
        assert summary.inner_text() == "本次报名 2 人：我、小明（含孩子 1 人）"
        form.get_by_role("button", name="报名").click()
        page.wait_for_load_state("networkidle")
        assert "报名成功！已为 2 人保留名额（含孩子 1 人）。" in page.content()

        # when she registers for the event for herself only
        page.goto(f"{live_server.url}/events/{event.pk}/")
        form = page.locator("form.book-form")
        assert form.locator("[data-party-summary]").inner_text() == "本次报名 1 人：我（不带孩子）"
        fits_and_is_accessible_once_idle(page, "event booking")
        form.get_by_role("button", name="提交报名").click()
        page.wait_for_load_state("networkidle")
        assert "（不含孩子）" in page.content()
        ticket = page.locator(".ticket-code").inner_text()

        # then her home page shows the course and the event of this evening
        tab(page, "home").click()
        page.wait_for_load_state("networkidle")
        assert tab(page, "home").get_attribute("aria-current") == "page"
        cards = page.locator("main .agenda-item")
        assert cards.count() == 2
        assert "亲子沟通的艺术" in cards.nth(0).inner_text()
        assert "家庭教育讲座：青春期亲子沟通" in cards.nth(1).inner_text()
        assert when_label(evening) in cards.nth(0).inner_text()
        assert "溪口社区活动室" in cards.nth(0).inner_text()
        assert "我、小明（孩子）" in cards.nth(0).inner_text()
        assert ticket in cards.nth(1).inner_text()
        fits_and_is_accessible_once_idle(page, "home")
        tab_bar_leaves_the_page_uncovered(page)

        # and the tabs are reached by keyboard, after the skip link and the top bar
        page.evaluate("() => window.scrollTo(0, 0)")
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        reached = []
        for _ in range(12):
            page.keyboard.press("Tab")
            reached.append(page.evaluate("() => document.activeElement.dataset.tab || ''"))
            if reached[-1] == "mine":
                break
        assert [r for r in reached if r] == ["home", "courses", "events", "mine"]
        page.keyboard.press("Enter")
        page.wait_for_url("**/mine/")
        assert tab(page, "mine").get_attribute("aria-current") == "page"

        # when she opens 我的学习 from 我的
        page.get_by_role("link", name="我的学习").click()
        page.wait_for_url("**/me/")
        assert tab(page, "mine").get_attribute("aria-current") == "true"
        upcoming = page.locator("section[aria-labelledby=upcoming-title] .agenda-item")
        assert upcoming.count() == 2
        event_card = upcoming.filter(has_text="家庭教育讲座")
        assert "溪口中学报告厅" in event_card.inner_text()
        assert ticket in event_card.inner_text()
        assert "周" in upcoming.first.locator(".agenda-when").inner_text()
        fits_and_is_accessible_once_idle(page, "my learning")
        tab_bar_leaves_the_page_uncovered(page)

        # and cancels the event: a page asks first and says what will happen
        event_card.get_by_role("link", name="取消报名").click()
        page.wait_for_load_state("networkidle")
        body = page.locator("main").inner_text()
        assert "取消后名额将让给候补家庭" in body
        deadline = event.offering.starts_at - timedelta(hours=2)
        assert f"可在 {when_label(deadline)} 前取消" in body
        assert "电子票将失效" in body
        assert Booking.objects.get(offering=event.offering).status == Booking.Status.CONFIRMED
        fits_and_is_accessible_once_idle(page, "cancel confirmation")
        page.get_by_role("button", name="确认取消报名").click()
        page.wait_for_url("**/me/")

        # then she is back in 我的学习, the event gone and the course still there
        assert "已取消报名" in page.content()
        upcoming = page.locator("section[aria-labelledby=upcoming-title] .agenda-item")
        assert upcoming.count() == 1
        assert "亲子沟通的艺术" in upcoming.inner_text()
        assert Booking.objects.get(offering=event.offering).status == Booking.Status.CANCELLED
    finally:
        page.wait_for_load_state("networkidle")
        context.close()
