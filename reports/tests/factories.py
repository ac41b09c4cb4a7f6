"""Factories and small builders for the reports tests."""

import datetime as dt
from zoneinfo import ZoneInfo

import factory

from bookings.models import Booking, BookingAttendee, Offering
from courses.models import Course, CourseSession
from members.tests.factories import MemberUnitFactory, RegionFactory
from parent_school.models import Instructor, ParentSchool, Target, Term

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year, month, day, hour=10, minute=0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


class TermFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Term
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"2025-2026-{n}")
    school_year = "2025–2026"
    semester = 2
    starts_on = dt.date(2026, 3, 1)
    ends_on = dt.date(2026, 6, 30)


class ParentSchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ParentSchool

    name = factory.Sequence(lambda n: f"测试家长学校{n}")
    kind = ParentSchool.Kind.SCHOOL
    host_unit = factory.SubFactory(MemberUnitFactory)
    region = factory.SubFactory(RegionFactory)


class TargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Target

    parent_school = factory.SubFactory(ParentSchoolFactory)
    term = factory.SubFactory(TermFactory)
    sessions_required = 10


class InstructorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instructor

    name = factory.Sequence(lambda n: f"讲师{n}")
    tier = Instructor.Tier.LECTURER
    unit = factory.SubFactory(MemberUnitFactory)


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    title = factory.Sequence(lambda n: f"测试课程{n}")
    audience = Course.Audience.PARENTS
    level = Course.Level.GENERAL
    mode = Course.Mode.OFFLINE
    parent_school = factory.SubFactory(ParentSchoolFactory)
    term = factory.SubFactory(TermFactory)
    is_published = True


def session_make(*, course, starts_at, hours=2.0, status=Offering.Status.OPEN, capacity=30):
    offering = Offering.objects.create(
        kind=Offering.Kind.COURSE_SESSION,
        title=course.title,
        unit=course.parent_school.host_unit,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=hours),
        capacity=capacity,
        status=status,
    )
    return CourseSession.objects.create(course=course, offering=offering, venue="多功能厅")


def event_make(*, unit, starts_at, status="published", title="家庭教育讲座"):
    from events.models import Event

    offering = Offering.objects.create(
        kind=Offering.Kind.EVENT,
        title=title,
        unit=unit,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=2),
        capacity=100,
    )
    return Event.objects.create(
        title=title,
        kind=Event.Kind.LECTURE,
        organiser_unit=unit,
        audience=Event.Audience.PARENTS,
        venue="报告厅",
        offering=offering,
        status=status,
    )


def booking_make(
    *,
    offering,
    family,
    guardian=None,
    children=(),
    status=Booking.Status.CONFIRMED,
    attendance=Booking.Attendance.UNKNOWN,
    with_guardian=True,
):
    """A booking written directly (the booking service refuses past sessions)."""
    party = (1 if with_guardian else 0) + len(children)
    booking = Booking.objects.create(
        offering=offering,
        family=family,
        booked_by=guardian.user if guardian else None,
        status=status,
        party_size=party,
        children_count=len(children),
        attendance=attendance,
    )
    attendees = []
    if with_guardian:
        attendees.append(BookingAttendee(booking=booking, guardian=guardian))
    attendees += [BookingAttendee(booking=booking, child=c, is_child=True) for c in children]
    BookingAttendee.objects.bulk_create(attendees)
    return booking
