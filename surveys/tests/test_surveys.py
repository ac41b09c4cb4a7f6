"""Surveys: creating them on each scope, who is eligible, course series, the
district-wide deployment, and the family's open surveys in constant queries."""

from __future__ import annotations

import datetime as dt

import pytest

from bookings.models import Booking
from members.models import Membership
from members.tests.factories import MembershipFactory, MemberUnitFactory
from parent_school.tests.factories import ParentSchoolFactory
from surveys import selectors, services
from surveys.eligibility import eligible_families, is_eligible
from surveys.errors import SurveyError
from surveys.models import Survey
from surveys.tests.world import (
    ANSWERS,
    attend,
    ended_session,
    family_with_parent,
    session_survey,
    term_survey,
)


def _window(world):
    return {
        "opens_at": world.now - dt.timedelta(hours=1),
        "closes_at": world.now + dt.timedelta(days=7),
    }


def test_survey_create_derives_unit_and_term_for_each_scope(world):
    make = lambda scope, target, **kw: services.survey_create(  # noqa: E731
        actor=world.district_admin,
        template_id=world.template.pk,
        scope=scope,
        target_id=target,
        **kw,
    )
    session = make("session", world.offering.pk)
    assert (session.unit, session.term, session.offering) == (
        world.school,
        world.term,
        world.offering,
    )
    assert session.invite_delay_minutes == 120 and not session.is_published
    event = make("event", world.event_offering.pk)
    assert event.unit == world.school and event.term == world.term
    course = make("course", world.course.pk)
    assert course.unit == world.school and course.course == world.course
    school = make(
        "parent_school_term", world.parent_school.pk, term_id=world.term.pk, **_window(world)
    )
    assert school.unit == world.school
    alliance = make("alliance_term", world.alliance.pk, term_id=world.term.pk, **_window(world))
    assert alliance.unit == world.school and alliance.alliance == world.alliance


@pytest.mark.parametrize(
    "scope, target, extra, code, field",
    [
        ("session", "event_offering", {}, "offering_not_session", "target"),
        ("event", "offering", {}, "offering_not_event", "target"),
        ("session", None, {}, "target_missing", "target"),
        ("parent_school_term", "parent_school", {}, "term_missing", "term"),
        ("parent_school_term", "parent_school", {"term": True}, "window_required", "opens_at"),
        ("nope", "offering", {}, "scope_invalid", "scope"),
        ("session", "offering", {"answer_days": 0}, "answer_days_invalid", "answer_days"),
        ("session", "offering", {"title": "长" * 121}, "title_too_long", "title"),
    ],
)
def test_survey_create_refuses_bad_input_naming_the_field(world, scope, target, extra, code, field):
    extra = dict(extra)
    if extra.pop("term", False):
        extra["term_id"] = world.term.pk
    target_id = getattr(world, target).pk if target else 999999
    with pytest.raises(SurveyError) as error:
        services.survey_create(
            actor=world.district_admin,
            template_id=world.template.pk,
            scope=scope,
            target_id=target_id,
            **extra,
        )
    assert (error.value.code, error.value.field) == (code, field)
    assert not Survey.objects.exists()


def test_survey_create_is_scoped(world):
    with pytest.raises(SurveyError) as error:
        services.survey_create(
            actor=world.other_coordinator,
            template_id=world.template.pk,
            scope="session",
            target_id=world.offering.pk,
        )
    assert error.value.code == "not_allowed"
    with pytest.raises(SurveyError) as error:
        services.survey_create(
            actor=world.unit_coordinator,
            template_id=world.template.pk,
            scope="alliance_term",
            target_id=world.alliance.pk,
            term_id=world.term.pk,
            **_window(world),
        )
    assert error.value.code == "not_allowed"
    made = services.survey_create(
        actor=world.unit_coordinator,
        template_id=world.template.pk,
        scope="session",
        target_id=world.offering.pk,
    )
    services.survey_publish(actor=world.unit_coordinator, survey_id=made.pk)
    with pytest.raises(SurveyError) as error:
        services.survey_publish(actor=world.other_coordinator, survey_id=made.pk)
    assert error.value.code == "survey_missing"
    assert made in selectors.surveys_manageable(user=world.alliance_coordinator)
    assert made not in selectors.surveys_manageable(user=world.other_coordinator)


def test_a_template_without_questions_cannot_be_used(world):
    empty = services.template_create(actor=world.district_admin, alliance_id=None, name="空模板")
    with pytest.raises(SurveyError) as error:
        services.survey_create(
            actor=world.district_admin,
            template_id=empty.pk,
            scope="session",
            target_id=world.offering.pk,
        )
    assert error.value.code == "template_empty" and "空模板" in str(error.value.message)


def test_eligibility_of_each_scope(world):
    session = session_survey(world)
    assert set(eligible_families(session)) == {world.attended.pk, world.attended2.pk}
    event = session_survey(world, offering=world.event_offering)
    family, _user = family_with_parent(world.school, "周丽")
    attend(family, world.event_offering, attendance=Booking.Attendance.PRESENT)
    attend(world.attended2, world.event_offering, attendance=Booking.Attendance.UNKNOWN)
    assert list(eligible_families(event)) == [family.pk]
    school = term_survey(world)
    # confirmed bookings on the school's sessions (present or not)
    assert set(eligible_families(school)) == {
        world.attended.pk,
        world.attended2.pk,
        world.absent.pk,
    }
    alliance = Survey.objects.create(
        template=world.template,
        version=world.version,
        title="联盟学期问卷",
        scope="alliance_term",
        alliance=world.alliance,
        term=world.term,
        unit=world.school,
        is_published=True,
        **_window(world),
    )
    assert set(eligible_families(alliance)) == {
        world.attended.pk,
        world.attended2.pk,
        world.absent.pk,
        family.pk,
    }
    # a unit that left the alliance before the term does not count
    left = MemberUnitFactory(name="已退出的学校")
    MembershipFactory(
        alliance=world.alliance, unit=left, left_on=world.term.starts_on - dt.timedelta(days=1)
    )
    left_school = ParentSchoolFactory(host_unit=left)
    from courses.tests.factories import CourseFactory

    left_session = ended_session(CourseFactory(parent_school=left_school, term=world.term))
    attend(world.stranger, left_session.offering)
    assert not is_eligible(alliance, world.stranger.pk)
    Membership.objects.filter(unit=left).update(left_on=None)
    assert is_eligible(alliance, world.stranger.pk)
    # a cancelled booking never counts
    Booking.objects.filter(family=world.attended2, offering=world.offering).update(
        status="cancelled"
    )
    assert not is_eligible(session, world.attended2.pk)


def test_a_course_series_makes_one_survey_per_ended_session_once(world):
    series = Survey.objects.create(
        template=world.template,
        version=world.version,
        title="亲子沟通系列问卷",
        scope="course",
        course=world.course,
        term=world.term,
        unit=world.school,
        is_published=True,
        is_anonymous=True,
    )
    assert services.session_surveys_ensure(series_id=series.pk) == 1
    assert services.session_surveys_ensure(series_id=series.pk) == 0
    child = Survey.objects.get(series=series)
    assert (child.scope, child.offering, child.is_anonymous) == ("session", world.offering, True)
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=world.attended_parent, survey_id=series.pk, answers=ANSWERS)
    assert error.value.code == "series_not_answerable"
    services.response_submit(user=world.attended_parent, survey_id=child.pk, answers=ANSWERS)
    # the next session, once ended
    later = world.next_session.offering.ends_at + dt.timedelta(minutes=1)
    assert services.session_surveys_ensure(series_id=series.pk, now=later) == 1


def test_deploy_makes_one_term_survey_per_parent_school_in_scope_once(world):
    other = ParentSchoolFactory(name="城东社区家长学校", host_unit=world.school)
    ParentSchoolFactory(name="城西家长学校", host_unit=world.other_school)
    kwargs = dict(template_id=world.template.pk, term_id=world.term.pk, **_window(world))
    assert services.surveys_deploy(actor=world.alliance_coordinator, **kwargs) == 2
    assert services.surveys_deploy(actor=world.alliance_coordinator, **kwargs) == 0
    assert set(Survey.objects.values_list("parent_school_id", flat=True)) == {
        world.parent_school.pk,
        other.pk,
    }
    assert services.surveys_deploy(actor=world.district_admin, **kwargs) == 1


def test_close_stops_answering(world):
    survey = session_survey(world)
    services.survey_close(actor=world.unit_coordinator, survey_id=survey.pk)
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    assert error.value.code == "closed"


def test_open_surveys_for_a_family_in_constant_queries(world, django_assert_max_num_queries):
    def open_ids(family):
        return {s.pk for s in selectors.surveys_open_for_family(family=family)}

    session = session_survey(world)
    school = term_survey(world)
    session_survey(world, offering=world.event_offering)  # not attended
    term_survey(
        world,
        closes_at=world.now - dt.timedelta(minutes=1),
        opens_at=world.now - dt.timedelta(days=1),
    )
    assert open_ids(world.attended) == {session.pk, school.pk}
    assert open_ids(world.absent) == {school.pk}
    assert open_ids(world.stranger) == set()
    services.response_submit(user=world.attended_parent, survey_id=session.pk, answers=ANSWERS)
    assert open_ids(world.attended) == {school.pk}
    # many more surveys and bookings: the same queries
    for _ in range(5):
        extra = ended_session(world.course, hours_ago=1)
        attend(world.attended, extra.offering)
        session_survey(world, offering=extra.offering)
    Survey.objects.create(
        template=world.template,
        version=world.version,
        title="联盟学期问卷",
        scope="alliance_term",
        alliance=world.alliance,
        term=world.term,
        unit=world.school,
        is_published=True,
        **_window(world),
    )
    with django_assert_max_num_queries(3):
        found = selectors.surveys_open_for_family(family=world.attended)
    assert len(found) == 7
    answered = selectors.surveys_answered_by_family(family=world.attended)
    assert [p.survey for p in answered] == [session]


def test_a_template_is_attached_once_per_target_with_a_clear_message(world):
    kwargs = dict(actor=world.unit_coordinator, template_id=world.template.pk)
    made = services.survey_create(**kwargs, scope="session", target_id=world.offering.pk)
    assert made.version == world.version  # pinned to the template's current version
    with pytest.raises(SurveyError) as error:
        services.survey_create(**kwargs, scope="session", target_id=world.offering.pk)
    assert error.value.code == "survey_duplicate" and error.value.field == "target"
    assert world.template.name in error.value.message
    window = _window(world)
    term = dict(scope="parent_school_term", target_id=world.parent_school.pk, term_id=world.term.pk)
    services.survey_create(**kwargs, **term, **window)
    with pytest.raises(SurveyError) as error:
        services.survey_create(**kwargs, **term, **window)
    assert error.value.code == "survey_duplicate"
    # the deployment then adds nothing for that school (and stays idempotent)
    assert (
        services.surveys_deploy(
            actor=world.unit_coordinator,
            template_id=world.template.pk,
            term_id=world.term.pk,
            **window,
        )
        == 0
    )
    assert Survey.objects.filter(parent_school=world.parent_school).count() == 1


def test_deploy_tells_the_roll_up_about_the_surveys_it_made(world):
    from surveys.signals import responses_changed

    sent = []

    def receiver(sender, survey_ids, **kwargs):
        sent.extend(survey_ids)

    responses_changed.connect(receiver, weak=False)
    try:
        kwargs = dict(template_id=world.template.pk, term_id=world.term.pk, **_window(world))
        assert services.surveys_deploy(actor=world.alliance_coordinator, **kwargs) == 1
    finally:
        responses_changed.disconnect(receiver)
    made = Survey.objects.get(parent_school=world.parent_school)
    assert sent == [made.pk] and made.version == world.version
