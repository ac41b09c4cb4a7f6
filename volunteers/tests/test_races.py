"""Two callers at once on PostgreSQL with real threads (tests/races.py): two
approvals, two approvals of one person at two centres, two hours runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from courses.tests.factories import CourseFactory, make_session
from guidance.tests.world import build_station_world
from members.models import RoleAssignment
from members.tests.factories import UserFactory
from parent_school.models import Instructor
from parent_school.tests.factories import InstructorFactory, ParentSchoolFactory
from tests.races import run_together
from volunteers import services
from volunteers.models import ServiceHour, VolunteerApplication

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = {
    "name": "何老师",
    "background": "心理学副教授",
    "expertise": "青春期亲子沟通",
    "areas": ["mental_health"],
    "availability": "周六上午",
}


def _approve(user, application):
    return lambda: services.application_decide(
        user=user,
        application_id=application.pk,
        approve=True,
        tier="lecturer",
        serves_as="instructor",
    )


def test_two_simultaneous_approvals_make_one_instructor_and_one_role():
    assert connection.vendor == "postgresql"
    w = build_station_world()
    applicant = UserFactory()
    application = services.application_submit(user=applicant, centre_id=w.unit.pk, **FIELDS)

    outcome = run_together(
        [_approve(w.coordinator, application), _approve(w.district_admin, application)],
        meet_before_write=["volunteers_volunteerapplication"],
    )

    assert outcome.met == 2
    assert [e.code for e in outcome.errors] == ["already_decided"]
    assert Instructor.objects.filter(user=applicant).count() == 1
    assert RoleAssignment.objects.filter(user=applicant, role="instructor").count() == 1


def test_one_person_approved_at_two_centres_at_once_has_one_instructor_record():
    w = build_station_world()
    applicant = UserFactory()
    first = services.application_submit(user=applicant, centre_id=w.unit.pk, **FIELDS)
    second = services.application_submit(user=applicant, centre_id=w.other_unit.pk, **FIELDS)

    outcome = run_together(
        [_approve(w.coordinator, first), _approve(w.other_coordinator, second)],
        meet_before_write=["volunteers_volunteerapplication"],
    )

    assert outcome.errors == []
    assert Instructor.objects.filter(user=applicant).count() == 1
    assert set(
        VolunteerApplication.objects.filter(user=applicant).values_list("status", flat=True)
    ) == {"approved"}
    assert RoleAssignment.objects.filter(user=applicant, role="instructor").count() == 2


def test_two_hours_runs_at_once_leave_one_row_per_volunteer_and_offering():
    w = build_station_world()
    vol = InstructorFactory(unit=w.unit, is_volunteer=True)
    course = CourseFactory(parent_school=ParentSchoolFactory(host_unit=w.school), term=w.term)
    course.instructors.add(vol)
    sessions = [make_session(course, starts_in=-dt.timedelta(hours=h)) for h in (5, 30, 60)]
    for session in sessions:
        offering = session.offering
        offering.ends_at = offering.starts_at + dt.timedelta(hours=1)
        offering.save(update_fields=["ends_at"])

    outcome = run_together(
        [lambda: services.service_hours_record(term=w.term)] * 2,
        # the upsert starts with its WITH clause: meet just before it
        meet_before_statement=["INSERT INTO volunteers_servicehour"],
    )

    assert outcome.met == 2 and outcome.errors == []
    assert sorted(outcome.results) == [0, 3]
    assert ServiceHour.objects.count() == 3
