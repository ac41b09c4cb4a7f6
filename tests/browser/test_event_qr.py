"""Done when: every check-in QR code can be read off the screen as it is shown.

The coordinator's event QR (on a phone and on a desktop) and a family's ticket
QR are screenshotted in Debian's Chromium exactly as the page draws them and
decoded with a real reader (zxing-cpp). The decoded text must be the link the
server issued, and following it must check the family in. Each page is checked
with axe-core (WCAG 2.1 AA) and, on a phone, for horizontal scroll.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import zxingcpp
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from bookings.models import Booking
from bookings.services import booking_create
from events import services
from events.tests.factories import make_event
from members.models import RoleAssignment
from members.tests.factories import GuardianFactory, RoleAssignmentFactory
from tests.a11y import axe_violations
from tests.phone import PHONE, fits_without_horizontal_scroll, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {
    "viewport": {"width": 1366, "height": 768},
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}


def signed_in(browser, live_server, user, device):
    context = browser.new_context(**device)
    sign_in(context, live_server, user)
    return context, context.new_page()


def decode_shown(page, selector: str) -> str:
    """Screenshot the element as drawn and read the one QR code in it."""
    box = page.locator(selector)
    box.scroll_into_view_if_needed()
    image = Image.open(io.BytesIO(box.screenshot()))
    # QR codes only: the reader can also take a run of a QR's modules for a 1-D
    # (ITF) barcode, which is not on the page.
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.format for r in found] == [zxingcpp.BarcodeFormat.QRCode], selector
    return found[0].text


def shown_whole(page, selector: str) -> None:
    """The code is square, inside the viewport, and not cut by its box."""
    geometry = page.evaluate(
        """(sel) => {
            const svg = document.querySelector(sel + ' svg');
            const r = svg.getBoundingClientRect();
            const p = svg.parentElement.getBoundingClientRect();
            return {w: r.width, h: r.height, left: r.left, right: r.right,
                    pw: p.width, ph: p.height, vw: document.documentElement.clientWidth};
        }""",
        selector,
    )
    assert abs(geometry["w"] - geometry["h"]) < 1, geometry
    assert geometry["left"] >= 0 and geometry["right"] <= geometry["vw"], geometry
    assert geometry["w"] <= geometry["pw"] + 0.5 and geometry["h"] <= geometry["ph"] + 0.5, geometry
    assert geometry["w"] >= 200, geometry  # big enough to scan from a phone


def register(event):
    guardian = GuardianFactory()
    booking = booking_create(
        offering_id=event.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    return guardian, booking


def test_event_qr_and_family_ticket_are_read_off_the_screen_and_check_in(live_server, browser):
    # given an event starting in ten minutes (check-in is open) with two registered families
    event = make_event(
        title="家庭教育讲座：如何陪伴孩子度过青春期",
        starts_at=timezone.now() + timedelta(minutes=10),
    )
    scanner, scanner_booking = register(event)
    holder, holder_booking = register(event)
    coordinator = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=event.organiser_unit
    ).user
    qr_path = reverse("events:manage_qr", args=[event.pk])
    contexts = []

    try:
        # when the coordinator shows the event's QR on a desktop screen and on a phone
        issued = []
        for device in (DESKTOP, PHONE):
            context, staff = signed_in(browser, live_server, coordinator, device)
            contexts.append(context)
            staff.goto(live_server.url + qr_path)
            shown_whole(staff, "#qr")
            decoded = decode_shown(staff, "#qr")
            # then the reader gets exactly the link the page issued, a valid code of this event
            assert decoded == staff.locator(".qr-url").inner_text().strip()
            assert decoded.startswith(f"{live_server.url}/events/{event.pk}/checkin/")
            services.event_checkin_code_check(
                event=event, code=decoded.rstrip("/").rsplit("/", 1)[1]
            )
            assert fits_without_horizontal_scroll(staff)
            assert axe_violations(staff) == []
            issued.append(decoded)

        # and a guardian who scanned it checks the family in from the link
        context, parent = signed_in(browser, live_server, scanner.user, PHONE)
        contexts.append(context)
        parent.goto(issued[1])
        assert axe_violations(parent) == []
        parent.get_by_role("button", name="为我的家庭签到").click()
        parent.wait_for_load_state("networkidle")
        assert "签到成功" in parent.content()
        scanner_booking.refresh_from_db()
        assert scanner_booking.attendance == Booking.Attendance.PRESENT

        # when the other family opens its booking page on a phone
        context, family = signed_in(browser, live_server, holder.user, PHONE)
        contexts.append(context)
        family.goto(f"{live_server.url}/events/{event.pk}/")
        shown_whole(family, "#ticket-qr")
        ticket_link = decode_shown(family, "#ticket-qr")
        code = services.event_ticket_code(booking=holder_booking)

        # then its ticket QR reads as the staff check-in link for its own code
        assert ticket_link == (
            f"{live_server.url}{reverse('events:manage_ticket', args=[event.pk])}?code={code}"
        )
        shown_code = family.locator(".ticket-code").inner_text()
        assert shown_code.replace(" ", "") == code
        assert fits_without_horizontal_scroll(family)
        assert axe_violations(family) == []

        # and staff at the door who scan it confirm, and the family is checked in
        staff = contexts[1].pages[0]
        staff.goto(ticket_link)
        assert axe_violations(staff) == []
        staff.get_by_role("button", name="确认签到").click()
        staff.wait_for_load_state("networkidle")
        assert "已签到：" in staff.content()
        holder_booking.refresh_from_db()
        assert holder_booking.attendance == Booking.Attendance.PRESENT
        # the roster with its ticket box is accessible too
        assert staff.locator("#ticket-code").count() == 1
        assert fits_without_horizontal_scroll(staff)
        assert axe_violations(staff) == []
    finally:
        for context in contexts:
            for page in context.pages:
                page.wait_for_load_state("networkidle")
            context.close()


def test_a_ticket_typed_on_the_roster_checks_the_family_in(live_server, browser):
    # given an event about to start, a registered family and its coordinator on a phone
    event = make_event(starts_at=timezone.now() + timedelta(minutes=5))
    _guardian, booking = register(event)
    coordinator = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=event.organiser_unit
    ).user
    context, staff = signed_in(browser, live_server, coordinator, PHONE)
    code = services.event_ticket_code(booking=booking)

    try:
        # when the number read out by the parent is typed into the roster's ticket box
        staff.goto(f"{live_server.url}{reverse('events:manage_detail', args=[event.pk])}")
        staff.get_by_label("票号（扫码枪扫描或手动输入）").fill(f"{code[:-8]} {code[-8:]}")
        staff.get_by_role("button", name="凭票签到").click()
        staff.wait_for_load_state("networkidle")

        # then the roster says so and the family is present
        assert "已签到：" in staff.content()
        booking.refresh_from_db()
        assert booking.attendance == Booking.Attendance.PRESENT

        # and a ticket of nothing is refused in Chinese
        staff.get_by_label("票号（扫码枪扫描或手动输入）").fill("12345678901")
        staff.get_by_role("button", name="凭票签到").click()
        staff.wait_for_load_state("networkidle")
        assert "票号无效" in staff.content()
        assert axe_violations(staff) == []
    finally:
        staff.wait_for_load_state("networkidle")
        context.close()
