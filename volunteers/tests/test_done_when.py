"""Done when #3 of issue 17: a volunteer applies, is approved as 讲师, leads a
session, and sees the hours on her record.

Through the pages (apply, the coordinator's decision, her record) and the
portal's own services for the session: the centre's parent school schedules a
session of her course, a family books it, she marks attendance when it is held
(the clock moved with members.demo.demo_clock, as the demo replays its history),
and the nightly task records her hours."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.services import booking_create
from courses.services import course_session_create, session_attendance_mark
from courses.tests.factories import CourseFactory
from members.demo import demo_clock
from members.tests.factories import UserFactory
from parent_school.models import Instructor
from parent_school.tests.factories import ParentSchoolFactory
from volunteers import tasks
from volunteers.models import ServiceHour, VolunteerApplication

pytestmark = pytest.mark.django_db


def test_she_applies_is_approved_as_lecturer_leads_a_session_and_sees_her_hours(
    client, station_world
):
    w = station_world
    she = UserFactory(display_name="何晓红")

    # she applies on the page
    client.force_login(she)
    response = client.post(
        reverse("volunteers:apply"),
        {
            "centre": w.unit.pk,
            "name": "何晓红",
            "background": "小学语文教师，家庭教育指导师。",
            "expertise": "亲子阅读",
            "areas": ["family_education"],
            "availability": "周六下午",
        },
    )
    assert response.status_code == 302
    application = VolunteerApplication.objects.get(user=she)

    # the centre's coordinator approves her as 讲师
    client.force_login(w.coordinator)
    response = client.post(
        reverse("volunteers:decide", args=[application.pk]),
        {"decision": "approve", "tier": "lecturer", "serves_as": "instructor", "note": ""},
    )
    assert response.status_code == 302
    instructor = Instructor.objects.get(user=she)
    assert (instructor.tier, instructor.is_volunteer) == ("lecturer", True)

    # she is the instructor of the centre's course; a session three days ago
    school = ParentSchoolFactory(host_unit=w.unit, name="海天舒家长课堂")
    course = CourseFactory(parent_school=school, term=w.term, title="亲子共读的十个方法")
    course.instructors.add(instructor)
    starts_at = timezone.now() - dt.timedelta(days=3)
    session = course_session_create(
        course=course,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=90),
        capacity=20,
        venue="指导站活动室",
        created_by=w.coordinator,
    )
    # a family booked the day before, and she marked them present at the session
    with demo_clock(starts_at - dt.timedelta(days=1)):
        booking = booking_create(
            offering_id=session.offering_id,
            family=w.mum.family,
            booked_by=w.mum.user,
            guardian_ids=[w.mum.pk],
        )
    with demo_clock(starts_at + dt.timedelta(minutes=15)):
        session_attendance_mark(session=session, booking_id=booking.pk, present=True, marked_by=she)

    # the nightly task records her hours
    tasks.hours_record()
    row = ServiceHour.objects.get(instructor=instructor)
    assert (row.source, row.hours, row.status) == ("session", 1.5, "recorded")

    # and she sees them on her record
    client.force_login(she)
    page = client.get(reverse("volunteers:mine")).content.decode()
    assert "讲师" in page
    assert "亲子共读的十个方法" in page
    assert "合计 1.5 小时" in page
    assert "课程授课" in page
