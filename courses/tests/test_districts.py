"""Multi-district scoping of courses (issue 19): a district administrator runs
their district's courses and sessions (admin, the staff sessions page, the
roster) and meets nothing of another district; the city administrator sees
both. Themes and stages are city-wide reference data: the city's to edit."""

import pytest
from django.urls import reverse

from courses.models import Theme
from courses.tests.factories import CourseFactory, make_session
from members.tests.districts import two_districts
from parent_school.tests.factories import ParentSchoolFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = two_districts()
    w.course_a = CourseFactory(
        title="渝中亲子沟通课", parent_school=ParentSchoolFactory(host_unit=w.a.unit)
    )
    w.course_b = CourseFactory(
        title="乙方亲子沟通课", parent_school=ParentSchoolFactory(host_unit=w.b.unit)
    )
    w.session_a = make_session(w.course_a)
    w.session_b = make_session(w.course_b)
    return w


def test_a_district_admin_manages_their_districts_courses_in_the_admin(client, world):
    client.force_login(world.a.admin)
    listing = client.get(reverse("admin:courses_course_changelist"))
    assert listing.status_code == 200
    assert {c.title for c in listing.context["cl"].result_list} == {"渝中亲子沟通课"}
    change = client.get(reverse("admin:courses_course_change", args=[world.course_a.pk]))
    assert change.status_code == 200
    assert change.context["has_change_permission"]
    other = client.get(reverse("admin:courses_course_change", args=[world.course_b.pk]))
    assert other.status_code == 302  # "does not exist", like a wrong id
    sessions = client.get(reverse("admin:courses_coursesession_changelist"))
    assert {s.pk for s in sessions.context["cl"].result_list} == {world.session_a.pk}

    client.force_login(world.city_admin)
    listing = client.get(reverse("admin:courses_course_changelist"))
    assert {c.title for c in listing.context["cl"].result_list} == {
        "渝中亲子沟通课",
        "乙方亲子沟通课",
    }


def test_the_staff_sessions_page_and_rosters_are_the_districts(client, world):
    client.force_login(world.a.admin)
    page = client.get(reverse("courses:staff_sessions"))
    assert page.status_code == 200
    assert [s.pk for s in page.context["page_obj"]] == [world.session_a.pk]
    assert client.get(reverse("courses:roster", args=[world.session_a.pk])).status_code == 200
    assert client.get(reverse("courses:roster", args=[world.session_b.pk])).status_code == 404

    client.force_login(world.city_admin)
    page = client.get(reverse("courses:staff_sessions"))
    assert {s.pk for s in page.context["page_obj"]} == {world.session_a.pk, world.session_b.pk}


def test_themes_are_the_citys_to_edit(client, world):
    theme = Theme.objects.create(name="亲子沟通", sort_order=1)
    change = reverse("admin:courses_theme_change", args=[theme.pk])
    client.force_login(world.a.admin)
    # a district admin looks (their courses are filed under them) but does not edit
    assert client.get(reverse("admin:courses_theme_changelist")).status_code == 200
    assert client.get(reverse("admin:courses_theme_add")).status_code == 403
    client.post(change, {"name": "改掉", "sort_order": 1})
    theme.refresh_from_db()
    assert theme.name == "亲子沟通"
    assert client.get(reverse("admin:courses_stage_add")).status_code == 403

    client.force_login(world.city_admin)
    assert client.get(reverse("admin:courses_theme_add")).status_code == 200
    response = client.post(change, {"name": "亲子沟通与陪伴", "sort_order": 1})
    assert response.status_code == 302
    theme.refresh_from_db()
    assert theme.name == "亲子沟通与陪伴"
