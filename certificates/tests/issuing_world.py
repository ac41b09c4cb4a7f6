"""A world for the issuing tests (helper C's: eligibility, issue, batches, revoke,
staff pages, admin, worker; others may import ``build_issuing_world``).

- 镇海区家校社协同育人联盟 with its base 镇海区家庭教育指导中心 and a member school
  蛟川书院, whose parent school gives 「亲子沟通的艺术」 (2 credits) in a term that
  ended three days ago: two sessions, both ended, and one online lesson that
  plays on the portal;
- families: 张晓华 (张妈妈, child 小雨点) and 李建国 (李爸爸, child 小石头), with
  verified phones; nothing attended yet (``attend``, ``finish_lessons``, ``credit``);
- another alliance (渝中) with its own school and a course there;
- people: the alliance's coordinator 周主任, the school's unit coordinator 吴老师,
  the other alliance's coordinator 钱主任, a district administrator, each staff.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from bookings.models import Booking
from courses.models import CreditEntry, LessonProgress, OnlineLesson
from courses.tests.factories import CourseFactory, make_session
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
from parent_school.models import Term
from parent_school.tests.factories import ParentSchoolFactory, TermFactory

_counter = itertools.count(1)


@dataclass
class IssuingWorld:
    term: object
    alliance: object
    base: object  # MemberUnit, the alliance's base
    school: object  # MemberUnit, a member hosting the parent school
    parent_school: object
    course: object
    sessions: list
    lesson: object
    mum: object  # Guardian (.family, .user) 张晓华
    mum_child: object
    dad: object  # Guardian 李建国
    dad_child: object
    coordinator: object  # User, alliance coordinator
    unit_coordinator: object  # User, the school's coordinator
    other_alliance: object
    other_school: object
    other_course: object
    other_coordinator: object
    district_admin: object

    def phones(self) -> list[str]:
        return [g.user.phone for g in (self.mum, self.dad)]


def staff_user(name: str, **extra):
    n = next(_counter)
    return UserFactory(username=f"c{n}", display_name=name, is_staff=True, **extra)


def guardian(last: str, first: str, display: str, child: str | None = None):
    n = next(_counter)
    phone = f"1371{n:07d}"
    user = UserFactory(
        username=f"p{n}",
        last_name=last,
        first_name=first,
        display_name=display,
        phone=phone,
        phone_verified=True,
    )
    g = GuardianFactory(user=user, phone=phone)
    kid = ChildFactory(family=g.family, nickname=child) if child else None
    return g, kid


def ended_term(*, days_ago: int = 3, current: bool = True) -> Term:
    today = timezone.localdate()
    if current:
        Term.objects.filter(is_current=True).update(is_current=False)
    n = next(_counter)
    return TermFactory(
        code=f"c{today:%m%d}-{n}",
        school_year="2025–2026",
        semester=Term.Semester.FIRST,
        starts_on=today - dt.timedelta(days=120),
        ends_on=today - dt.timedelta(days=days_ago),
        is_current=current,
    )


def ended_sessions(course, count: int = 2) -> list:
    return [
        make_session(course, starts_in=-dt.timedelta(days=10 + 3 * i), hours=2)
        for i in range(count)
    ]


def played_lesson(course, title: str = "第一讲：倾听") -> OnlineLesson:
    # The file's name is what makes it count (plays_here); no bytes needed here.
    return OnlineLesson.objects.create(
        course=course, title=title, video_file="lessons/listen.webm", duration_seconds=600
    )


def build_issuing_world(*, term_days_ago: int = 3) -> IssuingWorld:
    Role = RoleAssignment.Role
    term = ended_term(days_ago=term_days_ago)
    base = MemberUnitFactory(name="镇海区家庭教育指导中心", kind="guidance_centre")
    alliance = AllianceFactory(
        name="镇海区家校社协同育人联盟", short_name="镇海联盟", base_unit=base
    )
    MembershipFactory(alliance=alliance, unit=base, role=Membership.Role.BASE)
    school = MemberUnitFactory(name="蛟川书院")
    MembershipFactory(alliance=alliance, unit=school)
    parent_school = ParentSchoolFactory(host_unit=school, name="蛟川书院家长学校")
    course = CourseFactory(
        parent_school=parent_school, term=term, title="亲子沟通的艺术", credits=Decimal("2")
    )
    sessions = ended_sessions(course)
    lesson = played_lesson(course)

    other_alliance = AllianceFactory(name="渝中协同育人联盟", short_name="渝中联盟")
    other_school = MemberUnitFactory(name="渝中实验小学")
    MembershipFactory(alliance=other_alliance, unit=other_school)
    other_course = CourseFactory(
        parent_school=ParentSchoolFactory(host_unit=other_school),
        term=term,
        title="做孩子的情绪教练",
    )
    ended_sessions(other_course, 1)

    mum, mum_child = guardian("张", "晓华", "张妈妈", "小雨点")
    dad, dad_child = guardian("李", "建国", "李爸爸", "小石头")

    coordinator = staff_user("周主任")
    RoleAssignmentFactory(
        user=coordinator, role=Role.ALLIANCE_COORDINATOR, alliance=alliance, unit=None
    )
    unit_coordinator = staff_user("吴老师")
    RoleAssignmentFactory(user=unit_coordinator, role=Role.UNIT_COORDINATOR, unit=school)
    other_coordinator = staff_user("钱主任")
    RoleAssignmentFactory(
        user=other_coordinator, role=Role.ALLIANCE_COORDINATOR, alliance=other_alliance, unit=None
    )
    district_admin = staff_user("区教育局刘科长")
    RoleAssignmentFactory(user=district_admin, role=Role.CITY_ADMIN, unit=None)
    return IssuingWorld(
        term=term,
        alliance=alliance,
        base=base,
        school=school,
        parent_school=parent_school,
        course=course,
        sessions=sessions,
        lesson=lesson,
        mum=mum,
        mum_child=mum_child,
        dad=dad,
        dad_child=dad_child,
        coordinator=coordinator,
        unit_coordinator=unit_coordinator,
        other_alliance=other_alliance,
        other_school=other_school,
        other_course=other_course,
        other_coordinator=other_coordinator,
        district_admin=district_admin,
    )


def attend(g, session, *, present: bool = True) -> Booking:
    """A confirmed booking of the family on the session, marked present (or absent)."""
    return Booking.objects.create(
        offering=session.offering,
        family=g.family,
        booked_by=g.user,
        status=Booking.Status.CONFIRMED,
        party_size=1,
        attendance=Booking.Attendance.PRESENT if present else Booking.Attendance.ABSENT,
    )


def finish_lessons(g, course) -> None:
    for lesson in course.lessons.all():
        LessonProgress.objects.create(
            lesson=lesson,
            family=g.family,
            seconds_watched=lesson.duration_seconds,
            percent=100,
            completed_at=timezone.now(),
        )


def credit(g, course, amount, *, term=None) -> CreditEntry:
    n = next(_counter)
    return CreditEntry.objects.create(
        key=f"test-credit:{n}",
        family=g.family,
        guardian=g,
        term=term or course.term,
        course=course,
        amount=Decimal(str(amount)),
        reason=CreditEntry.Reason.ATTENDANCE,
    )


def finish_course(w: IssuingWorld, g) -> None:
    """Every session attended, the lesson completed, the course's credits earned."""
    for session in w.sessions:
        attend(g, session)
    finish_lessons(g, w.course)
    credit(g, w.course, w.course.credits)


def mums_course_certificate(w: IssuingWorld):
    """张晓华's course certificate, issued as a batch would, with her child's
    nickname on it (the rule mentions the child and she opted in)."""
    from certificates import services
    from certificates.eligibility import candidates
    from certificates.models import Kind
    from certificates.tests.factories import (
        CertificatePreferenceFactory,
        CertificateRuleFactory,
    )

    finish_course(w, w.mum)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, mentions_child=True)
    CertificatePreferenceFactory(family=w.mum.family, child_nickname_shown=True)
    (candidate,) = candidates(rule, w.term, limit=1)
    certificate, _created = services.certificate_issue(
        candidate=candidate, alliance=w.alliance, term=w.term
    )
    return certificate
