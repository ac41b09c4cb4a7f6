"""The volunteer pages: the form with field errors in Chinese, her record, the
coordinators' queues and decisions, 三师联动 reviews; foreign ids are 404; lists
are paginated with constant queries."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from courses.tests.factories import CourseFactory
from members.tests.factories import UserFactory
from parent_school.tests.factories import InstructorFactory, ParentSchoolFactory
from volunteers.models import ServiceHour, VolunteerApplication
from volunteers.tests.factories import ServiceHourFactory, VolunteerApplicationFactory

pytestmark = pytest.mark.django_db


def test_the_form_shows_chinese_field_errors_and_writes_nothing(client, station_world):
    client.force_login(UserFactory())
    response = client.post(
        reverse("volunteers:apply"),
        {"centre": station_world.unit.pk, "name": "", "areas": [], "availability": "周末"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "请填写姓名。" in page and "请至少选择一个指导领域。" in page
    assert "请简单介绍您的专业背景。" in page
    assert "<fieldset" in page and "<legend>指导领域" in page
    assert not VolunteerApplication.objects.exists()


def test_a_refused_application_shows_the_services_message_on_its_field(client, station_world):
    user = UserFactory()
    VolunteerApplicationFactory(user=user, centre=station_world.unit)
    client.force_login(user)
    response = client.post(
        reverse("volunteers:apply"),
        {
            "centre": station_world.unit.pk,
            "name": "何老师",
            "background": "教师",
            "expertise": "阅读",
            "areas": ["family_education"],
            "availability": "周末",
        },
    )
    assert response.status_code == 200
    assert "正在等待审核" in response.content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("volunteers:apply"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_only_coordinators_reach_the_queues(client, station_world):
    client.force_login(UserFactory())
    for name in ("volunteers:queue", "volunteers:hours_queue", "volunteers:reviews"):
        assert client.get(reverse(name)).status_code == 403


def test_another_centres_application_is_a_404(client, station_world):
    w = station_world
    application = VolunteerApplicationFactory(centre=w.unit)
    client.force_login(w.other_coordinator)
    url = reverse("volunteers:decide", args=[application.pk])
    assert client.get(url).status_code == 404
    response = client.post(url, {"decision": "decline"})
    assert response.status_code == 404
    application.refresh_from_db()
    assert application.status == VolunteerApplication.Status.SUBMITTED


def test_the_decision_form_names_the_missing_tier(client, station_world):
    w = station_world
    application = VolunteerApplicationFactory(centre=w.unit)
    client.force_login(w.coordinator)
    response = client.post(
        reverse("volunteers:decide", args=[application.pk]),
        {"decision": "approve", "tier": "", "serves_as": "instructor"},
    )
    assert response.status_code == 200
    assert "请为这位志愿者选择层级" in response.content.decode()


def test_the_application_queue_is_paginated_with_constant_queries(
    client, station_world, django_assert_max_num_queries
):
    w = station_world
    VolunteerApplicationFactory.create_batch(3, centre=w.unit)
    client.force_login(w.coordinator)
    with django_assert_max_num_queries(12) as few:
        assert client.get(reverse("volunteers:queue")).status_code == 200
    VolunteerApplicationFactory.create_batch(30, centre=w.unit)
    VolunteerApplicationFactory.create_batch(2, centre=w.other_unit)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("volunteers:queue"))
    assert response.context["page_obj"].paginator.count == 33
    assert "第 1 / 2 页" in response.content.decode()


def test_her_record_and_the_hours_queue_with_constant_queries(
    client, station_world, django_assert_max_num_queries
):
    w = station_world
    vol = InstructorFactory(user=UserFactory(), unit=w.unit, is_volunteer=True, tier="expert")
    ServiceHourFactory(instructor=vol, term=w.term, unit=w.unit)
    client.force_login(vol.user)
    with django_assert_max_num_queries(15) as few:
        page = client.get(reverse("volunteers:mine"))
    assert "专家" in page.content.decode() and "data-print" in page.content.decode()
    ServiceHourFactory.create_batch(
        30, instructor=vol, term=w.term, unit=w.unit, status=ServiceHour.Status.RECORDED
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("volunteers:mine"))
    assert "合计 60.0 小时" in page.content.decode()
    assert "另有 1 条手工登记" in page.content.decode()

    client.force_login(w.coordinator)
    with django_assert_max_num_queries(12) as few:
        assert client.get(reverse("volunteers:hours_queue")).status_code == 200
    ServiceHourFactory.create_batch(25, instructor=vol, term=w.term, unit=w.unit)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("volunteers:hours_queue"))
    assert response.context["page_obj"].paginator.count == 26


def test_hours_entered_and_verified_through_the_pages(client, station_world):
    w = station_world
    vol = InstructorFactory(user=UserFactory(), unit=w.unit, is_volunteer=True)
    client.force_login(vol.user)
    response = client.post(
        reverse("volunteers:hours_new"),
        {
            "instructor": vol.pk,
            "served_on": timezone.localdate().isoformat(),
            "hours": "0.3",
            "description": "社区讲座",
        },
    )
    assert "以半小时为单位" in response.content.decode()
    response = client.post(
        reverse("volunteers:hours_new"),
        {
            "instructor": vol.pk,
            "served_on": timezone.localdate().isoformat(),
            "hours": "1.5",
            "description": "社区讲座",
        },
    )
    assert response.status_code == 302
    entry = ServiceHour.objects.get()

    client.force_login(w.other_coordinator)
    url = reverse("volunteers:hours_decide", args=[entry.pk])
    assert client.post(url, {"verify": "yes"}).status_code == 404
    client.force_login(w.coordinator)
    assert client.post(url, {"verify": "yes"}).status_code == 302
    entry.refresh_from_db()
    assert entry.status == ServiceHour.Status.VERIFIED


def test_reviews_assign_an_expert_and_the_course_page_shows_it(client, station_world):
    w = station_world
    school = ParentSchoolFactory(host_unit=w.unit)
    lecturer = InstructorFactory(unit=w.unit, tier="lecturer", is_volunteer=True)
    course = CourseFactory(parent_school=school, term=w.term, title="家庭教育入门")
    course.instructors.add(lecturer)
    expert = InstructorFactory(name="王教授", unit=w.other_unit, tier="expert", is_volunteer=True)
    client.force_login(w.coordinator)
    page = client.get(reverse("volunteers:reviews")).content.decode()
    assert "家庭教育入门" in page and "王教授" in page

    response = client.post(
        reverse("volunteers:reviews"), {"course": course.pk, "reviewer": expert.pk}
    )
    assert response.status_code == 302
    detail = client.get(reverse("courses:detail", args=[course.pk])).content.decode()
    assert "审阅专家：王教授" in detail

    # a lecturer is refused with a message; another unit's course is a 404
    response = client.post(
        reverse("volunteers:reviews"), {"course": course.pk, "reviewer": lecturer.pk}, follow=True
    )
    assert "只有「专家」层级" in response.content.decode()
    foreign = CourseFactory(parent_school=ParentSchoolFactory(host_unit=w.other_unit))
    response = client.post(
        reverse("volunteers:reviews"), {"course": foreign.pk, "reviewer": expert.pk}
    )
    assert response.status_code == 404
