"""The family's questionnaire pages through the test client (PostgreSQL): 我的问卷,
one question per screen saved as a draft, conditions, required answers, review and
submit, and the refusals (answered already — from the other guardian's login too —,
not eligible, closed, bad addresses)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from surveys.models import Draft, Participation, PendingResponse, Response
from surveys.tests.world import session_survey, term_survey

pytestmark = pytest.mark.django_db

# with_questions' screens: 1 satisfaction, 2 recommend, 3 format, 4 topics,
# 5 why_low (only when satisfaction is 1 or 2), 6 suggestion.
SATISFACTION, RECOMMEND, FORMAT, TOPICS, WHY_LOW, SUGGESTION = range(1, 7)


def _q(survey, n: int) -> str:
    return reverse("surveys:question", kwargs={"survey_id": survey.pk, "n": n})


def _signed_in(client, user):
    client.force_login(user)
    return client


def _answer(client, survey, n: int, value=None, move: str = "next"):
    data = {"move": move}
    if value is not None:
        data["answer"] = value
    return client.post(_q(survey, n), data)


def _answer_all(client, survey, satisfaction: int = 5):
    assert _answer(client, survey, SATISFACTION, satisfaction).status_code == 302
    _answer(client, survey, RECOMMEND, 9)
    _answer(client, survey, FORMAT, 1)
    _answer(client, survey, TOPICS, [0, 2])
    if satisfaction <= 2:
        _answer(client, survey, WHY_LOW, "时间太晚了")
    return _answer(client, survey, SUGGESTION, "希望多安排周末的场次")


def test_my_surveys_shows_what_each_is_about_its_closing_and_what_anonymous_means(client, world):
    session = session_survey(world, title="亲子沟通课后问卷")
    term = term_survey(world, title="本学期满意度调查", is_anonymous=True)
    _signed_in(client, world.attended_parent)

    page = client.get(reverse("surveys:mine")).content.decode()

    assert "亲子沟通课后问卷" in page and "本学期满意度调查" in page
    assert world.offering.title in page  # the session it is about
    assert world.parent_school.name in page  # the parent school's term
    assert "截止时间" in page
    assert page.count("survey-badge") == 1  # only the anonymous one
    assert "老师和管理员都看不到哪份答卷是您家的" in page
    assert reverse("surveys:start", args=[session.pk]) in page
    assert reverse("surveys:start", args=[term.pk]) in page


def test_my_surveys_lists_nothing_to_a_family_that_did_not_attend(client, world):
    session_survey(world, title="亲子沟通课后问卷")
    _signed_in(client, world.absent_parent)

    page = client.get(reverse("surveys:mine")).content.decode()

    assert "亲子沟通课后问卷" not in page
    assert "目前没有需要您填写的问卷" in page


def test_my_surveys_reads_the_same_number_of_queries_for_one_survey_or_many(client, world):
    _signed_in(client, world.attended_parent)
    answered = session_survey(world, title="已答问卷")
    _answer_all(client, answered)
    client.post(reverse("surveys:review", args=[answered.pk]))
    # one of each kind (session, anonymous session, parent school's term)
    session_survey(world, title="第一份")
    session_survey(world, title="第二份", is_anonymous=True)
    term_survey(world, title="第三份")
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("surveys:mine")).status_code == 200

    for n in range(4):
        session_survey(world, title=f"又一份{n}", is_anonymous=n % 2 == 0)
        term_survey(world, title=f"学期问卷{n}")
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("surveys:mine")).content.decode()

    assert page.count("survey-open") == 11 and page.count("survey-answered") == 1
    assert len(many) == len(one), [q["sql"] for q in many.captured_queries]


def test_my_surveys_query_budget(client, world, django_assert_max_num_queries):
    for n in range(5):
        session_survey(world, title=f"问卷{n}")
        term_survey(world, title=f"学期问卷{n}", is_anonymous=True)
    _signed_in(client, world.attended_parent)
    client.get(reverse("surveys:mine"))  # the session's first read

    with django_assert_max_num_queries(9):
        assert client.get(reverse("surveys:mine")).status_code == 200


def test_each_screen_saves_the_draft_and_the_start_page_resumes_it(client, world):
    survey = session_survey(world)
    _signed_in(client, world.attended_parent)
    start = client.get(reverse("surveys:start", args=[survey.pk])).content.decode()
    assert "开始填写" in start and _q(survey, 1) in start

    screen = client.get(_q(survey, SATISFACTION)).content.decode()
    assert "第 1 / 5 题" in screen  # why_low is hidden until satisfaction is low
    assert "非常满意" in screen and 'type="radio"' in screen
    response = _answer(client, survey, SATISFACTION, 4)
    assert response["Location"] == _q(survey, RECOMMEND)
    response = _answer(client, survey, RECOMMEND, 8)
    assert response["Location"] == _q(survey, FORMAT)

    # she leaves; another day (a new session, the same account) she comes back
    client.logout()
    _signed_in(client, world.attended_parent)
    start = client.get(reverse("surveys:start", args=[survey.pk])).content.decode()
    assert "您上次填到第 3 题，已保存" in start
    assert _q(survey, FORMAT) in start
    # her earlier answers are on their screens
    screen = client.get(_q(survey, RECOMMEND)).content.decode()
    assert re.search(r'value="8"[^>]*checked', screen)
    draft = Draft.objects.get(survey=survey, family=world.attended)
    assert draft.step == FORMAT - 1
    assert "recommend" not in draft.sealed_answers  # sealed, not readable in the table


def test_going_back_keeps_the_answer_and_moves_to_the_previous_screen(client, world):
    survey = session_survey(world)
    _signed_in(client, world.attended_parent)
    _answer(client, survey, SATISFACTION, 5)

    response = _answer(client, survey, RECOMMEND, 10, move="prev")

    assert response["Location"] == _q(survey, SATISFACTION)
    screen = client.get(_q(survey, RECOMMEND)).content.decode()
    assert "上一题" in screen and "第 2 / 5 题" in screen
    review = client.get(reverse("surveys:review", args=[survey.pk])).content.decode()
    assert "10 · 非常愿意" in review


def test_a_hidden_question_is_skipped_and_shown_when_its_condition_holds(client, world):
    survey = session_survey(world)
    _signed_in(client, world.attended_parent)
    _answer(client, survey, SATISFACTION, 5)
    _answer(client, survey, RECOMMEND, 9)
    _answer(client, survey, FORMAT, 0)

    # satisfied: from 4 straight on to 6, and 5's address sends her on
    assert _answer(client, survey, TOPICS, 1)["Location"] == _q(survey, SUGGESTION)
    assert client.get(_q(survey, WHY_LOW))["Location"] == _q(survey, SUGGESTION)
    assert "第 5 / 5 题" in client.get(_q(survey, SUGGESTION)).content.decode()

    # not satisfied: 5 is shown after 4, and the count grows
    _answer(client, survey, SATISFACTION, 2)
    assert _answer(client, survey, TOPICS, 1)["Location"] == _q(survey, WHY_LOW)
    screen = client.get(_q(survey, WHY_LOW)).content.decode()
    assert "哪些地方让您不满意" in screen and "第 5 / 6 题" in screen
    assert "最多 2000 字" in screen and "<textarea" in screen


def test_a_required_question_left_empty_is_named_and_nothing_moves(client, world):
    survey = session_survey(world)
    _signed_in(client, world.attended_parent)

    response = _answer(client, survey, SATISFACTION)

    assert response.status_code == 200
    page = response.content.decode()
    assert "请回答“您对本次课程的总体满意度”，这道题必答。" in page
    assert 'role="alert"' in page
    assert not Draft.objects.filter(survey=survey).exists()
    # an optional one may stay empty
    _answer(client, survey, SATISFACTION, 5)
    _answer(client, survey, RECOMMEND, 9)
    _answer(client, survey, FORMAT, 2)
    assert _answer(client, survey, TOPICS)["Location"] == _q(survey, SUGGESTION)


def test_bad_input_is_a_message_or_a_404_never_an_error(client, world):
    survey = session_survey(world)
    _signed_in(client, world.attended_parent)

    not_an_option = _answer(client, survey, SATISFACTION, "9")
    assert not_an_option.status_code == 200
    assert "不在选项中" in not_an_option.content.decode()
    assert _answer(client, survey, SATISFACTION, "abc").status_code == 200
    too_long = _answer(client, survey, SUGGESTION, "长" * 501)
    assert too_long.status_code == 200
    assert "最多 500 个字" in too_long.content.decode()
    assert client.get(_q(survey, 0)).status_code == 404
    assert client.get(_q(survey, 99)).status_code == 404
    assert client.get(reverse("surveys:start", args=[survey.pk + 1000])).status_code == 404
    foreign = reverse("surveys:question", kwargs={"survey_id": survey.pk + 1000, "n": 1})
    assert client.post(foreign, {"move": "next", "answer": "5"}).status_code == 404
    assert not Draft.objects.exists()


def test_review_lists_every_answer_with_its_edit_link_and_submits(client, world):
    survey = session_survey(world)
    _signed_in(client, world.attended_parent)
    assert _answer_all(client, survey)["Location"] == reverse("surveys:review", args=[survey.pk])

    review = client.get(reverse("surveys:review", args=[survey.pk])).content.decode()
    assert "5 · 非常满意" in review and "案例研讨" in review and "沟通、情绪" in review
    assert "希望多安排周末的场次" in review
    assert review.count(">修改<") == 5
    assert "哪些地方让您不满意" not in review  # hidden: not asked

    response = client.post(reverse("surveys:review", args=[survey.pk]))

    assert response["Location"] == reverse("surveys:done", args=[survey.pk])
    assert "感谢您的反馈" in client.get(response["Location"]).content.decode()
    assert Participation.objects.filter(survey=survey, family=world.attended).exists()
    named = Response.objects.get(survey=survey)
    assert named.family == world.attended
    assert not Draft.objects.filter(survey=survey).exists()
    mine = client.get(reverse("surveys:mine")).content.decode()
    assert mine.count("survey-answered") == 1 and mine.count("survey-open") == 0


def test_review_refuses_to_submit_with_a_required_answer_missing(client, world):
    survey = session_survey(world)
    _signed_in(client, world.attended_parent)
    _answer(client, survey, SATISFACTION, 5)

    review = client.get(reverse("surveys:review", args=[survey.pk])).content.decode()
    assert "还有必答题没有回答" in review and "未回答（必答）" in review
    response = client.post(reverse("surveys:review", args=[survey.pk]))

    assert response.status_code == 200
    assert "请回答“您向其他家长推荐的可能性”" in response.content.decode()
    assert not Participation.objects.filter(survey=survey).exists()


def test_the_other_guardian_cannot_answer_again_after_signing_out_and_in(client, world):
    survey = session_survey(world, is_anonymous=True)
    _signed_in(client, world.attended_parent)
    _answer_all(client, survey)
    client.post(reverse("surveys:review", args=[survey.pk]))
    client.logout()

    _signed_in(client, world.second_parent)
    start = client.get(reverse("surveys:start", args=[survey.pk])).content.decode()
    assert "您的家庭已经填写过这份问卷" in start
    assert "无论用哪位家长的账号" in start
    # straight to a screen or to the submit button: refused the same way, nothing written
    assert "您的家庭已经填写过这份问卷" in _answer(client, survey, 1, 3).content.decode()
    refused = client.post(reverse("surveys:review", args=[survey.pk]))
    assert "您的家庭已经填写过这份问卷" in refused.content.decode()
    assert Participation.objects.filter(survey=survey).count() == 1
    assert (
        PendingResponse.objects.filter(survey=survey).count()
        + Response.objects.filter(survey=survey).count()
        == 1
    )
    assert not Draft.objects.filter(survey=survey).exists()
    # and her done page thanks her family
    assert "感谢您的反馈" in client.get(reverse("surveys:done", args=[survey.pk])).content.decode()


def test_a_family_that_did_not_attend_is_refused_kindly(client, world):
    survey = session_survey(world)
    for parent in (world.absent_parent, world.stranger_parent):
        client.force_login(parent)
        start = client.get(reverse("surveys:start", args=[survey.pk]))
        assert start.status_code == 200
        assert "这份问卷只请参加了相关课程或活动的家庭填写" in start.content.decode()
        assert "只请参加了" in _answer(client, survey, 1, 5).content.decode()
        client.post(reverse("surveys:review", args=[survey.pk]))
        assert client.get(reverse("surveys:done", args=[survey.pk])).status_code == 200
    assert not Draft.objects.filter(survey=survey).exists()
    assert not Participation.objects.filter(survey=survey).exists()


def test_a_closed_survey_says_so(client, world):
    survey = session_survey(
        world,
        opens_at=world.now - dt.timedelta(days=8),
        closes_at=world.now - dt.timedelta(hours=1),
    )
    _signed_in(client, world.attended_parent)

    page = client.get(reverse("surveys:start", args=[survey.pk])).content.decode()

    assert "已截止" in page
    assert "已截止" in _answer(client, survey, 1, 5).content.decode()


def test_a_user_without_a_family_is_sent_to_fill_it_in(client, world):
    survey = session_survey(world)
    _signed_in(client, world.unit_coordinator)

    assert client.get(reverse("surveys:mine"))["Location"] == reverse("members:family")
    assert client.get(reverse("surveys:start", args=[survey.pk]))["Location"] == reverse(
        "members:family"
    )


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    survey = session_survey(world)
    for url in (reverse("surveys:mine"), reverse("surveys:start", args=[survey.pk])):
        assert "/accounts/login/" in client.get(url)["Location"]


def test_the_demo_loads_through_the_services_once_and_the_demo_parent_has_surveys(client):
    from importlib import import_module

    from django.contrib.auth import get_user_model

    from portal.management.commands.load_demo import DEMO_MODULES
    from surveys import demo
    from surveys.models import Survey, SurveyTemplate

    # the term so far (sessions held, attendance); the handbook's and recognition's
    # demos are not needed here
    for path, options in DEMO_MODULES:
        if path.split(".")[0] in ("members", "courses", "events"):
            import_module(path).load(**options)
    first = demo.load()
    second = demo.load()

    assert first == second  # a second load changes nothing
    district = SurveyTemplate.objects.get(alliance=None, name=demo.DISTRICT_TEMPLATE)
    kinds = set(district.versions.get().questions.values_list("kind", flat=True))
    assert kinds == {"single", "multiple", "rating", "nps", "short_text", "long_text"}
    assert district.versions.get().questions.filter(show_if__isnull=False).count() == 1
    term = Survey.objects.get(scope=Survey.Scope.PARENT_SCHOOL_TERM)
    # ten anonymous answers: one batch of five is out, five wait (a batch goes out
    # only while twice a batch waits)
    assert term.is_anonymous and term.released_batches == 1
    assert Response.objects.filter(survey=term, family__isnull=True).count() == 5
    assert PendingResponse.objects.filter(survey=term).count() == 5
    session = Survey.objects.get(scope=Survey.Scope.SESSION)
    assert Response.objects.filter(survey=session, family__isnull=False).count() >= 2

    client.force_login(get_user_model().objects.get(username="demo_parent"))
    page = client.get(reverse("surveys:mine")).content.decode()
    assert page.count("survey-open") == 3
    assert term.title in page and session.title in page
