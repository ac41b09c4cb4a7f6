"""The course page shows what the booking rules decided for each session: booking
windows, the start, and the family's cancel deadline (bookings.selectors)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Offering
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from members.formatting import when_label

pytestmark = pytest.mark.django_db


def _page(client, course) -> str:
    return client.get(reverse("courses:detail", args=[course.pk])).content.decode()


def _signed_in_family(client):
    family, guardians, _ = make_family()
    client.force_login(guardians[0].user)
    return family, guardians


def test_a_session_whose_booking_has_not_opened_says_when_it_opens(client):
    # given a session whose booking opens in two days
    course = CourseFactory()
    session = make_session(course, starts_in=timedelta(days=5))
    opens = timezone.now() + timedelta(days=2)
    Offering.objects.filter(pk=session.offering_id).update(booking_opens_at=opens)
    _signed_in_family(client)

    # when a parent opens the course page
    page = _page(client, course)

    # then no booking form, and the opening time in Beijing time
    assert reverse("courses:book", args=[session.pk]) not in page
    assert f"报名将于 {when_label(opens)} 开始。" in page  # 12月3日 周三 18:00


def test_a_session_whose_booking_has_closed_says_so(client):
    # given a session whose booking closed an hour ago (it starts in two days)
    course = CourseFactory()
    session = make_session(course, starts_in=timedelta(days=2))
    Offering.objects.filter(pk=session.offering_id).update(
        booking_closes_at=timezone.now() - timedelta(hours=1)
    )
    _signed_in_family(client)

    # then the page says booking has closed and offers no form
    page = _page(client, course)
    assert "报名已截止。" in page
    assert reverse("courses:book", args=[session.pk]) not in page


def test_an_open_session_offers_the_form_and_its_closing_time(client):
    # given an open session whose booking closes tomorrow
    course = CourseFactory()
    session = make_session(course, starts_in=timedelta(days=3))
    closes = timezone.now() + timedelta(days=1)
    Offering.objects.filter(pk=session.offering_id).update(booking_closes_at=closes)
    _signed_in_family(client)

    # then the form is there, with the deadline
    page = _page(client, course)
    assert reverse("courses:book", args=[session.pk]) in page
    assert f"报名截止：{when_label(closes)}" in page


def test_after_the_cancel_deadline_a_booked_family_sees_no_cancel_button(client):
    # given a family booked on a session that starts in an hour (deadline: 2 hours before)
    course = CourseFactory()
    session = make_session(course, starts_in=timedelta(hours=1))
    family, guardians = _signed_in_family(client)
    booking = booking_services.booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=guardians[0].user,
        guardian_ids=[guardians[0].pk],
    )

    # when the parent opens the course page and My learning
    page = _page(client, course)
    my_learning = client.get(reverse("portal:my_learning")).content.decode()

    # then both say it is too late to cancel, with no cancel form
    cancel_url = reverse("courses:cancel", args=[booking.pk])
    assert "您已报名" in page
    for shown in (page, my_learning):
        assert cancel_url not in shown
        assert "已过取消截止时间，如需取消请联系主办单位。" in shown


def test_before_the_cancel_deadline_the_page_says_until_when(client):
    # given a family booked on a session in three days
    course = CourseFactory()
    session = make_session(course, starts_in=timedelta(days=3))
    family, guardians = _signed_in_family(client)
    booking = booking_services.booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=guardians[0].user,
        guardian_ids=[guardians[0].pk],
    )

    # then the cancel form is there, with the deadline the service applies
    page = _page(client, course)
    assert reverse("courses:cancel", args=[booking.pk]) in page
    until = booking_services.cancel_deadline(session.offering)
    assert f"可在 {when_label(until)} 前取消。" in page
