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
    # starting in ten minutes: attendance may be marked (check-in has opened)
    session = make_session(CourseFactory(credits=1), starts_in=timedelta(minutes=10))
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


# -- moving and cancelling sessions, publishing: through the services --------------


def _notices(offering, purpose):
    """(recipient, channel) → how many rows of ``purpose`` the outbox holds."""
    from collections import Counter

    from events.models import Delivery

    return Counter(
        Delivery.objects.filter(offering=offering, purpose=purpose).values_list(
            "user_id", "channel"
        )
    )


def _booked_session(starts_in=timedelta(days=3)):
    session = make_session(CourseFactory(title="亲子阅读课"), starts_in=starts_in)
    families = [make_family(guardians=2), make_family()]
    for family, guardians, _children in families:
        booking_services.booking_create(
            offering_id=session.offering_id,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[guardians[0].pk],
        )
    recipients = {
        (guardian.user_id, channel)
        for _family, guardians, _children in families
        for guardian in guardians
        for channel in ("inbox", "email")
    }
    return session, recipients


def _session_form(session, starts, *, capacity=None, venue=None):
    starts = timezone.localtime(starts)
    ends = starts + timedelta(hours=2)
    return {
        "starts_at_0": starts.strftime("%Y-%m-%d"),
        "starts_at_1": starts.strftime("%H:%M:%S"),
        "ends_at_0": ends.strftime("%Y-%m-%d"),
        "ends_at_1": ends.strftime("%H:%M:%S"),
        "capacity": str(capacity or session.offering.capacity),
        "venue": venue or session.venue,
        "online_url": "",
    }


def test_moving_a_session_in_the_admin_tells_each_family_once_and_reminders_follow(client):
    from events.models import Delivery
    from events.reminders import reminders_plan_due

    # given a session in three days with two booked families (three guardians)
    session, recipients = _booked_session()
    old_start = session.offering.starts_at
    coordinator = coordinator_of(session.offering.unit)
    client.force_login(coordinator)
    new_start = (old_start + timedelta(days=2)).replace(second=0, microsecond=0)
    url = reverse("admin:courses_coursesession_change", args=[session.pk])

    # when the coordinator moves it in the course-session admin
    assert client.get(url).status_code == 200
    response = client.post(url, _session_form(session, new_start))

    # then the offering moved, through the service (audited, by them)
    assert response.status_code == 302, response.context and response.context["errors"]
    session.offering.refresh_from_db()
    assert session.offering.starts_at == new_start
    for action in ("bookings.offering.move", "courses.session.update"):
        assert AuditLog.objects.filter(action=action, actor=coordinator).count() == 1
    # and every guardian of the booked families is told once per channel
    told = _notices(session.offering, Delivery.Purpose.TIME_CHANGED)
    assert set(told) == recipients and set(told.values()) == {1}
    # and saving the same times again tells nobody twice
    client.post(url, _session_form(session, new_start))
    assert _notices(session.offering, Delivery.Purpose.TIME_CHANGED) == told

    # and the reminders follow the new time: nothing at the old moment …
    reminders_plan_due(now=old_start - timedelta(minutes=119))
    reminders = Delivery.objects.filter(offering=session.offering, purpose="reminder")
    assert not reminders.exists()
    # … and one per guardian and channel at the new one
    reminders_plan_due(now=new_start - timedelta(minutes=119))
    assert set(reminders.values_list("scheduled_for", flat=True)) == {
        new_start - timedelta(minutes=120)
    }
    assert set(_notices(session.offering, "reminder").values()) == {1}


def test_cancelling_sessions_in_the_admin_tells_each_family_once_and_stops_reminders(client):
    from events.models import Delivery
    from events.reminders import reminders_plan_due

    # given a booked session and the coordinator of its unit
    session, recipients = _booked_session()
    coordinator = coordinator_of(session.offering.unit)
    client.force_login(coordinator)
    changelist = reverse("admin:courses_coursesession_changelist")

    # when they cancel it with the admin action (twice, as a double click would)
    for _ in range(2):
        response = client.post(
            changelist, {"action": "cancel_sessions", "_selected_action": [session.pk]}
        )
        assert response.status_code == 302

    # then the session is cancelled through the service, audited once
    session.offering.refresh_from_db()
    assert session.offering.status == Offering.Status.CANCELLED
    assert AuditLog.objects.filter(action="courses.session.cancel", actor=coordinator).count() == 1
    assert AuditLog.objects.filter(action="bookings.offering.cancel").count() == 1
    # and each guardian is told once per channel
    told = _notices(session.offering, Delivery.Purpose.CANCELLED)
    assert set(told) == recipients and set(told.values()) == {1}
    # and no reminder is planned for it any more
    reminders_plan_due(now=session.offering.starts_at - timedelta(minutes=119))
    assert not Delivery.objects.filter(offering=session.offering, purpose="reminder").exists()
    # and its page no longer lets anyone move it
    page = client.get(reverse("admin:courses_coursesession_change", args=[session.pk]))
    assert all(f.disabled for f in page.context["adminform"].form.fields.values())


def test_a_session_that_has_started_cannot_be_moved_in_the_admin(client):
    # given a booked session that started an hour ago
    session, _recipients = _booked_session()
    start = timezone.now() - timedelta(hours=1)
    Offering.objects.filter(pk=session.offering_id).update(
        starts_at=start, ends_at=start + timedelta(hours=2)
    )
    session.offering.refresh_from_db()
    client.force_login(coordinator_of(session.offering.unit))
    url = reverse("admin:courses_coursesession_change", args=[session.pk])
    # when the form is posted with a new time and a new venue
    response = client.post(url, _session_form(session, start + timedelta(days=1), venue="新教室"))
    # then the venue changes but the time does not (the time fields are locked)
    assert response.status_code == 302
    session.refresh_from_db()
    session.offering.refresh_from_db()
    assert session.venue == "新教室"
    assert session.offering.starts_at == start


def test_another_units_session_cannot_be_cancelled_from_the_admin(client):
    # given a coordinator of one unit and a booked session of another
    session, _recipients = _booked_session()
    client.force_login(coordinator_of(ParentSchoolFactory().host_unit))
    # when they post the cancel action with that session's id
    client.post(
        reverse("admin:courses_coursesession_changelist"),
        {"action": "cancel_sessions", "_selected_action": [session.pk]},
    )
    # then nothing happened
    session.offering.refresh_from_db()
    assert session.offering.status == Offering.Status.OPEN


def test_publishing_in_the_admin_goes_through_the_service(client):
    # given an unpublished course and the coordinator of its unit
    course = CourseFactory(is_published=False)
    coordinator = coordinator_of(course.parent_school.host_unit)
    client.force_login(coordinator)
    changelist = reverse("admin:courses_course_changelist")

    # when they publish it twice with the action
    for _ in range(2):
        client.post(changelist, {"action": "publish", "_selected_action": [course.pk]})

    # then it is published, with one audit entry (the second time changed nothing)
    course.refresh_from_db()
    assert course.is_published
    assert AuditLog.objects.filter(action="courses.course.publish", actor=coordinator).count() == 1

    # when they untick 已发布 on its page
    page = client.get(reverse("admin:courses_course_change", args=[course.pk]))
    data = {
        "title": course.title,
        "summary": course.summary,
        "body": "",
        "audience": course.audience,
        "level": course.level,
        "mode": course.mode,
        "parent_school": course.parent_school_id,
        "term": course.term_id,
        "themes": [ThemeFactory().pk],
        "stages": [stage("primary").pk],
        "credits": "1.0",
        **inline_management("sessions", 0),
        **inline_management("lessons", 0),
    }
    assert page.status_code == 200
    response = client.post(reverse("admin:courses_course_change", args=[course.pk]), data)

    # then the service unpublished it and wrote its entry
    assert response.status_code == 302, response.context["adminform"].form.errors
    course.refresh_from_db()
    assert not course.is_published
    assert AuditLog.objects.filter(action="courses.course.unpublish", actor=coordinator).exists()


def test_course_publish_refuses_a_coordinator_of_another_unit():
    from courses import services
    from courses.errors import CourseError

    course = CourseFactory(is_published=False)
    outsider = coordinator_of(ParentSchoolFactory().host_unit)
    with pytest.raises(CourseError) as refused:
        services.course_publish(course_id=course.pk, published_by=outsider)
    assert refused.value.code == "course_not_editable"
    course.refresh_from_db()
    assert not course.is_published
    # the system (a command, the demo loader) publishes without an actor
    assert services.course_publish(course_id=course.pk, published_by=None) is True
    assert services.course_unpublish(course_id=course.pk, unpublished_by=None) is True
    assert services.course_unpublish(course_id=course.pk, unpublished_by=None) is False


def test_a_course_with_sessions_is_not_deleted_from_the_admin(client):
    session, _recipients = _booked_session()
    client.force_login(coordinator_of(session.offering.unit))
    url = reverse("admin:courses_course_delete", args=[session.course_id])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Course.objects.filter(pk=session.course_id).exists()
