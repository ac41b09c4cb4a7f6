"""A small world for the questionnaires' tests, shared by every surveys test module
(fixtures ``world`` and ``tx_world`` in surveys/tests/conftest.py).

* a current term around today; an alliance with a school (its base unit) and a
  parent school hosted by it; another alliance with its own school;
* a course of that parent school with a session that ended three hours ago
  (``session``; ``offering`` is its Offering) and one next week (``next_session``);
* an event of the school that ended yesterday (``event_offering``);
* families: ``attended`` and ``attended2`` (present at the session; ``attended``
  has a second guardian ``second_parent``), ``absent`` (booked, marked absent),
  ``stranger`` (no booking); one guardian each, with email;
* people: ``unit_coordinator`` (the school), ``alliance_coordinator``,
  ``district_admin``, ``other_coordinator`` (a school of the other alliance);
* ``template``: a district template with version 1 from ``with_questions``.

Helpers build surveys straight from factories (no services), so tests of other
helpers do not depend on the services under test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from bookings.models import Booking, Offering
from courses.tests.factories import CourseFactory, make_session
from events.tests.factories import make_event
from members.models import Membership, RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from parent_school.tests.factories import ParentSchoolFactory, TermFactory
from surveys.models import Survey, SurveyTemplate
from surveys.tests.factories import SurveyFactory, SurveyTemplateFactory, with_questions


@dataclass
class World:
    now: dt.datetime
    today: dt.date
    term: object
    alliance: object
    school: object
    other_alliance: object
    other_school: object
    parent_school: object
    course: object
    session: object  # CourseSession, ended three hours ago
    offering: object  # its Offering
    next_session: object
    event_offering: object  # an event's Offering, ended yesterday
    attended: object  # Family
    attended_parent: object  # User
    second_parent: object  # User, a second guardian of ``attended``
    attended2: object
    attended2_parent: object
    absent: object
    absent_parent: object
    stranger: object
    stranger_parent: object
    unit_coordinator: object
    alliance_coordinator: object
    district_admin: object
    other_coordinator: object
    template: object
    version: object


def current_term(today=None):
    today = today or timezone.localdate()
    return TermFactory(
        code="surveys-test",
        school_year="2026–2027",
        starts_on=today - dt.timedelta(days=60),
        ends_on=today + dt.timedelta(days=60),
        is_current=True,
    )


def family_with_parent(unit, name: str):
    """A family with one guardian (email and phone) and a child at ``unit``."""
    guardian = GuardianFactory(user=UserFactory(display_name=name))
    ChildFactory(family=guardian.family, school=unit, nickname=f"{name}的孩子")
    return guardian.family, guardian.user


def attend(family, offering, *, attendance=Booking.Attendance.PRESENT, status=None) -> Booking:
    """A confirmed booking of ``family`` on ``offering`` with ``attendance``."""
    return Booking.objects.create(
        offering=offering,
        family=family,
        status=status or Booking.Status.CONFIRMED,
        party_size=1,
        attendance=attendance,
        confirmed_at=offering.starts_at - dt.timedelta(days=1),
    )


def ended_session(course, *, hours_ago: float = 3, duration_hours: int = 2):
    """A session of ``course`` that ended ``hours_ago`` hours ago."""
    session = make_session(course, starts_in=dt.timedelta(days=3))
    ends_at = timezone.now() - dt.timedelta(hours=hours_ago)
    Offering.objects.filter(pk=session.offering_id).update(
        starts_at=ends_at - dt.timedelta(hours=duration_hours), ends_at=ends_at
    )
    session.offering.refresh_from_db()
    return session


def build_world() -> World:
    now = timezone.now()
    today = timezone.localdate()
    term = current_term(today)
    alliance = AllianceFactory(name="城东协同育人联盟")
    school = MemberUnitFactory(name="城东第一小学")
    MembershipFactory(alliance=alliance, unit=school, role=Membership.Role.BASE)
    other_alliance = AllianceFactory(name="城西协同育人联盟")
    other_school = MemberUnitFactory(name="城西第一小学")
    MembershipFactory(alliance=other_alliance, unit=other_school, role=Membership.Role.BASE)
    parent_school = ParentSchoolFactory(name="城东第一小学家长学校", host_unit=school)
    course = CourseFactory(title="亲子沟通", parent_school=parent_school, term=term)
    session = ended_session(course)
    next_session = make_session(course, starts_in=dt.timedelta(days=7))
    event = make_event(title="家庭教育讲座", organiser_unit=school)
    event_end = now - dt.timedelta(days=1)
    Offering.objects.filter(pk=event.offering_id).update(
        starts_at=event_end - dt.timedelta(hours=2), ends_at=event_end
    )
    event_offering = Offering.objects.get(pk=event.offering_id)

    attended, attended_parent = family_with_parent(school, "王芳")
    second_parent = GuardianFactory(family=attended, user=UserFactory(display_name="王强")).user
    attended2, attended2_parent = family_with_parent(school, "李娜")
    absent, absent_parent = family_with_parent(school, "张伟")
    stranger, stranger_parent = family_with_parent(other_school, "赵敏")
    attend(attended, session.offering)
    attend(attended2, session.offering)
    attend(absent, session.offering, attendance=Booking.Attendance.ABSENT)

    unit_coordinator = RoleAssignmentFactory(
        unit=school, role=RoleAssignment.Role.UNIT_COORDINATOR
    ).user
    alliance_coordinator = RoleAssignmentFactory(
        role=RoleAssignment.Role.ALLIANCE_COORDINATOR, alliance=alliance, unit=None
    ).user
    district_admin = RoleAssignmentFactory(
        role=RoleAssignment.Role.CITY_ADMIN, alliance=None, unit=None
    ).user
    other_coordinator = RoleAssignmentFactory(
        unit=other_school, role=RoleAssignment.Role.UNIT_COORDINATOR
    ).user
    template = SurveyTemplateFactory(name="课后满意度调查")
    version = with_questions(template)
    return World(
        now=now,
        today=today,
        term=term,
        alliance=alliance,
        school=school,
        other_alliance=other_alliance,
        other_school=other_school,
        parent_school=parent_school,
        course=course,
        session=session,
        offering=session.offering,
        next_session=next_session,
        event_offering=event_offering,
        attended=attended,
        attended_parent=attended_parent,
        second_parent=second_parent,
        attended2=attended2,
        attended2_parent=attended2_parent,
        absent=absent,
        absent_parent=absent_parent,
        stranger=stranger,
        stranger_parent=stranger_parent,
        unit_coordinator=unit_coordinator,
        alliance_coordinator=alliance_coordinator,
        district_admin=district_admin,
        other_coordinator=other_coordinator,
        template=template,
        version=version,
    )


def _template_for(world: World, **target) -> SurveyTemplate:
    """``world.template``, or — when it already has a survey on this target (a
    template is attached once per target) — a new template with the same questions."""
    if not Survey.objects.filter(template=world.template, **target).exists():
        return world.template
    return with_questions().template


def session_survey(world: World, *, offering=None, **fields) -> Survey:
    """A published session survey of ``world.session`` (or ``offering``), open now
    (default window: from the end of the session for a week), straight from the
    factory. ``is_anonymous=True`` for an anonymous one."""
    offering = offering or world.offering
    fields.setdefault("opens_at", offering.ends_at)
    fields.setdefault("closes_at", offering.ends_at + dt.timedelta(days=7))
    template = fields.pop("template", None) or _template_for(
        world, offering=offering, series__isnull=True
    )
    return SurveyFactory(
        template=template,
        title=fields.pop("title", f"{offering.title}课后问卷"),
        scope=Survey.Scope.EVENT if offering.kind == Offering.Kind.EVENT else Survey.Scope.SESSION,
        offering=offering,
        parent_school=None,
        term=world.term,
        unit=offering.unit,
        **fields,
    )


def term_survey(world: World, **fields) -> Survey:
    """A published parent-school term survey of ``world.parent_school``, open now."""
    template = fields.pop("template", None) or _template_for(
        world, parent_school=world.parent_school, term=fields.get("term", world.term)
    )
    return SurveyFactory(
        template=template,
        title=fields.pop("title", "本学期家长学校满意度调查"),
        scope=Survey.Scope.PARENT_SCHOOL_TERM,
        parent_school=world.parent_school,
        term=world.term,
        unit=world.school,
        **fields,
    )


ANSWERS = {
    "satisfaction": 5,
    "recommend": 9,
    "format": 1,
    "topics": [0, 2],
    "suggestion": "希望多安排周末的场次",
}
"""A complete, valid answer sheet for ``with_questions`` (why_low hidden)."""
