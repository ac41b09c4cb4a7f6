from datetime import timedelta

import pytest
from django.urls import reverse

from bookings import services as booking_services
from bookings.tests.conftest import make_family
from courses import services
from courses.tests.factories import CourseFactory, make_session
from parent_school.tests.factories import TermFactory

pytestmark = pytest.mark.django_db


def test_my_learning_shows_upcoming_waiting_history_and_credits(
    client, parent, django_assert_max_num_queries
):
    # given a family with an upcoming booking, a waiting place (2nd), a past attended session
    family, guardians, kids = parent
    upcoming = make_session(CourseFactory(title="即将上的课"))
    booking_services.booking_create(
        offering_id=upcoming.offering_id,
        family=family,
        booked_by=None,
        guardian_ids=[guardians[0].pk],
    )
    full = make_session(CourseFactory(title="满员的课"), capacity=1)
    for _ in range(2):
        other, other_guardians, _ = make_family()
        booking_services.booking_create(
            offering_id=full.offering_id,
            family=other,
            booked_by=None,
            guardian_ids=[other_guardians[0].pk],
        )
    booking_services.booking_create(
        offering_id=full.offering_id,
        family=family,
        booked_by=None,
        guardian_ids=[guardians[0].pk],
    )
    term = TermFactory(code="2026-2027-1", school_year="2026–2027")
    past_course = CourseFactory(title="上过的课", term=term, credits=2)
    past = make_session(past_course, starts_in=timedelta(minutes=1))
    attended = booking_services.booking_create(
        offering_id=past.offering_id,
        family=family,
        booked_by=None,
        guardian_ids=[guardians[0].pk],
        child_ids=[kids[0].pk],
    )
    services.session_attendance_mark(
        session=past, booking_id=attended.pk, present=True, marked_by=None
    )
    from django.utils import timezone

    from bookings.models import Offering

    Offering.objects.filter(pk=past.offering_id).update(
        starts_at=timezone.now() - timedelta(hours=3), ends_at=timezone.now() - timedelta(hours=1)
    )

    # when the parent opens My learning
    with django_assert_max_num_queries(20):
        response = client.get(reverse("courses:my_learning"))

    # then each part is there
    body = response.content.decode()
    assert response.status_code == 200
    assert [b.offering.course_session.course.title for b in response.context["upcoming"]] == [
        "即将上的课"
    ]
    waiting = response.context["waiting"]
    assert [b.waiting_position for b in waiting] == [2]
    assert "候补第 2 位" in body
    assert [b.offering.course_session.course.title for b in response.context["history"]] == [
        "上过的课"
    ]
    balances = {(str(b.term), b.member): b.total for b in response.context["balances"]}
    assert balances == {
        ("2026–2027学年第一学期", str(guardians[0].user)): 2,
        ("2026–2027学年第一学期", kids[0].nickname): 2,
    }


def test_a_user_without_a_family_gets_a_hint(client):
    from members.tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.get(reverse("courses:my_learning"))
    assert response.status_code == 200
    assert "请先完善家庭信息" in response.content.decode()
