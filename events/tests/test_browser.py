"""A coordinator, as a new user would: create an event, see registrations, print the
roster, check a family in and read the delivery log. Parents' pages fit a phone."""

import datetime

import pytest
from django.utils import timezone

from bookings.models import Booking, Offering
from events.models import Event
from events.services import event_register
from members.models import RoleAssignment
from members.tests.factories import GuardianFactory, MemberUnitFactory, RoleAssignmentFactory
from tests.a11y import axe_violations
from tests.phone import fits_without_horizontal_scroll, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_coordinator_runs_an_event_from_a_phone(live_server, browser):
    # given a unit coordinator signed in on a phone
    unit = MemberUnitFactory(name="溪口中学")
    coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR, unit=unit).user
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    sign_in(context, live_server, coordinator)
    page = context.new_page()

    # when they open 活动管理 from the navigation and create an event
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="活动管理").click()
    page.get_by_role("link", name="新建活动").click()
    start = (timezone.now() + datetime.timedelta(days=2)).astimezone(
        datetime.timezone(datetime.timedelta(hours=8))
    )
    page.get_by_label("活动名称").fill("家庭教育讲座：青春期亲子沟通")
    page.get_by_label("类型").select_option("lecture")
    page.get_by_label("对象").select_option("parents")
    page.get_by_label("承办单位").select_option(str(unit.pk))
    page.get_by_label("地点").fill("溪口中学报告厅")
    page.get_by_label("开始时间（北京时间）").fill(start.strftime("%Y-%m-%dT19:00"))
    page.get_by_label("结束时间（北京时间）").fill(start.strftime("%Y-%m-%dT20:30"))
    page.get_by_label("名额（人）").fill("50")
    page.get_by_label("状态").select_option("published")
    page.get_by_role("button", name="保存").click()

    # then the event's page opens, with no registrations yet
    page.get_by_text("活动已创建").wait_for()
    event = Event.objects.get()
    assert (
        event.offering.starts_at.astimezone(
            datetime.timezone(datetime.timedelta(hours=8))
        ).strftime("%H:%M")
        == "19:00"
    )
    assert "还没有已确认的报名" in page.content()
    assert fits_without_horizontal_scroll(page)

    # when two families register and the coordinator reloads the roster
    for guardian in (GuardianFactory(), GuardianFactory()):
        event_register(
            event_id=event.pk,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
    page.reload()

    # then both are listed and printable, and the roster says check-in is not open yet
    rows = page.locator("table.roster tbody tr")
    assert rows.count() == 2
    assert page.get_by_role("button", name="打印名单").is_visible()
    assert page.get_by_text("签到和出席登记尚未开放").is_visible()
    assert rows.first.get_by_role("button", name="签到").count() == 0

    # when the event is about to start (check-in opens 30 minutes before)
    soon = timezone.now() + datetime.timedelta(minutes=10)
    Offering.objects.filter(pk=event.offering_id).update(
        starts_at=soon, ends_at=soon + datetime.timedelta(hours=1)
    )
    page.reload()

    # then one family can be checked in
    rows.first.get_by_role("button", name="签到").click()
    page.get_by_text("已签到。").wait_for()
    assert Booking.objects.filter(attendance="present").count() == 1

    # and the delivery log lists the receipts
    page.get_by_role("link", name="提醒发送记录").click()
    page.get_by_role("heading", name="提醒发送记录").wait_for()
    assert "报名回执" in page.content()
    assert axe_violations(page) == []
    context.close()


def test_parents_list_and_detail_fit_a_phone_and_pass_axe(live_server, phone_page):
    # given a published event and a signed-in parent
    from events.tests.factories import make_event

    event = make_event()
    guardian = GuardianFactory()
    sign_in(phone_page.context, live_server, guardian.user)

    # when the parent opens the list and the event on a phone and registers
    phone_page.goto(live_server.url + "/events/")
    assert fits_without_horizontal_scroll(phone_page) and axe_violations(phone_page) == []
    phone_page.get_by_role("link", name=event.title).click()
    assert fits_without_horizontal_scroll(phone_page) and axe_violations(phone_page) == []
    # (the signed-in guardian is ticked already, named without the generated username)
    me = phone_page.get_by_label("我（", exact=False)
    assert me.is_checked() and guardian.user.username not in phone_page.content()
    phone_page.get_by_role("button", name="提交报名").click()

    # then the registration is confirmed; the preferences page fits too
    phone_page.get_by_text("报名成功").first.wait_for()
    assert Booking.objects.get().status == Booking.Status.CONFIRMED
    phone_page.goto(live_server.url + "/notifications/preferences/")
    assert fits_without_horizontal_scroll(phone_page) and axe_violations(phone_page) == []
