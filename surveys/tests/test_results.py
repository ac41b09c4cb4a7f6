"""Results of one survey (surveys/results.py): counts, response rate, distributions,
mean, median and NPS from the rows the test wrote, small groups hidden, anonymous
texts only for large groups, course series session by session, scope.

The expected figures are computed here from the answers the test made, with
``statistics`` — never typed in.
"""

from __future__ import annotations

import statistics

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.models import RoleAssignment
from members.tests.factories import (
    FamilyFactory,
    GuardianFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from surveys import results
from surveys.errors import SurveyError
from surveys.models import PendingResponse, Survey
from surveys.tests.factories import (
    AnswerFactory,
    InvitationFactory,
    ParticipationFactory,
    QuestionFactory,
    ResponseFactory,
    SurveyFactory,
    TemplateVersionFactory,
)
from surveys.tests.world import ended_session, session_survey, term_survey

# -- building answers (also used by test_comparison.py) --------------------------


def sheet(survey, version, answers: dict, *, family=None, anonymous=None, participate=True):
    """One released answer sheet of ``survey`` in ``version`` (answers by key, in
    the services' format), and the family's participation. Anonymous: no family,
    no time, batch 1 (as the release writes it)."""
    anonymous = survey.is_anonymous if anonymous is None else anonymous
    family = family or FamilyFactory()
    questions = {q.key: q for q in version.questions.all()}
    response = ResponseFactory(
        survey=survey,
        version=version,
        family=None if anonymous else family,
        submitted_by=None,
        submitted_at=None if anonymous else timezone.now(),
        batch=1 if anonymous else None,
    )
    for key, value in answers.items():
        values = value if isinstance(value, list) else [value]
        for one in values:
            if isinstance(one, str):
                AnswerFactory(response=response, question=questions[key], number=None, text=one)
            else:
                AnswerFactory(response=response, question=questions[key], number=one)
    if participate:
        ParticipationFactory(survey=survey, family=family)
    return response


def sheets(survey, version, answer_list: list[dict], **kwargs):
    return [sheet(survey, version, answers, **kwargs) for answers in answer_list]


def answers_of(ratings, nps, formats, topics=None, suggestions=None) -> list[dict]:
    """Answer sheets from columns of values (None: not answered)."""
    rows = []
    for index, (rating, recommend, fmt) in enumerate(zip(ratings, nps, formats, strict=True)):
        row = {"satisfaction": rating, "recommend": recommend, "format": fmt}
        if topics and topics[index] is not None:
            row["topics"] = topics[index]
        if suggestions and suggestions[index] is not None:
            row["suggestion"] = suggestions[index]
        rows.append(row)
    return rows


def expected_nps(values) -> int:
    promoters = sum(1 for v in values if v >= 9)
    detractors = sum(1 for v in values if v <= 6)
    return round(100 * (promoters - detractors) / len(values))


def by_key(result) -> dict:
    return {q.key: q for q in result.questions}


RATINGS = [5, 4, 4, 3, 5, 2, 4]
NPS = [10, 9, 7, 6, 8, 3, 10]
FORMATS = [0, 1, 1, 2, 1, 0, 1]
TOPICS = [[0, 2], [1], None, [0, 1, 3], [2], None, [0]]
SUGGESTIONS = ["多安排周末", None, "希望有线上回放", None, "很好", None, "增加案例"]


# -- one survey -----------------------------------------------------------------


def test_a_named_survey_gives_counts_rate_distribution_mean_median_nps_and_texts(world):
    # given: a named term survey, 10 families invited, 7 answered
    survey = term_survey(world)
    answer_list = answers_of(RATINGS, NPS, FORMATS, TOPICS, SUGGESTIONS)
    made = sheets(survey, world.version, answer_list)
    invited_families = [r.family for r in made] + [FamilyFactory() for _ in range(3)]
    for family in invited_families:
        InvitationFactory(survey=survey, family=family)

    # when
    result = results.survey_results(user=world.unit_coordinator, survey_id=survey.pk)

    # then: counts and the rate
    assert (result.invited, result.answered, result.counted, result.pending) == (
        len(invited_families),
        len(made),
        len(made),
        0,
    )
    assert result.response_rate == round(100 * len(made) / len(invited_families), 1)
    assert not result.suppressed and not result.is_series
    questions = by_key(result)
    assert list(questions) == [
        q.key for q in world.version.questions.order_by("section__position", "position")
    ]

    satisfaction = questions["satisfaction"]
    assert satisfaction.answered == len(RATINGS)
    assert satisfaction.mean == round(statistics.mean(RATINGS), 2)
    assert satisfaction.median == statistics.median(RATINGS)
    assert [(label, n) for label, n, _p in satisfaction.distribution] == [
        (f"{v} 分", RATINGS.count(v)) for v in range(1, 6)
    ]
    assert [p for _l, _n, p in satisfaction.distribution] == [
        round(100 * RATINGS.count(v) / len(RATINGS), 1) for v in range(1, 6)
    ]
    assert satisfaction.context_label == satisfaction.label  # a term survey: no session

    recommend = questions["recommend"]
    assert recommend.mean == round(statistics.mean(NPS), 2)
    assert recommend.median == statistics.median(NPS)
    assert recommend.nps == {
        "promoters": sum(1 for v in NPS if v >= 9),
        "passives": sum(1 for v in NPS if 7 <= v <= 8),
        "detractors": sum(1 for v in NPS if v <= 6),
        "score": expected_nps(NPS),
    }
    assert [n for _l, n, _p in recommend.distribution] == [NPS.count(v) for v in range(11)]

    fmt = questions["format"]
    assert [(label, n) for label, n, _p in fmt.distribution] == [
        (option, FORMATS.count(i)) for i, option in enumerate(["讲座", "案例研讨", "亲子实践"])
    ]
    assert fmt.mean is None and fmt.nps is None

    # a multiple choice: percents of the sheets that answered it
    topics = questions["topics"]
    answered_topics = [t for t in TOPICS if t is not None]
    assert topics.answered == len(answered_topics)
    for index, (_label, n, percent) in enumerate(topics.distribution):
        chosen = sum(1 for t in answered_topics if index in t)
        assert (n, percent) == (chosen, round(100 * chosen / len(answered_topics), 1))

    # named: text answers shown even though only 4 families wrote one (the group is 7)
    suggestion = questions["suggestion"]
    written = [s for s in SUGGESTIONS if s is not None]
    assert suggestion.answered == len(written) < world_min()
    assert not suggestion.suppressed
    assert sorted(suggestion.texts) == sorted(written)
    assert questions["why_low"].answered == 0


def world_min() -> int:
    return results.min_group()


def test_three_answers_are_too_few_everything_is_hidden(world):
    survey = term_survey(world)
    sheets(
        survey, world.version, answers_of(RATINGS[:3], NPS[:3], FORMATS[:3], None, SUGGESTIONS[:3])
    )

    result = results.survey_results(user=world.unit_coordinator, survey_id=survey.pk)

    assert result.counted == 3 and result.suppressed
    for question in result.questions:
        assert question.suppressed
        assert question.distribution == [] and question.texts == []
        assert question.mean is None and question.median is None and question.nps is None
    assert by_key(result)["satisfaction"].answered == 3  # the count itself is shown
    header, rows = results.results_summary_rows(result)
    mean_row = next(row for row in rows if row[1] == "平均分")
    assert mean_row[3:] == ["样本不足，不显示"]


def test_a_question_answered_by_fewer_than_five_is_hidden_in_a_large_group(world):
    survey = term_survey(world)
    topics = [[0], [1], None, None, None, None]
    sheets(survey, world.version, answers_of(RATINGS[:6], NPS[:6], FORMATS[:6], topics))

    questions = by_key(results.survey_results(user=world.unit_coordinator, survey_id=survey.pk))

    assert not questions["satisfaction"].suppressed
    assert questions["topics"].answered == 2 and questions["topics"].suppressed
    assert questions["topics"].distribution == []


def test_anonymous_text_answers_are_shown_only_when_five_or_more_wrote_one(world):
    # given: an anonymous survey with 7 released sheets, 4 suggestions, 2 pending
    survey = term_survey(world, is_anonymous=True)
    sheets(survey, world.version, answers_of(RATINGS, NPS, FORMATS, TOPICS, SUGGESTIONS))
    for _ in range(2):
        ParticipationFactory(survey=survey)
        PendingResponse.objects.create(survey=survey, version=world.version, sealed_answers="x")

    result = results.survey_results(user=world.unit_coordinator, survey_id=survey.pk)

    written = [s for s in SUGGESTIONS if s is not None]
    assert result.is_anonymous
    assert (result.counted, result.pending, result.answered) == (len(RATINGS), 2, len(RATINGS) + 2)
    suggestion = by_key(result)["suggestion"]
    assert suggestion.answered == len(written) and suggestion.suppressed and suggestion.texts == []
    assert not by_key(result)["satisfaction"].suppressed

    # when one more family writes a suggestion (five now)
    sheet(
        survey,
        world.version,
        {"satisfaction": 4, "recommend": 8, "format": 0, "suggestion": "再多一点"},
    )
    suggestion = by_key(results.survey_results(user=world.unit_coordinator, survey_id=survey.pk))[
        "suggestion"
    ]

    # then they are shown, in an order that says nothing about who wrote first
    assert not suggestion.suppressed
    assert suggestion.texts == sorted([*written, "再多一点"])


def test_results_are_scoped_by_the_survey_unit(world):
    survey = term_survey(world)
    sheets(survey, world.version, answers_of(RATINGS, NPS, FORMATS))
    parent = world.attended_parent

    for user in (world.unit_coordinator, world.alliance_coordinator, world.district_admin):
        assert results.survey_results(user=user, survey_id=survey.pk).counted == len(RATINGS)
    for user in (world.other_coordinator, parent):
        with pytest.raises(SurveyError) as refused:
            results.survey_results(user=user, survey_id=survey.pk)
        assert refused.value.code == "survey_missing"
    with pytest.raises(SurveyError):
        results.survey_results(user=world.unit_coordinator, survey_id=10**9)


def test_answers_of_two_versions_line_up_by_key_with_the_newest_label(world):
    # given: version 2 renames the satisfaction question and adds one
    survey = term_survey(world)
    v2 = TemplateVersionFactory(template=world.template, number=2)
    old = world.version.questions.get(key="satisfaction")
    section = old.section.__class__.objects.create(version=v2, title="总体评价", position=0)
    QuestionFactory(section=section, key="satisfaction", label="总体满意度（新）", position=0)
    QuestionFactory(section=section, key="new_one", label="新题目", position=1)
    sheets(survey, world.version, [{"satisfaction": v} for v in RATINGS[:3]])
    sheets(survey, v2, [{"satisfaction": v, "new_one": 3} for v in RATINGS[3:]])

    questions = by_key(results.survey_results(user=world.unit_coordinator, survey_id=survey.pk))

    # then: one row for satisfaction across versions, labelled as version 2 says;
    # version 1's questions with answers stay, those with none and not in v2 go
    assert questions["satisfaction"].label == "总体满意度（新）"
    assert questions["satisfaction"].answered == len(RATINGS)
    assert questions["satisfaction"].mean == round(statistics.mean(RATINGS), 2)
    assert list(questions)[:2] == ["satisfaction", "new_one"]
    assert "topics" not in questions


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values():
    from collections import Counter

    values = [1, 2, 2, 5, 5, 5]
    counts = Counter(values)
    assert results.distribution_median(counts) == statistics.median(values)
    assert results.distribution_mean(counts) == round(statistics.mean(values), 2)
    assert results.distribution_median(Counter()) is None


def test_families_who_answered_before_their_invitation_count_as_invited(world):
    survey = term_survey(world)
    made = sheets(survey, world.version, answers_of(RATINGS[:5], NPS[:5], FORMATS[:5]))
    InvitationFactory(survey=survey, family=made[0].family)
    InvitationFactory(survey=survey)  # invited, not answered

    result = results.survey_results(user=world.unit_coordinator, survey_id=survey.pk)

    assert (result.invited, result.answered) == (len(made) + 1, len(made))
    assert result.response_rate == round(100 * len(made) / (len(made) + 1), 1)


# -- a course series --------------------------------------------------------------


def course_series(world, *, sessions: int, is_anonymous=False, course=None):
    """A course series of ``sessions`` session surveys: of the world's course
    (its first session is the world's offering), or of ``course`` (one series per
    template and course)."""
    series = SurveyFactory(
        template=world.template,
        title="亲子沟通课后问卷",
        scope=Survey.Scope.COURSE,
        course=course or world.course,
        parent_school=None,
        term=world.term,
        unit=world.school,
        is_anonymous=is_anonymous,
    )
    children = []
    for index in range(sessions):
        offering = (
            world.offering
            if index == 0 and course is None
            else ended_session(course or world.course, hours_ago=24 * (index + 1)).offering
        )
        children.append(
            session_survey(world, offering=offering, series=series, is_anonymous=is_anonymous)
        )
    return series, children


def second_course(world):
    from courses.tests.factories import CourseFactory

    return CourseFactory(title="亲子阅读", parent_school=world.parent_school, term=world.term)


def series_of_three(world):
    """A course series of three sessions answered by 7, 3 and 6 families."""
    series, (first, second, third) = course_series(world, sessions=3)
    answered = {
        first.pk: answers_of(RATINGS, NPS, FORMATS),
        second.pk: answers_of(RATINGS[4:7], NPS[4:7], FORMATS[4:7]),
        third.pk: answers_of(RATINGS[:6], NPS[:6], FORMATS[:6]),
    }
    for survey in (first, second, third):
        sheets(survey, world.version, answered[survey.pk])
    return series, (first, second, third), answered


def test_a_course_series_shows_each_session_beside_the_total(world):
    # given: three sessions answered by 7, 3 and 6 families
    series, (first, second, third), answered = series_of_three(world)

    result = results.survey_results(user=world.unit_coordinator, survey_id=series.pk)

    assert result.is_series
    assert [s.survey.pk for s in result.sessions] == sorted(
        [first.pk, second.pk, third.pk],
        key=lambda pk: Survey.objects.get(pk=pk).offering.starts_at,
    )
    by_survey = {s.survey.pk: s for s in result.sessions}
    assert [by_survey[s.pk].counted for s in (first, second, third)] == [7, 3, 6]
    assert by_survey[second.pk].suppressed
    assert by_key(by_survey[second.pk])["satisfaction"].suppressed
    first_ratings = [row["satisfaction"] for row in answered[first.pk]]
    assert by_key(by_survey[first.pk])["satisfaction"].mean == round(
        statistics.mean(first_ratings), 2
    )
    # the shown sessions are shown here as on their own surveys' pages…
    assert not by_survey[third.pk].suppressed
    third_ratings = [row["satisfaction"] for row in answered[third.pk]]
    assert by_key(by_survey[third.pk])["satisfaction"].mean == round(
        statistics.mean(third_ratings), 2
    )
    # …so the total minus them would leave the hidden session's 3 answers: the
    # total's figures are hidden too (secondary suppression), its counts stay
    total = by_key(result)["satisfaction"]
    every_rating = [row["satisfaction"] for rows in answered.values() for row in rows]
    assert result.counted == len(every_rating) and not result.suppressed
    assert total.suppressed and total.mean is None and total.distribution == []

    # the labels carry the session: 「[亲子沟通 · 2026-03-05] 您对本次课程的总体满意度」
    date = timezone.localtime(first.offering.starts_at).date().isoformat()
    assert by_key(by_survey[first.pk])["satisfaction"].context_label == (
        f"[{first.offering.title} · {date}] 您对本次课程的总体满意度"
    )
    assert total.context_label == "[亲子沟通 · 全部场次] 您对本次课程的总体满意度"
    paired = result.rows_by_question()
    assert paired[0][0].key == "satisfaction"
    assert [q.key for q in paired[0][1]] == ["satisfaction"] * 3

    # the summary sheet: the sessions side by side, then the total
    header, rows = results.results_summary_rows(result)
    assert header[-1] == "合计" and len(header) == 3 + 4
    mean_row = next(row for row in rows if row[1] == "平均分" and "总体满意度" in row[0])
    expected = {
        first.pk: by_key(by_survey[first.pk])["satisfaction"].mean,
        second.pk: "样本不足，不显示",
        third.pk: by_key(by_survey[third.pk])["satisfaction"].mean,
    }
    assert mean_row[3:] == [*[expected[s.survey.pk] for s in result.sessions], "样本不足，不显示"]


def test_a_series_total_is_hidden_while_its_hidden_sessions_hold_1_to_4_answers(world):
    """The total minus the shown sessions is the hidden sessions' answers: the
    total is shown only when those are none or at least SURVEYS_MIN_GROUP."""
    series, (first, second, third) = course_series(world, sessions=3)
    sheets(first, world.version, answers_of(RATINGS, NPS, FORMATS))
    sheets(second, world.version, answers_of(RATINGS[:3], NPS[:3], FORMATS[:3]))

    result = results.survey_results(user=world.unit_coordinator, survey_id=series.pk)
    by_survey = {s.survey.pk: by_key(s)["satisfaction"] for s in result.sessions}
    assert not by_survey[first.pk].suppressed and by_survey[second.pk].suppressed
    assert by_key(result)["satisfaction"].suppressed  # 7 + 3: the 3 would be left

    # two hidden sessions of 3 and 2 answers: 5 left to subtract — shown
    sheets(third, world.version, answers_of(RATINGS[:2], NPS[:2], FORMATS[:2]))
    result = results.survey_results(user=world.unit_coordinator, survey_id=series.pk)
    assert sum(not by_key(s)["satisfaction"].suppressed for s in result.sessions) == 1
    assert by_key(result)["satisfaction"].mean == round(
        statistics.mean(RATINGS + RATINGS[:3] + RATINGS[:2]), 2
    )


def test_a_series_results_take_the_same_queries_for_two_or_six_sessions(world):
    counts = []
    for sessions, course in ((2, None), (6, second_course(world))):
        series, children = course_series(world, sessions=sessions, course=course)
        for child in children:
            sheet(child, world.version, {"satisfaction": 4, "recommend": 9, "format": 0})
        user = UserFactory()
        RoleAssignmentFactory(
            user=user, unit=world.school, role=RoleAssignment.Role.UNIT_COORDINATOR
        )
        with CaptureQueriesContext(connection) as queries:
            result = results.survey_results(user=user, survey_id=series.pk)
        assert len(result.sessions) == sessions
        counts.append(len(queries))
    assert counts[1] <= 12
    assert counts[0] == counts[1]


# -- exports' rows ----------------------------------------------------------------


def test_named_answer_rows_name_the_family_by_number_and_mask_the_phone(world):
    survey = session_survey(world)
    guardian = GuardianFactory(user=UserFactory(phone="13912345678"), phone="13912345678")
    response = sheet(
        survey,
        world.version,
        {"satisfaction": 2, "recommend": 4, "format": 2, "topics": [0, 3], "why_low": "太短"},
        family=guardian.family,
    )
    response.submitted_by = guardian.user
    response.save()
    sheets(survey, world.version, answers_of(RATINGS[:2], NPS[:2], FORMATS[:2]))

    raw = results.named_answer_rows(user=world.unit_coordinator, survey_id=survey.pk, chunk_size=3)
    rows = list(raw.rows)

    assert raw.header[:4] == ["家庭", "监护人手机", "场次", "提交时间"]
    assert len(rows) == 3
    row = next(r for r in rows if r[0] == f"家庭 #{guardian.family_id}")
    assert row[1] == "139****5678" and "13912345678" not in map(str, row)
    cells = dict(zip(raw.keys, row[4:], strict=True))
    assert cells["satisfaction"] == 2 and cells["recommend"] == 4
    assert cells["format"] == "亲子实践" and cells["topics"] == "沟通、安全"
    assert cells["why_low"] == "太短" and cells["suggestion"] == ""
    assert row[2].startswith(world.offering.title)
    assert row[3] == timezone.localtime(response.submitted_at).replace(tzinfo=None)


def test_named_answer_rows_refuse_an_anonymous_survey_and_a_foreign_user(world):
    anonymous = term_survey(world, is_anonymous=True)
    sheets(anonymous, world.version, answers_of(RATINGS, NPS, FORMATS))
    with pytest.raises(SurveyError) as refused:
        results.named_answer_rows(user=world.unit_coordinator, survey_id=anonymous.pk)
    assert refused.value.code == "anonymous_no_raw" and "匿名" in refused.value.message
    named = term_survey(world)
    with pytest.raises(SurveyError) as refused:
        results.named_answer_rows(user=world.other_coordinator, survey_id=named.pk)
    assert refused.value.code == "survey_missing"


def test_summary_rows_hold_the_numbers_of_the_results(world):
    survey = term_survey(world)
    sheets(survey, world.version, answers_of(RATINGS, NPS, FORMATS, TOPICS, SUGGESTIONS))
    InvitationFactory.create_batch(3, survey=survey)
    result = results.survey_results(user=world.unit_coordinator, survey_id=survey.pk)

    header, rows = results.results_summary_rows(result)

    assert header == ["题目", "指标", "类型", "全部"]
    table = {(row[0], row[1]): row for row in rows}
    assert table[("", "有效答卷")][3] == len(RATINGS)
    assert table[("", "回复率（%）")][3] == result.response_rate
    label = by_key(result)["recommend"].context_label
    assert table[(label, "净推荐值（NPS）")][2:] == ["score", expected_nps(NPS)]
    assert table[(label, "平均分")][3] == round(statistics.mean(NPS), 2)
    fmt = by_key(result)["format"].label
    assert table[(fmt, "案例研讨（%）")][3] == round(100 * FORMATS.count(1) / len(FORMATS), 1)
    assert {text for _label, text in results.results_text_rows(result)} == {
        s for s in SUGGESTIONS if s is not None
    }


def test_an_event_survey_label_carries_the_event_and_its_date(world):
    survey = session_survey(world, offering=world.event_offering)
    result = results.survey_results(user=world.unit_coordinator, survey_id=survey.pk)
    date = timezone.localtime(world.event_offering.starts_at).date().isoformat()
    assert result.context == f"{world.event_offering.title} · {date}"
    assert by_key(result)["satisfaction"].context_label.startswith(f"[{result.context}] ")
    assert result.response_rate is None and result.counted == 0


def test_a_unit_below_the_coordinators_school_is_in_scope(world):
    child_unit = MemberUnitFactory(parent=world.school)
    survey = SurveyFactory(
        template=world.template, parent_school=world.parent_school, term=world.term, unit=child_unit
    )
    assert results.survey_results(user=world.unit_coordinator, survey_id=survey.pk).survey == survey
    with pytest.raises(SurveyError):
        results.survey_results(user=world.other_coordinator, survey_id=survey.pk)


def test_charts_of_a_survey_and_of_a_series_show_the_table_numbers(world):
    series, (first, second, _third), _answered = series_of_three(world)
    result = results.survey_results(user=world.unit_coordinator, survey_id=series.pk)
    first_result = next(s for s in result.sessions if s.survey.pk == first.pk)

    # one question's distribution: the percents, each with its answer
    fmt = by_key(first_result)["format"]
    chart = results.question_chart(fmt)
    assert chart.startswith("<svg") and 'role="img"' in chart
    for label, _n, percent in fmt.distribution:
        assert label in chart and f"{percent:g}%" in chart
    small = by_key(next(s for s in result.sessions if s.survey.pk == second.pk))["format"]
    assert "样本不足，不显示" in results.question_chart(small)
    assert results.question_chart(by_key(first_result)["suggestion"]) == ""

    # the series: each session's mean beside the total, the small session hidden
    index = [q.key for q in result.questions].index("satisfaction")
    chart = results.series_chart(result, index)
    mean_first = by_key(first_result)["satisfaction"].mean
    assert f"{mean_first:g}" in chart and "合计" in chart
    # (the total is hidden too: minus the sessions shown it would be the small one)
    assert result.questions[index].mean is None and "样本不足，不显示" in chart
    choice_chart = results.series_chart(result, [q.key for q in result.questions].index("format"))
    assert "案例研讨" in choice_chart and "样本不足，不显示" in choice_chart
