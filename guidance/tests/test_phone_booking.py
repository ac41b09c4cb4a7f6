"""Done when #1, on a phone as a new user would: a parent finds a 心理健康辅导
mentor from 我的, books a slot for her child with a short description, sees the
receipt among her notices (the outbox row, sent), and the reminder row exists for
the slot; a second booking beyond the station's limit is refused on the web with
the Chinese message. axe (WCAG 2.1 AA) and no sideways scroll on every page, at
375×812 in Debian's Chromium."""

from __future__ import annotations

import datetime as dt

import pytest

from events.models import Delivery
from events.reminders import reminders_plan_due
from guidance import services
from guidance.models import Consultation
from notifications.models import Notification
from tests.phone import fits_and_is_accessible, signed_in_phone

from .test_booking import slot_for
from .world import build_station_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEED = "孩子最近考试前总是紧张失眠"


def _settled(page, label: str) -> None:
    page.wait_for_load_state("networkidle")
    fits_and_is_accessible(page, label)


def test_a_parent_books_a_mental_health_mentor_for_her_child_on_a_phone(live_server, browser):
    # given the station (one open booking per family) with 林老师's slots
    w = build_station_world()
    services.station_update(user=w.coordinator, station_id=w.station.pk, open_bookings_max=1)
    first_slot = slot_for(w.psych, days=2)
    second_slot = slot_for(w.psych, days=3)
    context, page = signed_in_phone(browser, live_server, w.mum.user)
    try:
        # when she finds 成长指导 under 我的, the station and 心理健康辅导
        page.goto(f"{live_server.url}/mine/")
        page.get_by_role("link", name="成长指导").click()
        page.wait_for_url("**/guidance/")
        _settled(page, "guidance home")
        page.get_by_role("link", name="心理健康辅导").first.click()
        page.wait_for_url(f"**/guidance/stations/{w.station.pk}/areas/mental_health/")
        _settled(page, "area")
        assert "林老师" in page.content()

        # and books 林老师's first slot for 小雨点 with a short description
        page.locator(f'a[href^="/guidance/slots/{first_slot.pk}/book/"]').click()
        page.wait_for_url(f"**/guidance/slots/{first_slot.pk}/book/**")
        _settled(page, "booking form")
        page.get_by_label("孩子", exact=True).check()
        page.get_by_label("哪个孩子").select_option(label=w.mum_child.nickname)
        page.get_by_label("想咨询的问题").fill(NEED)
        page.get_by_role("button", name="提交预约").click()
        page.wait_for_load_state("networkidle")

        # then she is on her consultation, booked
        consultation = Consultation.objects.get(family=w.mum.family)
        assert page.url.endswith(f"/guidance/consultations/{consultation.pk}/")
        assert "预约成功" in page.locator(".messages").inner_text()
        assert consultation.status == Consultation.Status.BOOKED
        assert consultation.child == w.mum_child
        _settled(page, "consultation (family)")

        # and the receipt is among her notices, pointing to it
        page.goto(f"{live_server.url}/notifications/")
        assert "报名成功：心理健康辅导 · 林老师" in page.content()
        _settled(page, "notices")
        notice = Notification.objects.get(user=w.mum.user, title__startswith="报名成功")
        assert notice.url.endswith(f"/guidance/booked/{first_slot.offering_id}/")
        page.goto(f"{live_server.url}{notice.url}")
        assert page.url.endswith(f"/guidance/consultations/{consultation.pk}/")

        # when she tries a second slot beyond the station's limit
        page.goto(f"{live_server.url}/guidance/slots/{second_slot.pk}/book/")
        page.get_by_label("家长本人").check()
        page.get_by_label("想咨询的问题").fill("想再约一次")
        page.get_by_role("button", name="提交预约").click()
        page.wait_for_load_state("networkidle")

        # then it is refused in Chinese, and nothing was booked
        alert = page.get_by_role("alert").first.inner_text()
        assert "每个家庭在本站同时最多有 1 个未完成的咨询预约" in alert
        _settled(page, "refused booking")
        assert Consultation.objects.filter(family=w.mum.family).count() == 1
    finally:
        context.close()

    # the receipt row is the outbox's; it says the slot's title and time, never the need
    receipt = Delivery.objects.get(
        booking=consultation.booking,
        purpose=Delivery.Purpose.CONFIRMATION,
        channel=Delivery.Channel.INBOX,
    )
    assert receipt.status == Delivery.Status.SENT
    assert NEED not in notice.body and w.mum_child.nickname not in notice.body
    # and the 24-hour reminder row exists for the slot once it falls due
    starts = first_slot.offering.starts_at
    reminders_plan_due(now=starts - dt.timedelta(hours=24) + dt.timedelta(minutes=1))
    reminder = Delivery.objects.filter(
        booking=consultation.booking, purpose=Delivery.Purpose.REMINDER
    )
    assert reminder.exists()
    assert not Delivery.objects.filter(booking__offering=second_slot.offering).exists()


def test_the_mentors_pages_on_a_phone(live_server, browser):
    # given a booked consultation with 林老师
    w = build_station_world()
    slot = slot_for(w.psych, days=2)
    consultation = services.consultation_book(
        user=w.mum.user,
        slot_id=slot.pk,
        area="mental_health",
        for_whom="child",
        child_id=w.mum_child.pk,
        need=NEED,
    )
    context, page = signed_in_phone(browser, live_server, w.psych.user)
    try:
        # when 林老师 opens her desk, the case and publishes a new slot
        page.goto(f"{live_server.url}/guidance/desk/")
        _settled(page, "desk")
        page.get_by_role("link", name="心理健康辅导 · 林老师").first.click()
        page.wait_for_url(f"**/guidance/consultations/{consultation.pk}/")
        assert NEED in page.content()
        _settled(page, "consultation (mentor)")
        page.goto(f"{live_server.url}/guidance/desk/slots/new/")
        _settled(page, "new slot form")
        page.get_by_role("button", name="发布").click()
        page.wait_for_load_state("networkidle")
        assert "请填写开始时间" in page.get_by_role("alert").first.inner_text()
        _settled(page, "new slot form with an error")
        page.goto(f"{live_server.url}/guidance/desk/patterns/new/")
        _settled(page, "new pattern form")
        # and the public pages read well too
        for path in (
            f"/guidance/stations/{w.station.pk}/",
            f"/guidance/mentors/{w.psych.pk}/",
            "/guidance/mine/",
        ):
            page.goto(f"{live_server.url}{path}")
            _settled(page, path)
    finally:
        context.close()
