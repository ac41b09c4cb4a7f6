"""Who has earned a certificate (certificates.eligibility.candidates): one SQL
statement per rule kind, in key order, chunked by ``after``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bookings.models import Offering
from certificates.eligibility import Candidate, candidate_count, candidates, real_name
from certificates.models import Kind
from certificates.tests.factories import CertificatePreferenceFactory, CertificateRuleFactory
from certificates.tests.issuing_world import (
    attend,
    build_issuing_world,
    credit,
    ended_sessions,
    finish_course,
    finish_lessons,
    guardian,
    played_lesson,
)
from courses.tests.factories import CourseFactory, make_session
from members.tests.factories import ChildFactory, UserFactory
from parent_school.tests.factories import InstructorFactory, ParentSchoolFactory
from recognition.models import LearningFamilyList
from recognition.tests.factories import LearningFamilyEntryFactory, LearningFamilyListFactory
from volunteers.models import ServiceHour
from volunteers.tests.factories import ServiceHourFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_issuing_world()


def _keys(found: list[Candidate]) -> list[str]:
    return [c.key for c in found]


# --- course ------------------------------------------------------------------------


def test_a_family_that_attended_every_session_and_finished_the_lesson_is_a_candidate(w):
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    finish_course(w, w.mum)
    attend(w.dad, w.sessions[0])  # one of two sessions: not 100 %
    finish_lessons(w.dad, w.course)

    found = candidates(rule, w.term, limit=100)

    assert found == [
        Candidate(
            key=f"course:{w.course.pk}:family:{w.mum.family_id}",
            kind=Kind.COURSE,
            unit_id=w.school.pk,
            holder_name="张晓华",
            subject_title="亲子沟通的艺术",
            family_id=w.mum.family_id,
            user_id=w.mum.user_id,
            course_id=w.course.pk,
            credits=Decimal("2.0"),
        )
    ]


def test_the_attendance_share_and_the_lessons_are_the_rules(w):
    attend(w.dad, w.sessions[0])
    attend(w.dad, w.sessions[1], present=False)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, attendance_percent=50)

    # half the sessions, but the lesson is not finished
    assert candidates(rule, w.term, limit=10) == []
    rule.lessons_required = False
    found = candidates(rule, w.term, limit=10)
    assert _keys(found) == [f"course:{w.course.pk}:family:{w.dad.family_id}"]
    assert found[0].credits is None  # no credit posted for this course
    rule.attendance_percent = 51
    assert candidates(rule, w.term, limit=10) == []


def test_a_course_with_a_session_still_to_come_certifies_nobody_yet(w):
    finish_course(w, w.mum)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    later = make_session(w.course, starts_in=dt.timedelta(days=2))

    assert candidates(rule, w.term, limit=10) == []
    # a cancelled session is neither awaited nor counted
    Offering.objects.filter(pk=later.offering_id).update(status=Offering.Status.CANCELLED)
    assert len(candidates(rule, w.term, limit=10)) == 1


def test_an_online_only_course_needs_its_lessons_and_a_course_of_nothing_certifies_nobody(w):
    online = CourseFactory(parent_school=w.parent_school, term=w.term, title="线上微课：睡眠")
    played_lesson(online, "第一讲")
    played_lesson(online, "第二讲")
    CourseFactory(parent_school=w.parent_school, term=w.term, title="空课程")
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    finish_lessons(w.mum, online)
    finish_lessons(w.dad, w.course)  # the other course's lesson only

    assert _keys(candidates(rule, w.term, limit=10)) == [
        f"course:{online.pk}:family:{w.mum.family_id}"
    ]
    rule.lessons_required = False  # then an online-only course asks for nothing: nobody
    assert candidates(rule, w.term, limit=10) == []


def test_courses_of_another_alliance_or_term_are_not_this_rules(w):
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, lessons_required=False)
    for session in w.other_course.sessions.all():
        attend(w.mum, session)
    earlier = CourseFactory(parent_school=w.parent_school, title="上学期的课")
    for session in ended_sessions(earlier, 1):
        attend(w.mum, session)

    assert candidates(rule, w.term, limit=10) == []
    other_rule = CertificateRuleFactory(
        alliance=w.other_alliance, kind=Kind.COURSE, lessons_required=False
    )
    assert _keys(candidates(other_rule, w.term, limit=10)) == [
        f"course:{w.other_course.pk}:family:{w.mum.family_id}"
    ]


def test_a_left_member_units_courses_no_longer_count(w):
    finish_course(w, w.mum)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    w.alliance.memberships.filter(unit=w.school).update(left_on=dt.date(2026, 1, 1))
    assert candidates(rule, w.term, limit=10) == []


def test_the_child_nickname_only_with_the_rule_the_opt_in_and_one_child(w):
    finish_course(w, w.mum)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, mentions_child=True)
    assert candidates(rule, w.term, limit=1)[0].child_nickname == ""  # not opted in

    CertificatePreferenceFactory(family=w.mum.family, child_nickname_shown=True)
    assert candidates(rule, w.term, limit=1)[0].child_nickname == "小雨点"

    rule.mentions_child = False
    assert candidates(rule, w.term, limit=1)[0].child_nickname == ""

    rule.mentions_child = True
    ChildFactory(family=w.mum.family, nickname="小星星")  # two children: whose course?
    assert candidates(rule, w.term, limit=1)[0].child_nickname == ""


def test_the_guardian_who_booked_is_named_and_never_a_phone(w):
    # the family's second guardian booked and attended
    second = guardian("", "", "", None)[0]
    second.family = w.mum.family
    second.save()
    for session in w.sessions:
        attend(second, session)
    finish_lessons(second, w.course)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)

    found = candidates(rule, w.term, limit=10)

    assert [(c.user_id, c.holder_name) for c in found] == [(second.user_id, "家长")]
    assert second.user.phone not in found[0].holder_name


def test_real_name_order():
    assert real_name("欧阳", "晓明", "欧阳妈妈") == "欧阳晓明"
    assert real_name("", "", " 王 妈妈 ") == "王妈妈"
    assert real_name("", "", "") == "家长"
    assert real_name("", "", "", "志愿者") == "志愿者"


# --- credits -----------------------------------------------------------------------


def test_credits_of_the_alliances_courses_in_the_term_reach_the_threshold(w):
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.CREDITS, credits_min=Decimal("3"))
    second = CourseFactory(parent_school=w.parent_school, term=w.term, title="第二门课")
    credit(w.mum, w.course, 2)
    credit(w.mum, second, "1.5")
    credit(w.dad, w.course, 2)
    credit(w.dad, second, 2)
    credit(w.dad, second, -2)  # a reversal
    credit(w.dad, w.other_course, 5)  # another alliance's course

    found = candidates(rule, w.term, limit=10)

    assert found == [
        Candidate(
            key=f"credits:{w.alliance.pk}:{w.term.pk}:family:{w.mum.family_id}",
            kind=Kind.CREDITS,
            unit_id=w.base.pk,
            holder_name="张晓华",
            subject_title=f"{w.term}学分达标",
            family_id=w.mum.family_id,
            user_id=w.mum.user_id,
            credits=Decimal("3.5"),
        )
    ]


def test_a_credits_rule_without_a_threshold_certifies_nobody(w):
    credit(w.mum, w.course, 2)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.CREDITS, credits_min=None)
    assert candidates(rule, w.term, limit=10) == []


def test_without_a_base_the_host_unit_issues_credits(w):
    w.alliance.base_unit = None
    w.alliance.save()
    credit(w.mum, w.course, 2)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.CREDITS, credits_min=1)
    assert candidates(rule, w.term, limit=10)[0].unit_id == w.school.pk


# --- learning family ---------------------------------------------------------------


def test_included_families_of_the_published_list_are_candidates(w):
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.LEARNING_FAMILY)
    family_list = LearningFamilyListFactory(
        alliance=w.alliance, term=w.term, status=LearningFamilyList.Status.PUBLISHED
    )
    LearningFamilyEntryFactory(
        family_list=family_list, family=w.mum.family, unit=w.school, credits=Decimal("6")
    )
    LearningFamilyEntryFactory(
        family_list=family_list,
        family=w.dad.family,
        unit=w.school,
        included=False,
        override_reason="有未解决的申报",
    )

    found = candidates(rule, w.term, limit=10)

    assert found == [
        Candidate(
            key=f"learning_family:{w.alliance.pk}:{w.term.pk}:family:{w.mum.family_id}",
            kind=Kind.LEARNING_FAMILY,
            unit_id=w.base.pk,
            holder_name="张晓华家庭",
            subject_title=f"{w.term}学习型家庭",
            family_id=w.mum.family_id,
            user_id=w.mum.user_id,
            credits=Decimal("6.0"),
        )
    ]
    family_list.status = LearningFamilyList.Status.DRAFT
    family_list.save()
    assert candidates(rule, w.term, limit=10) == []


# --- volunteer ---------------------------------------------------------------------


def test_counted_hours_at_the_alliances_units_reach_the_threshold(w):
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.VOLUNTEER, hours_min=Decimal("4"))
    login = UserFactory(last_name="何", first_name="丽", display_name="何老师")
    vol = InstructorFactory(unit=w.school, user=login, is_volunteer=True, name="何丽")
    no_login = InstructorFactory(unit=w.school, is_volunteer=True)
    Status = ServiceHour.Status
    for hours, status, unit in [
        (2, Status.RECORDED, w.school),
        (2, Status.VERIFIED, w.base),
        (3, Status.PENDING, w.school),  # not counted
        (3, Status.REJECTED, w.school),  # not counted
        (5, Status.VERIFIED, w.other_school),  # another alliance's
    ]:
        ServiceHourFactory(instructor=vol, term=w.term, hours=hours, status=status, unit=unit)
    ServiceHourFactory(instructor=no_login, term=w.term, hours=8, status=Status.VERIFIED)

    found = candidates(rule, w.term, limit=10)

    assert found == [
        Candidate(
            key=f"volunteer:{w.alliance.pk}:{w.term.pk}:user:{login.pk}",
            kind=Kind.VOLUNTEER,
            unit_id=w.base.pk,
            holder_name="何丽",
            subject_title=f"{w.term}志愿服务 4.0 小时",
            user_id=login.pk,
            hours=Decimal("4.0"),
        )
    ]
    rule.hours_min = Decimal("4.5")
    assert candidates(rule, w.term, limit=10) == []


def test_a_volunteer_without_a_surname_is_named_by_the_registered_name(w):
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.VOLUNTEER, hours_min=1)
    vol = InstructorFactory(unit=w.school, user=UserFactory(display_name="何老师"), name="何丽")
    ServiceHourFactory(instructor=vol, term=w.term, status=ServiceHour.Status.VERIFIED)
    assert candidates(rule, w.term, limit=10)[0].holder_name == "何丽"


# --- chunks ------------------------------------------------------------------------


def test_chunks_walk_every_candidate_once_in_key_order_with_one_query_each(
    w, django_assert_num_queries
):
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, lessons_required=False)
    families = [guardian("王", f"{i}号", "", None)[0] for i in range(12)]
    for g in families:
        attend(g, w.sessions[0])
        attend(g, w.sessions[1])

    seen, after = [], ""
    while True:
        with django_assert_num_queries(1):
            chunk = candidates(rule, w.term, after=after, limit=5)
        if not chunk:
            break
        seen += _keys(chunk)
        after = chunk[-1].key

    assert len(seen) == 12 == len(set(seen))
    assert seen == sorted(seen)
    assert set(seen) == {f"course:{w.course.pk}:family:{g.family_id}" for g in families}
    with django_assert_num_queries(1):
        assert candidate_count(rule, w.term) == 12


def test_a_parent_school_of_another_unit_in_the_alliance_counts_too(w):
    base_school = ParentSchoolFactory(host_unit=w.base)
    course = CourseFactory(parent_school=base_school, term=w.term, title="中心的课")
    for session in ended_sessions(course, 1):
        attend(w.dad, session)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, lessons_required=False)
    found = candidates(rule, w.term, limit=10)
    assert [(c.course_id, c.unit_id, c.holder_name) for c in found] == [
        (course.pk, w.base.pk, "李建国")
    ]
