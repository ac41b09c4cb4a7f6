from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking, Offering
from bookings.tests.conftest import make_family
from courses.models import Course, CourseSession, CreditEntry
from courses.tests.factories import CourseFactory, ThemeFactory, make_session, stage
from members.models import AuditLog, RoleAssignment
from members.tests.factories import RoleAssignmentFactory, UserFactory
from parent_school.models import ParentSchool
from parent_school.tests.factories import ParentSchoolFactory, TermFactory

pytestmark = pytest.mark.django_db


def coordinator_of(unit):
    assignment = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR, unit=unit)
    user = assignment.user
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def inline_management(prefix, total, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_adding_a_course_with_a_session_inline_creates_its_offering(client):
    # given a coordinator of the parent school's host unit
    school = ParentSchoolFactory()
    user = coordinator_of(school.host_unit)
    client.force_login(user)
    term = TermFactory()
    theme = ThemeFactory(name="亲子沟通")
    starts = timezone.localtime() + timedelta(days=4)

    # when they add a course with one session in admin
    data = {
        "title": "亲子沟通工作坊",
        "summary": "",
        "body": "",
        "audience": "parents",
        "themes": [theme.pk],
        "stages": [stage("primary").pk],
        "level": "general",
        "mode": "offline",
        "parent_school": school.pk,
        "term": term.pk,
        "credits": "1.0",
        "is_published": "on",
        **inline_management("sessions", 1),
        "sessions-0-starts_at_0": starts.strftime("%Y-%m-%d"),
        "sessions-0-starts_at_1": "19:00:00",
        "sessions-0-ends_at_0": starts.strftime("%Y-%m-%d"),
        "sessions-0-ends_at_1": "20:30:00",
        "sessions-0-capacity": "30",
        "sessions-0-venue": "社区活动室",
        "sessions-0-online_url": "",
        **inline_management("lessons", 0),
    }
    assert client.get(reverse("admin:courses_course_add")).status_code == 200
    response = client.post(reverse("admin:courses_course_add"), data)

    # then the course, its session and the session's offering exist, hosted by the unit
    assert response.status_code == 302, response.content.decode()[:3000]
    course = Course.objects.get(title="亲子沟通工作坊")
    session = CourseSession.objects.get(course=course)
    assert session.offering.capacity == 30
    assert session.offering.unit == school.host_unit
    assert session.offering.kind == Offering.Kind.COURSE_SESSION
    assert AuditLog.objects.filter(action="courses.session.create").exists()

    # and raising the capacity in the inline goes through the booking service (promotes)
    session.offering.capacity = 1
    Offering.objects.filter(pk=session.offering_id).update(capacity=1)
    for _ in range(2):
        family, guardians, _ = make_family()
        booking_services.booking_create(
            offering_id=session.offering_id,
            family=family,
            booked_by=None,
            guardian_ids=[guardians[0].pk],
        )
    edit = {
        **data,
        **inline_management("sessions", 1, initial=1),
        "sessions-0-id": session.pk,
        "sessions-0-course": course.pk,
        "sessions-0-capacity": "2",
    }
    response = client.post(reverse("admin:courses_course_change", args=[course.pk]), edit)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not Booking.objects.filter(status="waiting").exists()
    assert AuditLog.objects.filter(action="bookings.offering.capacity").exists()


def test_coordinators_see_and_change_only_their_units_courses(client):
    mine = CourseFactory(title="本单位课程")
    theirs = CourseFactory(title="别的单位课程")
    client.force_login(coordinator_of(mine.parent_school.host_unit))

    changelist = client.get(reverse("admin:courses_course_changelist")).content.decode()
    assert "本单位课程" in changelist and "别的单位课程" not in changelist
    assert client.get(reverse("admin:courses_course_change", args=[mine.pk])).status_code == 200
    other = client.get(reverse("admin:courses_course_change", args=[theirs.pk]))
    assert other.status_code == 302  # "does not exist" → back to the admin index

    schools = client.get(reverse("admin:parent_school_parentschool_changelist")).content.decode()
    assert mine.parent_school.name in schools and theirs.parent_school.name not in schools
    # the unit picker offers only their own units
    form = client.get(reverse("admin:parent_school_parentschool_add")).context["adminform"].form
    assert list(form.fields["host_unit"].queryset) == [mine.parent_school.host_unit]
    assert ParentSchool.objects.count() == 2


def test_a_parent_has_no_admin(client):
    client.force_login(UserFactory())
    response = client.get(reverse("admin:courses_course_changelist"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_credit_ledger_admin_only_reverses(client):
    session = make_session(CourseFactory(credits=1))
    family, guardians, _ = make_family()
    booking = booking_services.booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=None,
        guardian_ids=[guardians[0].pk],
    )
    from courses import services

    services.session_attendance_mark(
        session=session, booking_id=booking.pk, present=True, marked_by=None
    )
    entry = CreditEntry.objects.get()
    client.force_login(coordinator_of(session.offering.unit))

    assert client.get(reverse("admin:courses_creditentry_add")).status_code == 403
    response = client.post(
        reverse("admin:courses_creditentry_changelist"),
        {"action": "reverse_entries", "_selected_action": [entry.pk]},
    )
    assert response.status_code == 302
    assert CreditEntry.objects.filter(reverses=entry, amount=-entry.amount).exists()
