"""我的学习 (/me/): course sessions and events in one list, in constant queries."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Offering
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from events.services import event_register, event_ticket_code, ticket_code
from events.tests.factories import make_event
from members.formatting import when_label
from members.tests.factories import UserFactory
from portal.selectors import _ticket_display

from .conftest import book, fill_up

pytestmark = pytest.mark.django_db

MY_LEARNING = reverse("portal:my_learning")


def test_me_is_still_the_address_of_my_learning():
    assert MY_LEARNING == "/me/"


def test_the_course_and_the_event_of_this_evening_are_both_upcoming(client, week):
    # given the family of the week, signed in
    client.force_login(week.mother.user)

    # when 我的学习 opens
    response = client.get(MY_LEARNING)

    # then the session and the event of this evening are listed together, soonest first
    body = response.content.decode()
    learning = response.context["learning"]
    assert [(i.title, i.is_event) for i in learning.upcoming] == [
        ("亲子沟通的艺术", False),
        ("家庭教育讲座：青春期亲子沟通", True),
    ]
    course_item, event_item = learning.upcoming
    # with the weekday, the place or the online link, and who of the family goes
    assert when_label(week.session.offering.starts_at) in body
    assert "周" in when_label(week.session.offering.starts_at)
    assert "溪口社区活动室" in body
    assert 'href="https://meeting.example.cn/j/123"' in body
    assert course_item.people == ["我", "小明（孩子）"]
    assert event_item.people == ["我"]
    assert "（不含孩子）" in body  # the event is for the mother alone
    # and the event's ticket code, as the event page shows it
    code = _ticket_display(event_ticket_code(booking=week.event_booking))
    assert event_item.ticket == code and code in body
    # and the course session's ticket too, which a check-in kiosk scans (no QR link:
    # the course page has none)
    course_code = _ticket_display(ticket_code(booking=week.course_booking))
    assert course_item.ticket == course_code and course_code in body


def test_waiting_places_show_their_position_and_the_past_shows_attendance_and_credits(client, week):
    client.force_login(week.mother.user)

    response = client.get(MY_LEARNING)

    body = response.content.decode()
    learning = response.context["learning"]
    assert [(i.title, i.waiting_position) for i in learning.waiting] == [("满员的课", 2)]
    assert "候补第 2 位" in body
    [past] = learning.history_items
    assert past.title == "上过的课"
    assert past.booking.attendance == "present" and past.credits == 4  # 2 people × 2
    assert "已出席" in body and "获得 4 学分" in body


def test_cancel_links_ask_first_and_come_back_to_my_learning(client, week):
    client.force_login(week.mother.user)

    body = client.get(MY_LEARNING).content.decode()

    course_cancel = reverse("courses:cancel", args=[week.course_booking.pk]) + "?next=%2Fme%2F"
    event_cancel = reverse("events:unregister", args=[week.event.pk]) + "?next=%2Fme%2F"
    assert f'href="{course_cancel}"' in body
    assert f'href="{event_cancel}"' in body
    # the deadline the bookings rules decided (2 hours before the start by default)
    deadline = week.session.offering.starts_at - timedelta(hours=2)
    assert f"可在 {when_label(deadline)} 前取消。" in body


def test_a_session_too_close_to_cancel_says_so_instead_of_a_link(client):
    family, guardians, _kids = make_family()
    session = make_session(CourseFactory(title="马上开始的课"), starts_in=timedelta(hours=1))
    booking = book(session.offering_id, family, guardians)
    client.force_login(guardians[0].user)

    body = client.get(MY_LEARNING).content.decode()

    assert reverse("courses:cancel", args=[booking.pk]) not in body
    assert "已过取消截止时间，如需取消请联系主办单位。" in body


def test_another_familys_bookings_never_appear(client, week):
    # given another family signed in, with a booking of its own
    other, other_guardians, _kids = make_family()
    book(week.session.offering_id, other, other_guardians)
    client.force_login(other_guardians[0].user)

    learning = client.get(MY_LEARNING).context["learning"]

    assert [i.title for i in learning.upcoming] == ["亲子沟通的艺术"]
    assert learning.waiting == [] and learning.history_items == []
    assert all(i.booking.family_id == other.pk for i in learning.upcoming)


def test_a_user_without_a_family_gets_a_hint(client):
    client.force_login(UserFactory())
    response = client.get(MY_LEARNING)
    assert response.status_code == 200
    assert "请先完善家庭信息" in response.content.decode()


def test_my_learning_is_private_and_needs_signing_in(client, week):
    assert client.get(MY_LEARNING)["Location"].startswith("/accounts/login/")
    client.force_login(week.mother.user)
    response = client.get(MY_LEARNING)
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]


def _many_bookings(family, guardians, kids, *, n: int):
    """``n`` upcoming sessions and ``n`` events confirmed, ``n`` waiting places and
    ``n`` past sessions, for one family."""
    for i in range(n):
        session = make_session(CourseFactory(title=f"课程{i}"), starts_in=timedelta(days=2 + i))
        book(session.offering_id, family, guardians, kids)
        event = make_event(title=f"活动{i}", starts_at=timezone.now() + timedelta(days=3 + i))
        event_register(
            event_id=event.pk,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[g.pk for g in guardians],
            child_ids=[k.pk for k in kids],
        )
        full = make_session(CourseFactory(title=f"满员{i}"), capacity=1)
        fill_up(full.offering_id)
        book(full.offering_id, family, guardians[:1])
        past = make_session(CourseFactory(title=f"旧课{i}"), starts_in=timedelta(days=1))
        book(past.offering_id, family, guardians[:1])
        Offering.objects.filter(pk=past.offering_id).update(
            starts_at=timezone.now() - timedelta(days=i + 2),
            ends_at=timezone.now() - timedelta(days=i + 2) + timedelta(hours=2),
        )


@pytest.mark.parametrize("n", [1, 12])
def test_my_learning_costs_the_same_queries_for_few_or_many_bookings(
    client, django_assert_max_num_queries, n
):
    # given a family of two guardians and two children with n of everything
    family, guardians, kids = make_family(children=2, guardians=2)
    _many_bookings(family, guardians, kids, n=n)
    client.force_login(guardians[0].user)

    # when 我的学习 opens: a fixed number of queries, whatever n
    with django_assert_max_num_queries(17):
        response = client.get(MY_LEARNING)

    learning = response.context["learning"]
    assert len(learning.upcoming) == 2 * n
    assert len(learning.waiting) == n
    assert len(learning.history_items) == n
    assert all(len(i.people) == 4 for i in learning.upcoming)
