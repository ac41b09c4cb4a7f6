"""The home page: the landing page for visitors, the family's own week after sign-in."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings.models import Offering
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from events.services import event_ticket_code
from members.formatting import when_label
from members.models import RoleAssignment
from members.tests.factories import GuardianFactory, RoleAssignmentFactory, UserFactory
from notifications.services import notification_create
from portal.selectors import _ticket_display

from .conftest import book
from .test_my_learning import _many_bookings

pytestmark = pytest.mark.django_db

HOME = reverse("portal:home")


def test_visitors_get_the_landing_page_with_one_sign_up_link(client):
    body = client.get(HOME).content.decode()
    assert "一站报名，学分可查" in body
    assert body.count(f'href="{reverse("account_signup")}"') == 1
    assert "接下来" not in body


def test_after_sign_in_the_home_page_shows_the_familys_evening(client, week):
    # given a family with a course session and an event this evening, a waiting
    # place and an unread notice
    notification_create(user=week.mother.user, title="报名成功：亲子沟通的艺术", url="/me/")
    client.force_login(week.mother.user)

    # when the home page opens
    response = client.get(HOME)

    # then it is the family's week, not the landing page
    body = response.content.decode()
    assert "一站报名，学分可查" not in body
    assert "您好，王妈妈" in body
    overview = response.context["overview"]
    assert [i.title for i in overview.upcoming] == [
        "亲子沟通的艺术",
        "家庭教育讲座：青春期亲子沟通",
    ]
    assert when_label(week.session.offering.starts_at) in body
    assert "溪口社区活动室" in body
    assert _ticket_display(event_ticket_code(booking=week.event_booking)) in body
    # the waiting position
    assert [(i.title, i.waiting_position) for i in overview.waiting] == [("满员的课", 2)]
    assert "候补第 2 位" in body
    # and the unread notice with the count
    assert "未读通知（1）" in body and "报名成功：亲子沟通的艺术" in body
    assert f'href="{reverse("portal:my_learning")}"' in body


def test_the_home_page_shows_only_the_next_three_and_links_to_all(client):
    family, guardians, kids = make_family()
    _many_bookings(family, guardians, kids, n=4)
    client.force_login(guardians[0].user)

    overview = client.get(HOME).context["overview"]

    assert len(overview.upcoming) == 3 and overview.more_upcoming
    starts = [i.offering.starts_at for i in overview.upcoming]
    assert starts == sorted(starts)


def test_the_signed_in_home_is_never_shared_by_a_cache(client, week):
    # given the signed-in home page was served
    client.force_login(week.mother.user)
    mine = client.get(HOME)

    # then it is marked private, uncacheable, and varies by cookie
    assert "private" in mine["Cache-Control"] and "no-store" in mine["Cache-Control"]
    assert "Cookie" in mine["Vary"]
    # and a visitor right after gets the landing page, nothing of the family
    anonymous = Client().get(HOME)
    body = anonymous.content.decode()
    assert "一站报名，学分可查" in body
    assert "王妈妈" not in body and "亲子沟通的艺术" not in body
    assert "Cookie" in anonymous["Vary"]


def test_a_phone_only_parent_is_greeted_by_masked_phone_never_the_username(client):
    user = UserFactory(username="u6eebf07aa0fb", phone="13812345678", display_name="", email="")
    GuardianFactory(user=user)
    client.force_login(user)

    body = client.get(HOME).content.decode()

    assert "您好，138****5678" in body
    assert "u6eebf07aa0fb" not in body


def test_someone_without_a_family_is_asked_to_set_it_up(client):
    client.force_login(UserFactory(display_name="新家长"))
    body = client.get(HOME).content.decode()
    assert "先完善家庭信息" in body
    assert f'href="{reverse("members:family")}"' in body


def test_staff_get_their_shortcuts_and_parents_do_not(client):
    parent = GuardianFactory().user
    coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR).user

    client.force_login(parent)
    as_parent = client.get(HOME).content.decode()
    client.force_login(coordinator)
    as_coordinator = client.get(HOME).content.decode()

    for url in ("courses:staff_sessions", "events:manage_list", "reports:overview"):
        assert f'href="{reverse(url)}"' not in as_parent
        assert f'href="{reverse(url)}"' in as_coordinator


@pytest.mark.parametrize("n", [1, 12])
def test_the_home_page_costs_the_same_queries_for_few_or_many_bookings(
    client, django_assert_max_num_queries, n
):
    family, guardians, kids = make_family(children=2, guardians=2)
    _many_bookings(family, guardians, kids, n=n)
    for i in range(n):
        notification_create(user=guardians[0].user, title=f"通知{i}")
    client.force_login(guardians[0].user)

    with django_assert_max_num_queries(12):
        response = client.get(HOME)

    overview = response.context["overview"]
    assert len(overview.upcoming) == min(2 * n, 3)
    assert len(overview.waiting) == min(n, 5)
    assert len(overview.unread) == min(n, 3)


def test_tonight_counts_until_it_ends(client):
    # given a session that started an hour ago and ends in an hour
    family, guardians, _kids = make_family()
    session = make_session(CourseFactory(title="正在上的课"), starts_in=timedelta(days=1))
    book(session.offering_id, family, guardians)
    Offering.objects.filter(pk=session.offering_id).update(
        starts_at=timezone.now() - timedelta(hours=1), ends_at=timezone.now() + timedelta(hours=1)
    )
    client.force_login(guardians[0].user)

    overview = client.get(HOME).context["overview"]

    assert [i.title for i in overview.upcoming] == ["正在上的课"]
