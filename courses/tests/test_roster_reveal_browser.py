"""On the day, on a phone: the coordinator taps 「显示号码」 on a roster row and the
number appears in place as a tel: link (static/js/roster-reveal.js), once logged;
the roster fits the screen and passes axe, before and after (courses and events)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import services as booking_services
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from events.services import event_register
from events.tests.factories import make_event
from members.models import AuditLog, RoleAssignment
from members.selectors import PHONE_REVEAL_ACTION
from members.tests.factories import RoleAssignmentFactory
from tests.a11y import axe_violations
from tests.phone import fits_without_horizontal_scroll, signed_in_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _reveal_in_place(page, phone: str) -> None:
    masked = f"{phone[:3]}****{phone[-4:]}"
    row = page.locator("[data-contacts]", has_text=masked).first
    assert phone not in page.content()
    row.get_by_role("button", name="显示号码").click()
    link = row.locator(f'a[href="tel:{phone}"]')
    link.wait_for()
    assert link.inner_text() == phone
    # in place: the button is gone, the page did not reload, and the number has focus
    assert row.get_by_role("button", name="显示号码").count() == 0
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == f"tel:{phone}"


def test_a_coordinator_reveals_a_number_on_the_course_roster_in_place(live_server, browser):
    # given a session starting in an hour with two booked families
    session = make_session(CourseFactory(), starts_in=timedelta(hours=1))
    phones = []
    for _ in range(2):
        family, guardians, kids = make_family(children=1)
        booking_services.booking_create(
            offering_id=session.offering_id,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[guardians[0].pk],
            child_ids=[kids[0].pk],
        )
        phones.append(guardians[0].phone)
    coordinator = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=session.offering.unit
    ).user
    context, page = signed_in_phone(browser, live_server, coordinator)
    try:
        # when the coordinator opens the roster on a phone
        page.goto(f"{live_server.url}/courses/sessions/{session.pk}/roster/")
        assert fits_without_horizontal_scroll(page) and axe_violations(page) == []
        page.evaluate("() => { window.__sameDocument = true; }")

        # and taps 「显示号码」 on the first family
        _reveal_in_place(page, phones[0])

        # then it was one request in the same page, logged once; the other stays masked
        assert page.evaluate("() => window.__sameDocument") is True
        assert phones[1] not in page.content()
        assert AuditLog.objects.filter(action=PHONE_REVEAL_ACTION).count() == 1
        assert fits_without_horizontal_scroll(page) and axe_violations(page) == []
        # and a reload keeps showing it for this coordinator
        page.reload()
        assert page.locator(f'a[href="tel:{phones[0]}"]').count() == 1
    finally:
        context.close()


def test_a_coordinator_reveals_a_number_on_the_event_roster_in_place(live_server, browser):
    event = make_event(starts_at=timezone.now() + timedelta(hours=1))
    family, guardians, _kids = make_family()
    event_register(
        event_id=event.pk,
        family=family,
        booked_by=guardians[0].user,
        guardian_ids=[guardians[0].pk],
    )
    coordinator = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=event.organiser_unit
    ).user
    context, page = signed_in_phone(browser, live_server, coordinator)
    try:
        page.goto(f"{live_server.url}/events/manage/{event.pk}/")
        assert axe_violations(page) == []

        _reveal_in_place(page, guardians[0].phone)

        assert AuditLog.objects.filter(action=PHONE_REVEAL_ACTION).count() == 1
        assert axe_violations(page) == []
    finally:
        context.close()
