"""三师联动: courses.services.course_reviewer_assign — experts only, courses of the
user's units only, audit-logged, None clears."""

from __future__ import annotations

import pytest

from courses.errors import CourseError
from courses.services import course_reviewer_assign
from courses.tests.factories import CourseFactory
from members.models import AuditLog
from parent_school.tests.factories import InstructorFactory, ParentSchoolFactory

pytestmark = pytest.mark.django_db


def _course(world):
    return CourseFactory(parent_school=ParentSchoolFactory(host_unit=world.unit))


def test_an_expert_is_assigned_audited_and_cleared(station_world):
    w = station_world
    course = _course(w)
    expert = InstructorFactory(tier="expert", unit=w.unit)
    course_reviewer_assign(user=w.coordinator, course_id=course.pk, instructor_id=expert.pk)
    course.refresh_from_db()
    assert course.reviewer == expert
    entry = AuditLog.objects.get(action="courses.course.reviewer_assign")
    assert entry.data == {"reviewer": expert.pk, "previous": None}

    course_reviewer_assign(user=w.coordinator, course_id=course.pk, instructor_id=None)
    course.refresh_from_db()
    assert course.reviewer is None


@pytest.mark.parametrize("tier", ["research", "lecturer"])
def test_only_the_expert_tier_may_review(station_world, tier):
    w = station_world
    course = _course(w)
    other = InstructorFactory(tier=tier, unit=w.unit)
    with pytest.raises(CourseError) as caught:
        course_reviewer_assign(user=w.coordinator, course_id=course.pk, instructor_id=other.pk)
    assert caught.value.code == "reviewer_not_expert"
    course.refresh_from_db()
    assert course.reviewer is None


def test_a_course_or_an_expert_outside_the_users_reach_is_refused(station_world):
    w = station_world
    course = _course(w)
    expert = InstructorFactory(tier="expert", unit=w.unit)
    with pytest.raises(CourseError) as caught:
        course_reviewer_assign(
            user=w.other_coordinator, course_id=course.pk, instructor_id=expert.pk
        )
    assert caught.value.code == "course_missing"
    # another unit's staff expert (not a corps volunteer) is not hers to name
    hidden = InstructorFactory(tier="expert", unit=w.other_unit, is_volunteer=False)
    with pytest.raises(CourseError) as caught:
        course_reviewer_assign(user=w.coordinator, course_id=course.pk, instructor_id=hidden.pk)
    assert caught.value.code == "reviewer_missing"
