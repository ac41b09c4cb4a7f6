"""Answering: one answer per family, conditions, required questions, bad input,
drafts (surveys.services.response_submit / draft_save, selectors.answer_sheet)."""

from __future__ import annotations

import datetime as dt

import pytest

from members.sealing import unseal
from surveys import selectors, services
from surveys.errors import SurveyError
from surveys.models import Answer, Draft, Participation, Response
from surveys.tests.world import ANSWERS, session_survey, term_survey
from tests.races import run_together


def test_a_named_answer_is_one_response_with_its_answers(world):
    survey = session_survey(world)
    participation = services.response_submit(
        user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS
    )
    assert participation.family == world.attended
    response = Response.objects.get(survey=survey)
    assert response.family == world.attended and response.submitted_by == world.attended_parent
    assert response.version == world.version
    got = {}
    for a in Answer.objects.filter(response=response).select_related("question").order_by("pk"):
        got.setdefault(a.question.key, []).append(a.number if a.number is not None else a.text)
    assert got == {
        "satisfaction": [5],
        "recommend": [9],
        "format": [1],
        "topics": [0, 2],
        "suggestion": ["希望多安排周末的场次"],
    }


def test_answering_twice_is_refused_also_after_signing_in_again_or_as_the_other_guardian(
    world, client
):
    survey = session_survey(world)
    services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    # the same parent again (another browser, signed out and in: same user)
    client.force_login(world.attended_parent)
    client.logout()
    client.force_login(world.attended_parent)
    for user in (world.attended_parent, world.second_parent):
        with pytest.raises(SurveyError) as error:
            services.response_submit(user=user, survey_id=survey.pk, answers=ANSWERS)
        assert error.value.code == "already_answered"
    with pytest.raises(SurveyError) as error:
        selectors.answer_sheet(user=world.second_parent, survey_id=survey.pk)
    assert error.value.code == "already_answered"
    assert Participation.objects.filter(survey=survey).count() == 1
    assert Response.objects.filter(survey=survey).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_first_submits_at_once_leave_one_answer(tx_world):
    world = tx_world
    survey = session_survey(world)
    outcome = run_together(
        [
            lambda: services.response_submit(
                user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS
            ),
            lambda: services.response_submit(
                user=world.second_parent, survey_id=survey.pk, answers={**ANSWERS, "recommend": 3}
            ),
        ],
        meet_before_write=["surveys_participation"],
    )
    assert outcome.met == 2
    assert len(outcome.errors) == 1
    assert isinstance(outcome.errors[0], SurveyError)
    assert outcome.errors[0].code == "already_answered"
    assert Participation.objects.filter(survey=survey).count() == 1
    assert Response.objects.filter(survey=survey).count() == 1


def test_the_low_satisfaction_question_shows_only_for_1_or_2_and_hidden_answers_go(world):
    questions = selectors.version_questions(world.version.pk)
    keys = lambda answers: [q.key for q in selectors.visible_questions(questions, answers)]  # noqa: E731
    assert "why_low" not in keys({"satisfaction": 3})
    assert "why_low" in keys({"satisfaction": 2})
    assert "why_low" in keys({"satisfaction": 1})
    assert "why_low" not in keys({})
    survey = session_survey(world)
    services.response_submit(
        user=world.attended_parent,
        survey_id=survey.pk,
        answers={**ANSWERS, "satisfaction": 4, "why_low": "讲得太快"},
    )
    assert not Answer.objects.filter(question__key="why_low").exists()
    services.response_submit(
        user=world.attended2_parent,
        survey_id=survey.pk,
        answers={**ANSWERS, "satisfaction": 2, "why_low": "讲得太快"},
    )
    assert list(Answer.objects.filter(question__key="why_low").values_list("text", flat=True)) == [
        "讲得太快"
    ]


@pytest.mark.parametrize(
    "answers, code, field, words",
    [
        ({**ANSWERS, "satisfaction": None}, "answer_required", "satisfaction", "总体满意度"),
        ({k: v for k, v in ANSWERS.items() if k != "format"}, "answer_required", "format", "形式"),
        ({**ANSWERS, "satisfaction": 6}, "rating_invalid", "satisfaction", "1 到 5"),
        ({**ANSWERS, "satisfaction": True}, "rating_invalid", "satisfaction", "总体满意度"),
        ({**ANSWERS, "recommend": 11}, "nps_invalid", "recommend", "0 到 10"),
        ({**ANSWERS, "format": 3}, "choice_invalid", "format", "您最喜欢的形式"),
        ({**ANSWERS, "topics": [0, 9]}, "choice_invalid", "topics", "主题"),
        ({**ANSWERS, "suggestion": "长" * 501}, "text_too_long", "suggestion", "500"),
        ({**ANSWERS, "suggestion": 5}, "text_invalid", "suggestion", "其他建议"),
        ({**ANSWERS, "nope": 1}, "question_unknown", "nope", "nope"),
    ],
)
def test_bad_answers_are_refused_naming_the_question_and_nothing_is_written(
    world, answers, code, field, words
):
    survey = session_survey(world)
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers=answers)
    assert (error.value.code, error.value.field) == (code, field)
    assert words in str(error.value.message)
    assert not Participation.objects.exists() and not Response.objects.exists()


def test_answers_not_a_dict_are_refused(world):
    survey = session_survey(world)
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers=[1, 2])
    assert error.value.code == "answers_invalid"


@pytest.mark.parametrize(
    "who, code",
    [("absent_parent", "not_eligible"), ("stranger_parent", "not_eligible")],
)
def test_only_attending_families_may_answer_a_session_survey(world, who, code):
    survey = session_survey(world)
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=getattr(world, who), survey_id=survey.pk, answers=ANSWERS)
    assert error.value.code == code


def test_a_user_without_a_family_is_told_so(world):
    survey = session_survey(world)
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=world.unit_coordinator, survey_id=survey.pk, answers=ANSWERS)
    assert error.value.code == "no_family"


def test_the_window(world):
    survey = session_survey(world, opens_at=None, closes_at=None, answer_days=7)
    opens, closes = selectors.survey_window(survey)
    assert opens == world.offering.ends_at
    assert closes == world.offering.ends_at + dt.timedelta(days=7)
    for now, code in ((opens - dt.timedelta(minutes=1), "not_open"), (closes, "closed")):
        with pytest.raises(SurveyError) as error:
            services.response_submit(
                user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS, now=now
            )
        assert error.value.code == code
    unpublished = session_survey(world, is_published=False)
    with pytest.raises(SurveyError) as error:
        services.response_submit(
            user=world.attended_parent, survey_id=unpublished.pk, answers=ANSWERS
        )
    assert error.value.code == "survey_missing"


def test_a_draft_is_sealed_resumes_and_is_merged_on_submit(world):
    survey = session_survey(world)
    services.draft_save(
        user=world.attended_parent, survey_id=survey.pk, answers={"satisfaction": 2}, step=1
    )
    # the other guardian continues the family's draft
    services.draft_save(
        user=world.second_parent,
        survey_id=survey.pk,
        answers={"recommend": "7", "why_low": "时间太晚"},
        step=3,
    )
    draft = Draft.objects.get(survey=survey, family=world.attended)
    assert "时间太晚" not in draft.sealed_answers
    assert unseal(draft.sealed_answers, purpose="surveys.draft") == {
        "satisfaction": 2,
        "recommend": 7,
        "why_low": "时间太晚",
    }
    sheet = selectors.answer_sheet(user=world.attended_parent, survey_id=survey.pk)
    assert sheet.step == 3 and sheet.answers["recommend"] == 7
    assert "why_low" in sheet.visible_keys and len(sheet.questions) == 6
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=world.attended_parent, survey_id=survey.pk)
    assert (error.value.code, error.value.field) == ("answer_required", "format")
    services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers={"format": 0})
    assert not Draft.objects.exists()
    assert set(
        Answer.objects.filter(response__family=world.attended).values_list(
            "question__key", flat=True
        )
    ) == {"satisfaction", "recommend", "format", "why_low"}


def test_a_draft_with_a_bad_answer_is_refused_and_the_old_draft_stays(world):
    survey = session_survey(world)
    services.draft_save(
        user=world.attended_parent, survey_id=survey.pk, answers={"satisfaction": 4}
    )
    with pytest.raises(SurveyError) as error:
        services.draft_save(
            user=world.attended_parent, survey_id=survey.pk, answers={"satisfaction": 9}
        )
    assert error.value.field == "satisfaction"
    draft = Draft.objects.get()
    assert unseal(draft.sealed_answers, purpose="surveys.draft") == {"satisfaction": 4}


@pytest.mark.django_db(transaction=True)
def test_two_tabs_saving_the_first_draft_at_once_share_one_draft(tx_world):
    world = tx_world
    survey = session_survey(world)
    outcome = run_together(
        [
            lambda: services.draft_save(
                user=world.attended_parent, survey_id=survey.pk, answers={"satisfaction": 4}
            ),
            lambda: services.draft_save(
                user=world.second_parent, survey_id=survey.pk, answers={"recommend": 8}
            ),
        ],
        meet_before_write=["surveys_draft"],
    )
    assert outcome.errors == []
    draft = Draft.objects.get()
    assert unseal(draft.sealed_answers, purpose="surveys.draft") == {
        "satisfaction": 4,
        "recommend": 8,
    }


def test_term_survey_eligibility_counts_confirmed_bookings_of_the_school(world):
    survey = term_survey(world)
    services.response_submit(user=world.absent_parent, survey_id=survey.pk, answers=ANSWERS)
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=world.stranger_parent, survey_id=survey.pk, answers=ANSWERS)
    assert error.value.code == "not_eligible"


@pytest.mark.parametrize("text", ["好\x00的", "响\x07铃", "换\x0c页"])
def test_text_with_control_characters_is_refused_naming_the_question(world, text):
    survey = session_survey(world)
    with pytest.raises(SurveyError) as error:
        services.response_submit(
            user=world.attended_parent, survey_id=survey.pk, answers={**ANSWERS, "suggestion": text}
        )
    assert error.value.code == "text_control_chars" and error.value.field == "suggestion"
    assert "其他建议" in error.value.message
    assert not Participation.objects.filter(survey=survey).exists()


def test_newlines_and_tabs_are_kept_in_texts(world):
    survey = session_survey(world)
    services.response_submit(
        user=world.attended_parent,
        survey_id=survey.pk,
        answers={**ANSWERS, "suggestion": "第一行\r\n第二行\t结束"},
    )
    assert Answer.objects.get(response__survey=survey, question__key="suggestion").text == (
        "第一行\n第二行\t结束"
    )
