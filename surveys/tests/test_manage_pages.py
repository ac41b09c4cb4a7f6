"""The coordinators' survey pages (surveys/manage_views.py): creating a survey
through the page, the template editor, scope refusals, results with charts, the
comparison of two parent schools with a small group hidden, the printable page,
and constant query counts of the list and results pages."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members.tests.factories import FamilyFactory, GuardianFactory, UserFactory
from parent_school.tests.factories import ParentSchoolFactory
from surveys.models import Answer, Question, Response, Survey, TemplateVersion
from surveys.tests.factories import InvitationFactory, ParticipationFactory, ResponseFactory
from surveys.tests.world import ANSWERS, ended_session, session_survey, term_survey

pytestmark = pytest.mark.django_db

HIDDEN = "样本不足，不显示"
CHART = '<svg class="chart"'


def answer_sheet(survey, version, answers: dict, *, family=None, user=None):
    """One released, named answer sheet of ``survey`` (answers by key, as the
    services take them) and the family's participation and invitation."""
    family = family or FamilyFactory()
    InvitationFactory(survey=survey, family=family)
    ParticipationFactory(survey=survey, family=family)
    anonymous = survey.is_anonymous
    response = ResponseFactory(
        survey=survey,
        version=version,
        family=None if anonymous else family,
        submitted_by=None if anonymous else user,
        submitted_at=None if anonymous else timezone.now(),
        batch=1 if anonymous else None,
    )
    questions = {q.key: q for q in version.questions.all()}
    rows = []
    for key, value in answers.items():
        question = questions[key]
        for one in value if isinstance(value, list) else [value]:
            if isinstance(one, str):
                rows.append(Answer(response=response, question=question, text=one))
            else:
                rows.append(Answer(response=response, question=question, number=one))
    Answer.objects.bulk_create(rows)
    return response


def school_term_survey(world, school, **fields):
    """The template's term survey at another parent school ``school`` (one per
    template, term and school)."""
    from surveys.tests.factories import SurveyFactory

    return SurveyFactory(
        template=world.template,
        title=fields.pop("title", f"{school.name}学期问卷"),
        scope=Survey.Scope.PARENT_SCHOOL_TERM,
        parent_school=school,
        term=world.term,
        unit=school.host_unit,
        **fields,
    )


def signed_in(client, user):
    client.force_login(user)
    return client


# -- creating a survey -------------------------------------------------------------


def test_a_unit_coordinator_creates_a_session_survey_through_the_page(client, world):
    # given
    signed_in(client, world.unit_coordinator)
    page = client.get(reverse("surveys:manage_survey_new"))
    assert page.status_code == 200
    body = page.content.decode()
    # the picker lists the coordinator's own session and not the other alliance's things
    assert f"session:{world.offering.pk}" in body
    assert world.other_school.name not in body
    # when
    response = client.post(
        reverse("surveys:manage_survey_new"),
        {
            "template": world.template.pk,
            "target": f"session:{world.offering.pk}",
            "title": "亲子沟通课后问卷",
            "answer_days": 7,
            "invite_delay_minutes": 60,
        },
    )
    # then
    survey = Survey.objects.get(title="亲子沟通课后问卷")
    assert response.status_code == 302
    assert response["Location"] == reverse("surveys:manage_survey", args=[survey.pk])
    assert survey.scope == Survey.Scope.SESSION
    assert survey.offering_id == world.offering.pk
    assert survey.unit_id == world.school.pk
    assert survey.invite_delay_minutes == 60
    # published from its page
    client.post(reverse("surveys:manage_survey_publish", args=[survey.pk]))
    survey.refresh_from_db()
    assert survey.is_published


def test_a_foreign_target_in_the_post_is_refused_on_its_field(client, world):
    # given: a parent school of the other alliance
    theirs = ParentSchoolFactory(name="城西家长学校", host_unit=world.other_school)
    signed_in(client, world.unit_coordinator)
    # when
    response = client.post(
        reverse("surveys:manage_survey_new"),
        {
            "template": world.template.pk,
            "target": f"parent_school_term:{theirs.pk}",
            "term": world.term.pk,
            "answer_days": 7,
        },
    )
    # then
    assert response.status_code == 200
    assert "请从列表中选择您负责的对象" in response.content.decode()
    assert not Survey.objects.exists()


def test_the_term_scopes_ask_for_a_term(client, world):
    signed_in(client, world.unit_coordinator)
    response = client.post(
        reverse("surveys:manage_survey_new"),
        {
            "template": world.template.pk,
            "target": f"parent_school_term:{world.parent_school.pk}",
            "answer_days": 7,
        },
    )
    assert response.status_code == 200
    assert "请选择学期" in response.content.decode()
    assert not Survey.objects.exists()


# -- scope -------------------------------------------------------------------------


def test_another_alliances_coordinator_gets_404_on_every_page_of_a_survey(client, world):
    survey = session_survey(world)
    signed_in(client, world.other_coordinator)
    for name in ("manage_survey", "manage_survey_print"):
        assert client.get(reverse(f"surveys:{name}", args=[survey.pk])).status_code == 404
    for name in ("manage_survey_export", "manage_survey_publish", "manage_survey_close"):
        assert client.post(reverse(f"surveys:{name}", args=[survey.pk])).status_code == 404
    # the list shows nothing of it
    listing = client.get(reverse("surveys:manage_index")).content.decode()
    assert survey.title not in listing


def test_a_unit_coordinator_cannot_edit_the_districts_template(client, world):
    signed_in(client, world.unit_coordinator)
    url = reverse("surveys:manage_template", args=[world.template.pk])
    assert client.get(url).status_code == 404
    question = world.version.questions.get(key="suggestion")
    response = client.post(
        reverse("surveys:manage_question_delete", args=[world.template.pk]),
        {"question": question.pk},
    )
    assert response.status_code == 404
    assert Question.objects.filter(pk=question.pk).exists()


def test_families_and_instructors_do_not_reach_the_manage_pages(client, world):
    signed_in(client, world.attended_parent)
    assert client.get(reverse("surveys:manage_index")).status_code == 403


# -- the template editor -----------------------------------------------------------


def test_the_district_admin_adds_a_question_with_a_condition(client, world):
    signed_in(client, world.district_admin)
    section = world.version.sections.order_by("position").first()
    source = world.version.questions.get(key="format")
    response = client.post(
        reverse("surveys:manage_question_new", args=[world.template.pk]),
        {
            "section": section.pk,
            "kind": Question.Kind.SINGLE,
            "label": "您更希望在什么时间参加",
            "required": "on",
            "options": "工作日晚上\n周末上午\n周末下午",
            "show_if": source.pk,
            "show_if_values": "2,3",  # 案例研讨, 亲子实践 (counted from 1)
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = Question.objects.get(label="您更希望在什么时间参加")
    assert added.options == ["工作日晚上", "周末上午", "周末下午"]
    assert added.show_if.key == "format"
    assert added.show_if_values == [1, 2]
    page = client.get(reverse("surveys:manage_template", args=[world.template.pk]))
    assert "您更希望在什么时间参加" in page.content.decode()


def test_a_bad_question_is_refused_with_a_message_on_its_field(client, world):
    signed_in(client, world.district_admin)
    section = world.version.sections.first()
    before = Question.objects.count()
    response = client.post(
        reverse("surveys:manage_question_new", args=[world.template.pk]),
        {
            "section": section.pk,
            "kind": Question.Kind.SINGLE,
            "label": "只有一个选项",
            "options": "是",
        },
    )
    assert response.status_code == 200
    assert "2–20 个选项" in response.content.decode()
    assert Question.objects.count() == before


def test_editing_a_template_with_answers_makes_a_new_version(client, world):
    # given: a sheet answered in version 1
    survey = session_survey(world)
    answer_sheet(survey, world.version, ANSWERS, family=world.attended)
    signed_in(client, world.district_admin)
    page = client.get(reverse("surveys:manage_template", args=[world.template.pk]))
    assert "会生成新的一版" in page.content.decode()
    # when
    question = world.version.questions.get(key="suggestion")
    response = client.post(
        reverse("surveys:manage_question_edit", args=[world.template.pk, question.pk]),
        {
            "section": question.section_id,
            "kind": Question.Kind.SHORT_TEXT,
            "label": "其他意见和建议",
        },
    )
    # then
    assert response.status_code == 302
    versions = list(TemplateVersion.objects.filter(template=world.template).order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].questions.get(key="suggestion").label == "其他建议"
    assert versions[1].questions.get(key="suggestion").label == "其他意见和建议"
    assert Response.objects.get(survey=survey).version_id == versions[0].pk
    page = client.get(reverse("surveys:manage_template", args=[world.template.pk]))
    assert "当前为第 2 版" in page.content.decode()


# -- results, comparison, print ----------------------------------------------------


def test_the_results_page_draws_charts_and_hides_a_small_survey(client, world):
    survey = session_survey(world)
    for value in (5, 4, 4, 3, 5):
        answer_sheet(survey, world.version, {**ANSWERS, "satisfaction": value})
    small = session_survey(world, offering=world.event_offering)
    for _n in range(3):
        answer_sheet(small, world.version, ANSWERS)
    signed_in(client, world.unit_coordinator)
    body = client.get(reverse("surveys:manage_survey", args=[survey.pk])).content.decode()
    assert CHART in body
    assert "4.20" in body  # the satisfaction mean of 5, 4, 4, 3, 5
    assert f"[{world.offering.title}" in body or world.offering.title in body
    small_body = client.get(reverse("surveys:manage_survey", args=[small.pk])).content.decode()
    assert HIDDEN in small_body
    assert CHART not in small_body


def test_two_parent_schools_compared_with_charts_and_a_small_school_hidden(client, world):
    # given: the same template's term survey at two parent schools; 6 and 3 answers
    ours = term_survey(world)
    second = ParentSchoolFactory(name="城东第二家长学校", host_unit=world.school)
    theirs = school_term_survey(world, second, title="第二家长学校学期问卷")
    for value in (5, 5, 4, 4, 3, 5):
        answer_sheet(ours, world.version, {**ANSWERS, "satisfaction": value})
    for _n in range(3):
        answer_sheet(theirs, world.version, ANSWERS)
    signed_in(client, world.alliance_coordinator)
    # when
    response = client.get(
        reverse("surveys:manage_comparison"),
        {"template": world.template.pk, "by": "parent_school"},
    )
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert world.parent_school.name in body and "城东第二家长学校" in body
    assert body.count(CHART) >= 3  # a chart per question with numbers
    assert HIDDEN in body
    assert "4.33" in body  # the first school's satisfaction mean, (5+5+4+4+3+5)/6


def test_the_printable_page_has_the_results_and_no_forms(client, world):
    survey = session_survey(world)
    for _n in range(5):
        answer_sheet(survey, world.version, ANSWERS)
    signed_in(client, world.unit_coordinator)
    response = client.get(reverse("surveys:manage_survey_print", args=[survey.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert CHART in body
    assert "data-print" in body
    assert "surveys.css" in body
    main = body.split('id="main"', 1)[-1] if 'id="main"' in body else body
    assert "<form" not in main.split("survey-print", 1)[-1]


# -- constant queries --------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_list_pages_queries_do_not_grow_with_surveys(client, world):
    signed_in(client, world.alliance_coordinator)
    url = reverse("surveys:manage_index")
    session_survey(world)
    term_survey(world)
    few = _queries(client, url)
    for _n in range(8):
        session_survey(world, offering=world.event_offering)
        term_survey(world)
    assert _queries(client, url) == few


def test_the_results_pages_queries_do_not_grow_with_answers(client, world):
    survey = session_survey(world)
    signed_in(client, world.unit_coordinator)
    url = reverse("surveys:manage_survey", args=[survey.pk])
    for _n in range(5):
        answer_sheet(survey, world.version, ANSWERS)
    few = _queries(client, url)
    for _n in range(15):
        parent = GuardianFactory(user=UserFactory()).user
        answer_sheet(survey, world.version, ANSWERS, user=parent)
    assert _queries(client, url) == few


def test_the_alliance_coordinator_deploys_a_term_survey_to_every_parent_school(client, world):
    second = ParentSchoolFactory(name="城东第一小学第二家长学校", host_unit=world.school)
    theirs = ParentSchoolFactory(name="城西家长学校", host_unit=world.other_school)
    signed_in(client, world.alliance_coordinator)
    data = {
        "template": world.template.pk,
        "term": world.term.pk,
        "opens_at": "2026-12-01T08:00",
        "closes_at": "2026-12-20T20:00",
    }
    response = client.post(reverse("surveys:manage_deploy"), data)
    assert response.status_code == 302
    made = set(Survey.objects.values_list("parent_school_id", flat=True))
    assert made == {world.parent_school.pk, second.pk}
    assert theirs.pk not in made
    assert all(Survey.objects.values_list("is_published", flat=True))
    # a second deployment adds nothing
    client.post(reverse("surveys:manage_deploy"), data)
    assert Survey.objects.count() == 2
    # a unit coordinator has no deploy page
    signed_in(client, world.unit_coordinator)
    assert client.get(reverse("surveys:manage_deploy")).status_code == 404


def test_a_course_series_shows_its_sessions_side_by_side(client, world):
    # given: a course survey with three session surveys, of 6, 5 and 3 answers
    from surveys.tests.factories import SurveyFactory

    series = SurveyFactory(
        template=world.template,
        title="亲子沟通课程问卷",
        scope=Survey.Scope.COURSE,
        course=world.course,
        parent_school=None,
        term=world.term,
        unit=world.school,
        is_published=True,
    )
    first = session_survey(world, title="第一讲问卷")
    second = session_survey(world, offering=world.next_session.offering, title="第二讲问卷")
    third = session_survey(world, offering=ended_session(world.course).offering, title="第三讲")
    Survey.objects.filter(pk__in=[first.pk, second.pk, third.pk]).update(series=series)
    for value in (5, 4, 5, 4, 5, 5):
        answer_sheet(first, world.version, {**ANSWERS, "satisfaction": value})
    for _n in range(3):
        answer_sheet(second, world.version, ANSWERS)
    for _n in range(5):
        answer_sheet(third, world.version, ANSWERS)
    signed_in(client, world.unit_coordinator)
    # when
    body = client.get(reverse("surveys:manage_survey", args=[series.pk])).content.decode()
    # then
    assert "各场次对照" in body
    assert world.offering.title in body
    assert "4.67" in body  # the first session's satisfaction mean
    assert HIDDEN in body  # the second session has 3 answers (and the next smallest too)
    assert CHART in body


def test_units_compared_with_a_unit_of_three_answers_hidden(client, world):
    ours = session_survey(world)
    theirs = session_survey(world, offering=world.event_offering, title="活动问卷")
    from members.tests.factories import MembershipFactory, MemberUnitFactory

    other_unit = MemberUnitFactory(name="城东社区")
    MembershipFactory(alliance=world.alliance, unit=other_unit)
    Survey.objects.filter(pk=theirs.pk).update(unit=other_unit)
    for _n in range(5):
        answer_sheet(ours, world.version, ANSWERS)
    for _n in range(3):
        answer_sheet(theirs, world.version, ANSWERS)
    signed_in(client, world.alliance_coordinator)
    body = client.get(
        reverse("surveys:manage_comparison"), {"template": world.template.pk, "by": "unit"}
    ).content.decode()
    assert world.school.name in body and "城东社区" in body
    assert HIDDEN in body
    assert CHART in body


def test_ids_of_another_template_are_refused_in_the_editor(client, world):
    # given: the alliance's own template, and the district's with its questions
    from surveys.tests.factories import SurveyTemplateFactory, with_questions

    own = SurveyTemplateFactory(alliance=world.alliance, name="城东联盟问卷")
    own_version = with_questions(own)
    signed_in(client, world.alliance_coordinator)
    districts_section = world.version.sections.first()
    districts_question = world.version.questions.get(key="suggestion")
    # when: a question posted into the district template's section
    response = client.post(
        reverse("surveys:manage_question_new", args=[own.pk]),
        {"section": districts_section.pk, "kind": Question.Kind.SHORT_TEXT, "label": "越界"},
    )
    # then
    assert response.status_code == 200
    assert not Question.objects.filter(label="越界").exists()
    # and the district's question cannot be deleted or moved through the own template
    for name in ("manage_question_delete", "manage_question_move"):
        response = client.post(
            reverse(f"surveys:{name}", args=[own.pk]),
            {"question": districts_question.pk, "direction": "up"},
        )
        assert response.status_code == 404, name
    assert Question.objects.filter(pk=districts_question.pk).exists()
    assert own_version.questions.count() == 6
