"""Cancelling asks first: the page says what will happen and until when cancelling is
allowed; only the confirmation (POST) cancels, through the existing services."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from bookings.models import Booking
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from events.services import event_register
from events.tests.factories import make_event
from members.formatting import when_label

from .conftest import book

pytestmark = pytest.mark.django_db


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def _status(booking) -> str:
    booking.refresh_from_db()
    return booking.status


def test_the_course_cancel_page_says_the_place_goes_to_a_waiting_family(client, week):
    # given a full session with a family waiting behind ours
    session = make_session(CourseFactory(title="热门课"), capacity=2)
    mine = book(session.offering_id, week.family, [week.mother], [week.child])
    other, other_guardians, _kids = make_family()
    theirs = book(session.offering_id, other, other_guardians)
    assert theirs.status == Booking.Status.WAITING
    client.force_login(week.mother.user)
    url = reverse("courses:cancel", args=[mine.pk])

    # when the parent taps 取消报名 (a link: GET)
    response = client.get(url, {"next": "/me/"})

    # then the page asks first, and nothing has changed yet
    body = response.content.decode()
    assert response.status_code == 200
    assert "确定取消报名吗？" in body
    assert "取消后名额将让给候补家庭" in body
    assert "目前有 1 个家庭在候补" in body
    assert "热门课" in body and "我、小明（孩子）" in body and "含孩子 1 人" in body
    deadline = mine.offering.starts_at - timedelta(hours=2)
    assert f"可在 {when_label(deadline)} 前取消" in body
    assert f'action="{url}"' in body or 'method="post"' in body
    assert _status(mine) == Booking.Status.CONFIRMED

    # when they confirm
    response = client.post(url, {"next": "/me/"})

    # then the bookings service cancelled it and promoted the waiting family
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert "已取消报名" in messages_of(response)[0]
    assert _status(mine) == Booking.Status.CANCELLED
    assert _status(theirs) == Booking.Status.CONFIRMED


def test_leaving_the_waiting_list_shows_the_position_first(client, week):
    client.force_login(week.mother.user)
    url = reverse("courses:cancel", args=[week.waiting.pk])

    body = client.get(url).content.decode()

    assert "确定退出候补吗？" in body
    assert "您现在是候补第 2 位" in body
    assert "取消后名额将让给候补家庭" not in body
    response = client.post(url)
    assert response["Location"] == reverse("portal:my_learning")
    assert "已退出候补" in messages_of(response)[0]
    assert _status(week.waiting) == Booking.Status.CANCELLED


def test_after_the_deadline_the_page_says_so_and_offers_no_button(client):
    family, guardians, _kids = make_family()
    session = make_session(CourseFactory(), starts_in=timedelta(minutes=90))
    booking = book(session.offering_id, family, guardians)
    client.force_login(guardians[0].user)

    body = client.get(reverse("courses:cancel", args=[booking.pk])).content.decode()

    assert "已过取消截止时间，如需取消请联系主办单位。" in body
    assert "确认取消报名" not in body
    assert 'method="post" class="cancel-actions"' not in body


def test_another_familys_booking_is_404_to_look_at_and_to_cancel(client, week):
    _other, other_guardians, _kids = make_family()
    client.force_login(other_guardians[0].user)
    url = reverse("courses:cancel", args=[week.course_booking.pk])

    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert _status(week.course_booking) == Booking.Status.CONFIRMED


def test_the_way_back_never_leaves_the_portal(client, week):
    client.force_login(week.mother.user)
    url = reverse("courses:cancel", args=[week.course_booking.pk])

    page = client.get(url, {"next": "https://evil.example.com/"}).content.decode()
    assert 'href="https://evil.example.com/"' not in page
    assert '<input type="hidden" name="next" value="/me/">' in page
    response = client.post(url, {"next": "//evil.example.com/"})
    assert response["Location"] == reverse("portal:my_learning")


def test_the_event_cancel_page_asks_first_and_voids_the_ticket(client, week):
    # given a full event with a family waiting
    event = make_event(title="亲子运动会", capacity=1)
    event_register(
        event_id=event.pk,
        family=week.family,
        booked_by=week.mother.user,
        guardian_ids=[week.mother.pk],
    )
    other, other_guardians, _kids = make_family()
    theirs = event_register(
        event_id=event.pk,
        family=other,
        booked_by=other_guardians[0].user,
        guardian_ids=[other_guardians[0].pk],
    )
    client.force_login(week.mother.user)
    url = reverse("events:unregister", args=[event.pk])

    # when the parent opens the cancel page from 我的学习
    body = client.get(url, {"next": "/me/"}).content.decode()

    # then it says what will happen, until when, and that the ticket stops working
    assert "取消后名额将让给候补家庭" in body
    assert "电子票将失效" in body
    deadline = event.offering.starts_at - timedelta(hours=2)
    assert f"可在 {when_label(deadline)} 前取消" in body
    assert "（不含孩子）" in body

    # and only the confirmation cancels, back to 我的学习
    response = client.post(url, {"next": "/me/"})
    assert response["Location"] == "/me/"
    assert _status(theirs) == Booking.Status.CONFIRMED


def test_an_event_the_family_is_not_registered_for_goes_back_with_a_message(client):
    event = make_event()
    _family, guardians, _kids = make_family()
    client.force_login(guardians[0].user)

    response = client.get(reverse("events:unregister", args=[event.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("events:detail", args=[event.pk])
    assert messages_of(response)


def test_course_and_event_pages_link_to_the_cancel_page_instead_of_cancelling(client, week):
    client.force_login(week.mother.user)

    course_page = client.get(reverse("courses:detail", args=[week.course.pk])).content.decode()
    event_page = client.get(reverse("events:detail", args=[week.event.pk])).content.decode()

    course_cancel = reverse("courses:cancel", args=[week.course_booking.pk])
    assert f'<a class="btn btn-secondary" href="{course_cancel}?next=' in course_page
    event_cancel = reverse("events:unregister", args=[week.event.pk])
    assert f'<a class="btn btn-secondary" href="{event_cancel}">' in event_page
