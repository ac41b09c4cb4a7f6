"""Done-when: on a phone, parent A filters the catalogue and books the last seat,
parent B joins the waiting list, A cancels, and B is promoted and sees it in My learning."""

import pytest

from bookings import services as booking_services
from bookings.models import Booking
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, ThemeFactory, make_session
from tests.a11y import axe_violations
from tests.phone import fits_without_horizontal_scroll, signed_in_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_last_seat_waiting_list_cancel_and_promotion_on_a_phone(live_server, browser):
    # given a course with 2 places, one already taken by another family
    theme = ThemeFactory(name="亲子沟通")
    course = CourseFactory(title="亲子沟通的艺术", summary="学会倾听与表达", themes=[theme])
    CourseFactory(title="儿童营养与健康", themes=[ThemeFactory(name="健康教育")])
    session = make_session(course, capacity=2)
    make_session(CourseFactory(title="另一门课"), capacity=5)
    other, other_guardians, _ = make_family()
    booking_services.booking_create(
        offering_id=session.offering_id,
        family=other,
        booked_by=None,
        guardian_ids=[other_guardians[0].pk],
    )
    family_a, guardians_a, _ = make_family()
    family_b, guardians_b, _ = make_family()
    context_a, page_a = signed_in_phone(browser, live_server, guardians_a[0].user)
    context_b, page_b = signed_in_phone(browser, live_server, guardians_b[0].user)

    try:
        # when parent A filters the catalogue by keyword and theme
        page_a.goto(live_server.url + "/courses/")
        assert fits_without_horizontal_scroll(page_a)
        page_a.get_by_label("搜索课程").fill("沟通")  # on top, not in the folded filters
        page_a.get_by_text("更多筛选").click()
        page_a.get_by_label("主题").select_option(label="亲子沟通（1）")
        page_a.get_by_role("button", name="筛选").click()
        page_a.wait_for_load_state("networkidle")
        cards = page_a.locator(".course-card")
        assert cards.count() == 1
        assert "有空位" in cards.first.inner_text()
        assert fits_without_horizontal_scroll(page_a)
        assert axe_violations(page_a) == []

        # and books the last seat for herself
        cards.first.get_by_role("link", name="亲子沟通的艺术").click()
        page_a.wait_for_load_state("networkidle")
        assert "余 1 个名额" in page_a.content()
        assert fits_without_horizontal_scroll(page_a)
        page_a.get_by_role("button", name="报名").click()
        page_a.wait_for_load_state("networkidle")
        assert "报名成功" in page_a.content()
        assert "已满" in page_a.content()

        # then parent B can only join the waiting list
        page_b.goto(f"{live_server.url}/courses/{course.pk}/")
        page_b.get_by_role("button", name="加入候补").click()
        page_b.wait_for_load_state("networkidle")
        assert "已加入候补名单" in page_b.content()
        page_b.goto(live_server.url + "/me/")
        assert "候补第 1 位" in page_b.content()

        # when A cancels from My learning: a page asks first, then she confirms
        page_a.goto(live_server.url + "/me/")
        page_a.locator("[data-status=confirmed]").get_by_role("link", name="取消报名").click()
        page_a.wait_for_load_state("networkidle")
        assert "取消后名额将让给候补家庭" in page_a.content()
        page_a.get_by_role("button", name="确认取消报名").click()
        page_a.wait_for_load_state("networkidle")
        assert "已取消报名" in page_a.content()

        # then B is promoted and sees it in My learning
        page_b.goto(live_server.url + "/me/")
        upcoming = page_b.locator("[data-status=confirmed]")
        assert upcoming.count() == 1
        assert "亲子沟通的艺术" in upcoming.inner_text()
        assert "候补转正" in upcoming.inner_text()
        assert fits_without_horizontal_scroll(page_b)
        assert axe_violations(page_b) == []
        assert Booking.objects.get(family=family_b).status == Booking.Status.CONFIRMED
        assert Booking.objects.get(family=family_a).status == Booking.Status.CANCELLED
    finally:
        page_a.wait_for_load_state("networkidle")
        page_b.wait_for_load_state("networkidle")
        context_a.close()
        context_b.close()


def test_on_site_check_in_and_the_roster_on_phones(live_server, browser):
    from datetime import timedelta

    from django.utils import timezone

    from bookings.models import Offering
    from courses import services
    from courses.models import CreditEntry
    from members.models import RoleAssignment
    from members.tests.factories import RoleAssignmentFactory

    # given a session about to start, two booked families and an instructor of the unit
    session = make_session(CourseFactory(title="家庭教育指导", credits=1), capacity=10)
    families = []
    for _ in range(2):
        family, guardians, kids = make_family(children=1)
        booking_services.booking_create(
            offering_id=session.offering_id,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[guardians[0].pk],
            child_ids=[kids[0].pk],
        )
        families.append((family, guardians))
    starts = timezone.now() + timedelta(minutes=10)
    Offering.objects.filter(pk=session.offering_id).update(
        starts_at=starts, ends_at=starts + timedelta(hours=2)
    )
    instructor = RoleAssignmentFactory(
        role=RoleAssignment.Role.INSTRUCTOR, unit=session.offering.unit
    ).user
    staff_context, staff = signed_in_phone(browser, live_server, instructor)
    parent_context, parent = signed_in_phone(browser, live_server, families[0][1][0].user)

    try:
        # when the instructor opens the QR code on a phone
        staff.goto(f"{live_server.url}/courses/sessions/{session.pk}/checkin-code/")
        assert staff.locator(".qr-code svg").count() == 1
        assert axe_violations(staff) == []

        # and the first parent opens the scanned link and confirms
        token = services.checkin_token_make(session=session)
        parent.goto(f"{live_server.url}/checkin/{token}/")
        parent.get_by_role("button", name="确认签到").click()
        parent.wait_for_load_state("networkidle")
        assert "签到成功" in parent.content()
        assert fits_without_horizontal_scroll(parent)

        # then the roster shows that family present; the instructor marks the other in bulk
        staff.goto(f"{live_server.url}/courses/sessions/{session.pk}/roster/")
        assert staff.locator("[data-attendance=present]").count() == 1
        assert axe_violations(staff) == []
        staff.locator("[data-attendance=unknown] input[type=checkbox]").check()
        staff.get_by_role("button", name="所选标记出席").click()
        staff.wait_for_load_state("networkidle")
        assert staff.locator("[data-attendance=present]").count() == 2
        assert fits_without_horizontal_scroll(staff)

        # and each of the four people has exactly one credit
        assert CreditEntry.objects.count() == 4
        assert all(CreditEntry.objects.filter(family=f).count() == 2 for f, _ in families)
    finally:
        staff.wait_for_load_state("networkidle")
        parent.wait_for_load_state("networkidle")
        staff_context.close()
        parent_context.close()
