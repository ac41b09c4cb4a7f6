from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from bookings import services as booking_services
from bookings.errors import BookingBusy
from bookings.models import Booking
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session

pytestmark = pytest.mark.django_db


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_guardian_books_chosen_family_members(client, parent):
    # given a session and a signed-in guardian with a co-guardian and a child
    family, guardians, kids = parent
    session = make_session(CourseFactory(), capacity=5)

    # when they book themselves and the child
    response = client.post(
        reverse("courses:book", args=[session.pk]),
        {"guardian": [guardians[0].pk], "child": [kids[0].pk]},
    )

    # then two places are taken, confirmed
    assert response.status_code == 302
    booking = Booking.objects.get(family=family)
    assert booking.status == Booking.Status.CONFIRMED and booking.party_size == 2
    assert "报名成功" in messages_of(response)[0]
    detail = client.get(reverse("courses:detail", args=[session.course_id]))
    assert "您已报名（2 人）" in detail.content.decode()
    assert "余 3 个名额" in detail.content.decode()


def test_a_full_session_puts_the_family_on_the_waiting_list(client, parent):
    family, guardians, _ = parent
    session = make_session(CourseFactory(), capacity=1)
    other, other_guardians, _ = make_family()
    booking_services.booking_create(
        offering_id=session.offering_id,
        family=other,
        booked_by=None,
        guardian_ids=[other_guardians[0].pk],
    )

    response = client.post(
        reverse("courses:book", args=[session.pk]), {"guardian": [guardians[0].pk]}
    )

    assert Booking.objects.get(family=family).status == Booking.Status.WAITING
    assert "候补" in messages_of(response)[0]
    detail = client.get(reverse("courses:detail", args=[session.course_id])).content.decode()
    assert "已满" in detail and "候补 1 个家庭" in detail


def test_booking_errors_become_messages_not_errors(client, parent):
    family, guardians, _ = parent
    session = make_session(CourseFactory())

    # nobody chosen
    response = client.post(reverse("courses:book", args=[session.pk]), {"guardian": ["x"]})
    assert response.status_code == 302
    assert "请至少选择一位参加人" in messages_of(response)[0]

    # a stranger's child
    _, _, strangers = make_family(children=1)
    response = client.post(reverse("courses:book", args=[session.pk]), {"child": [strangers[0].pk]})
    assert "只能为本家庭成员报名" in messages_of(response)[-1]


def test_a_busy_lock_tells_the_family_to_try_again(client, parent, monkeypatch):
    _, guardians, _ = parent
    session = make_session(CourseFactory())

    def busy(**kwargs):
        raise BookingBusy()

    monkeypatch.setattr(booking_services, "booking_create", busy)
    response = client.post(
        reverse("courses:book", args=[session.pk]), {"guardian": [guardians[0].pk]}
    )

    assert response.status_code == 302
    assert "系统繁忙，请稍后再试" in messages_of(response)[0]


def test_cancel_own_booking_and_never_someone_elses(client, parent):
    family, guardians, _ = parent
    session = make_session(CourseFactory())
    other, other_guardians, _ = make_family()
    theirs = booking_services.booking_create(
        offering_id=session.offering_id,
        family=other,
        booked_by=None,
        guardian_ids=[other_guardians[0].pk],
    )
    mine = booking_services.booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=None,
        guardian_ids=[guardians[0].pk],
    )

    assert client.post(reverse("courses:cancel", args=[theirs.pk])).status_code == 404
    response = client.post(reverse("courses:cancel", args=[mine.pk]))
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == Booking.Status.CANCELLED
    assert theirs.status == Booking.Status.CONFIRMED


def test_cancel_after_the_deadline_is_refused_with_a_message(client, parent):
    family, guardians, _ = parent
    session = make_session(CourseFactory(), starts_in=timedelta(minutes=90))
    booking = booking_services.booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=None,
        guardian_ids=[guardians[0].pk],
    )

    response = client.post(reverse("courses:cancel", args=[booking.pk]))

    assert "已过取消截止时间" in messages_of(response)[0]
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_anonymous_visitors_browse_but_must_sign_in_to_book(client):
    session = make_session(CourseFactory(title="亲子沟通"))
    detail = client.get(reverse("courses:detail", args=[session.course_id]))
    assert detail.status_code == 200 and "登录后报名" in detail.content.decode()
    response = client.post(reverse("courses:book", args=[session.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(reverse("portal:my_learning")).status_code == 302


def test_unpublished_and_unknown_courses_are_404(client):
    course = CourseFactory(is_published=False)
    assert client.get(reverse("courses:detail", args=[course.pk])).status_code == 404
    assert client.get("/courses/999999/").status_code == 404
