"""One template compared across parent schools, units and terms
(surveys.results.template_comparison): figures from the rows the test wrote,
small groups shown as 「样本不足，不显示」, charts with the same numbers, scope, and
queries that do not grow with the number of groups.
"""

from __future__ import annotations

import statistics

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import Membership
from members.tests.factories import MembershipFactory, MemberUnitFactory
from parent_school.tests.factories import ParentSchoolFactory, TermFactory
from surveys import results
from surveys.errors import SurveyError
from surveys.models import PendingResponse, Survey
from surveys.tests.factories import (
    InvitationFactory,
    ParticipationFactory,
    SurveyFactory,
    SurveyTemplateFactory,
    with_questions,
)
from surveys.tests.test_results import (
    FORMATS,
    NPS,
    RATINGS,
    answers_of,
    expected_nps,
    sheet,
    sheets,
)
from surveys.tests.world import session_survey, term_survey

HIDDEN = "样本不足，不显示"


def second_school(world, name="城东第二小学"):
    """Another school of the world's alliance with its own parent school."""
    unit = MemberUnitFactory(name=name)
    MembershipFactory(alliance=world.alliance, unit=unit, role=Membership.Role.MEMBER)
    parent_school = ParentSchoolFactory(name=f"{name}家长学校", host_unit=unit)
    return unit, parent_school


def school_survey(world, unit, parent_school, *, term=None, template=None, **fields):
    return SurveyFactory(
        template=template or world.template,
        title=f"{parent_school.name}满意度调查",
        parent_school=parent_school,
        term=term or world.term,
        unit=unit,
        **fields,
    )


def cell(comparison, key, column_label):
    row = next(row for row in comparison.rows if row.key == key)
    index = [column.label for column in comparison.columns].index(column_label)
    return row, row.cells[index]


def test_a_coordinator_compares_two_parent_schools_and_the_small_one_is_hidden(world):
    # given: the same district template put to two parent schools of the alliance;
    # the first answered by 6 families (of 8 invited), the second by 3
    unit_b, school_b = second_school(world)
    survey_a = term_survey(world)
    survey_b = school_survey(world, unit_b, school_b)
    ratings_a, nps_a, formats_a = RATINGS[:6], NPS[:6], FORMATS[:6]
    made = sheets(survey_a, world.version, answers_of(ratings_a, nps_a, formats_a))
    for response in made:
        InvitationFactory(survey=survey_a, family=response.family)
    InvitationFactory.create_batch(2, survey=survey_a)
    sheets(survey_b, world.version, answers_of(RATINGS[4:7], NPS[4:7], FORMATS[4:7]))

    # when
    comparison = results.template_comparison(
        user=world.alliance_coordinator, template_id=world.template.pk, by="parent_school"
    )

    # then: a column per parent school, the small one suppressed
    columns = {column.label: column for column in comparison.columns}
    assert set(columns) == {world.parent_school.name, school_b.name}
    a, b = columns[world.parent_school.name], columns[school_b.name]
    assert (a.counted, a.answered, a.invited, a.surveys) == (6, 6, 8, 1)
    assert a.response_rate == round(100 * 6 / 8, 1) and not a.suppressed
    assert b.counted == 3 and b.suppressed

    row, cell_a = cell(comparison, "satisfaction", a.label)
    assert cell_a.mean == round(statistics.mean(ratings_a), 2)
    assert cell_a.median == statistics.median(ratings_a)
    assert cell_a.answered == len(ratings_a) and not cell_a.suppressed
    _row, cell_b = cell(comparison, "satisfaction", b.label)
    assert cell_b.suppressed and cell_b.mean is None and cell_b.answered == 3

    _row, recommend_a = cell(comparison, "recommend", a.label)
    assert recommend_a.nps["score"] == expected_nps(nps_a)
    _row, format_a = cell(comparison, "format", a.label)
    assert [n for _l, n, _p in format_a.distribution] == [formats_a.count(i) for i in range(3)]

    # the chart: a bar with the mean for the first school, the placeholder for the second
    assert row.chart.startswith("<svg") and 'role="img"' in row.chart
    assert HIDDEN in row.chart
    assert f"{cell_a.mean:g}" in row.chart
    choice_row, _c = cell(comparison, "format", a.label)
    assert HIDDEN in choice_row.chart and "案例研讨" in choice_row.chart
    assert [r.key for r in comparison.rows] == ["satisfaction", "recommend", "format", "topics"]

    # the same numbers in the rows of the table and of the export
    header, rows = results.comparison_rows(comparison)
    assert header[3:] == [column.label for column in comparison.columns]
    mean_row = next(r for r in rows if r[0] == row.label and r[1] == "平均分")
    by_label = dict(zip(header[3:], mean_row[3:], strict=True))
    assert by_label == {a.label: cell_a.mean, b.label: HIDDEN}
    counted_row = next(r for r in rows if r[1] == "有效答卷")
    assert dict(zip(header[3:], counted_row[3:], strict=True)) == {a.label: 6, b.label: 3}


def test_grouping_by_unit_and_by_term(world):
    unit_b, school_b = second_school(world)
    last_term = TermFactory(code="surveys-last", school_year="2025–2026")
    survey_now = term_survey(world)
    survey_last = school_survey(world, world.school, world.parent_school, term=last_term)
    survey_b = school_survey(world, unit_b, school_b)
    sheets(survey_now, world.version, answers_of(RATINGS[:5], NPS[:5], FORMATS[:5]))
    sheets(survey_last, world.version, answers_of(RATINGS[2:7], NPS[2:7], FORMATS[2:7]))
    sheets(survey_b, world.version, answers_of(RATINGS, NPS, FORMATS))

    by_unit = results.template_comparison(
        user=world.district_admin, template_id=world.template.pk, by="unit"
    )
    columns = {column.key: column for column in by_unit.columns}
    assert columns[world.school.pk].counted == 10 and columns[world.school.pk].surveys == 2
    assert columns[unit_b.pk].counted == len(RATINGS)
    _row, school_cell = cell(by_unit, "satisfaction", world.school.name)
    assert school_cell.mean == round(statistics.mean(RATINGS[:5] + RATINGS[2:7]), 2)

    by_term = results.template_comparison(
        user=world.district_admin, template_id=world.template.pk, by="term"
    )
    assert [column.key for column in by_term.columns] == sorted(
        [world.term.pk, last_term.pk],
        key=lambda pk: {world.term.pk: world.term.starts_on, last_term.pk: last_term.starts_on}[pk],
    )
    _row, last_cell = cell(by_term, "satisfaction", str(last_term))
    assert last_cell.mean == round(statistics.mean(RATINGS[2:7]), 2)

    # filters: one term, one unit
    only_last = results.template_comparison(
        user=world.district_admin,
        template_id=world.template.pk,
        by="unit",
        term_ids=[last_term.pk],
    )
    assert [(c.key, c.counted) for c in only_last.columns] == [(world.school.pk, 5)]
    only_b = results.template_comparison(
        user=world.district_admin, template_id=world.template.pk, by="term", unit_ids=[unit_b.pk]
    )
    assert [(c.key, c.counted) for c in only_b.columns] == [(world.term.pk, len(RATINGS))]


def test_session_surveys_count_for_their_course_parent_school(world):
    survey = session_survey(world)
    event_survey = session_survey(world, offering=world.event_offering)
    sheets(survey, world.version, answers_of(RATINGS[:5], NPS[:5], FORMATS[:5]))
    sheets(event_survey, world.version, answers_of(RATINGS[:5], NPS[:5], FORMATS[:5]))
    for _ in range(2):
        ParticipationFactory(survey=survey)
        PendingResponse.objects.create(survey=survey, version=world.version, sealed_answers="x")

    comparison = results.template_comparison(
        user=world.unit_coordinator, template_id=world.template.pk, by="parent_school"
    )

    # the event has no parent school: no column; the session's is its course's school
    assert [(c.key, c.counted, c.pending) for c in comparison.columns] == [
        (world.parent_school.pk, 5, 2)
    ]
    assert comparison.pending == 2


def test_another_alliance_sees_only_its_own_and_not_a_foreign_alliance_template(world):
    sheets(term_survey(world), world.version, answers_of(RATINGS, NPS, FORMATS))

    # a district template: the other alliance's coordinator sees no group of ours
    theirs = results.template_comparison(
        user=world.other_coordinator, template_id=world.template.pk, by="unit"
    )
    assert theirs.columns == [] and all(row.cells == [] for row in theirs.rows)
    header, rows = results.comparison_rows(theirs)
    assert header == ["题目", "指标", "类型"]

    # an alliance's own template is not theirs to open at all
    own = SurveyTemplateFactory(alliance=world.alliance, name="城东联盟问卷")
    with_questions(own)
    for user in (world.other_coordinator, world.attended_parent):
        with pytest.raises(SurveyError) as refused:
            results.template_comparison(user=user, template_id=own.pk, by="unit")
        assert refused.value.code == "template_missing"
    mine = results.template_comparison(user=world.unit_coordinator, template_id=own.pk, by="unit")
    assert mine.template == own and mine.columns == []


def test_unpublished_and_course_series_surveys_make_no_group(world):
    draft = term_survey(world, is_published=False)
    sheet(draft, world.version, {"satisfaction": 5, "recommend": 9, "format": 0})
    SurveyFactory(
        template=world.template,
        scope=Survey.Scope.COURSE,
        course=world.course,
        parent_school=None,
        term=world.term,
        unit=world.school,
    )
    comparison = results.template_comparison(
        user=world.district_admin, template_id=world.template.pk, by="unit"
    )
    assert comparison.columns == []


def test_a_column_with_a_small_survey_inside_is_hidden_too(world):
    """Unit A's column sums survey A1 (6 sheets, shown on its own page) and A2 (3,
    hidden there): 9 answers, but the column minus A1's page would show A2's 3 —
    hidden too. With A2 at 5 sheets nothing is hidden inside: shown."""
    unit_b, school_b = second_school(world)
    # the second survey of each unit is another term's (one per school and term)
    last_term = TermFactory(code="surveys-last", school_year="2025–2026")
    survey_a1 = term_survey(world)
    survey_a2 = school_survey(world, world.school, world.parent_school, term=last_term)
    survey_b1 = school_survey(world, unit_b, school_b)
    survey_b2 = school_survey(world, unit_b, school_b, term=last_term)
    sheets(survey_a1, world.version, answers_of(RATINGS[:6], NPS[:6], FORMATS[:6]))
    sheets(survey_a2, world.version, answers_of(RATINGS[:3], NPS[:3], FORMATS[:3]))
    sheets(survey_b1, world.version, answers_of(RATINGS[:6], NPS[:6], FORMATS[:6]))
    sheets(survey_b2, world.version, answers_of(RATINGS[:5], NPS[:5], FORMATS[:5]))

    comparison = results.template_comparison(
        user=world.district_admin, template_id=world.template.pk, by="unit"
    )

    columns = {column.label: column for column in comparison.columns}
    assert columns[world.school.name].counted == 9  # the counts stay
    assert not columns[world.school.name].suppressed
    row, hidden = cell(comparison, "satisfaction", world.school.name)
    assert hidden.suppressed and hidden.mean is None and hidden.distribution == []
    _row, shown = cell(comparison, "satisfaction", unit_b.name)
    assert not shown.suppressed
    assert shown.mean == round(statistics.mean(RATINGS[:6] + RATINGS[:5]), 2)
    # the chart and the export say the same
    assert HIDDEN in row.chart
    header, rows = results.comparison_rows(comparison)
    mean_row = next(r for r in rows if r[0] == row.label and r[1] == "平均分")
    by_column = dict(zip(header[3:], mean_row[3:], strict=True))
    assert by_column[world.school.name] == HIDDEN
    assert by_column[unit_b.name] == shown.mean


def test_a_term_column_with_a_hidden_unit_inside_is_hidden(world):
    """By term, a column sums its surveys: minus the units' shown columns it would
    leave the hidden unit (3 sheets) — so it is hidden; a term whose units are
    all large enough is shown."""
    unit_b, school_b = second_school(world)
    last_term = TermFactory(code="surveys-last", school_year="2025–2026")
    sheets(term_survey(world), world.version, answers_of(RATINGS, NPS, FORMATS))
    small = school_survey(world, unit_b, school_b)
    sheets(small, world.version, answers_of(RATINGS[:3], NPS[:3], FORMATS[:3]))
    for unit, parent_school in ((world.school, world.parent_school), (unit_b, school_b)):
        survey = school_survey(world, unit, parent_school, term=last_term)
        sheets(survey, world.version, answers_of(RATINGS[:5], NPS[:5], FORMATS[:5]))

    by_unit = results.template_comparison(
        user=world.district_admin,
        template_id=world.template.pk,
        by="unit",
        term_ids=[world.term.pk],
    )
    assert cell(by_unit, "satisfaction", unit_b.name)[1].suppressed
    assert not cell(by_unit, "satisfaction", world.school.name)[1].suppressed

    by_term = results.template_comparison(
        user=world.district_admin, template_id=world.template.pk, by="term"
    )
    columns = {column.key: column for column in by_term.columns}
    assert columns[world.term.pk].counted == len(RATINGS) + 3
    assert cell(by_term, "satisfaction", str(world.term))[1].suppressed
    last = cell(by_term, "satisfaction", str(last_term))[1]
    assert not last.suppressed and last.mean == round(statistics.mean(RATINGS[:5] * 2), 2)


def groups(world, count: int, start: int) -> None:
    """``count`` more schools of the alliance, each with a parent school, a term
    and a survey answered by SURVEYS_MIN_GROUP families: every group is shown,
    so the distributions and the charts are drawn and counted."""
    for index in range(start, start + count):
        unit, parent_school = second_school(world, name=f"城东第{index + 3}小学")
        term = TermFactory(
            code=f"surveys-bench-{index}", school_year=f"{2000 + index}–{2001 + index}"
        )
        survey = school_survey(world, unit, parent_school, term=term)
        for answer in range(settings.SURVEYS_MIN_GROUP):
            sheet(
                survey,
                world.version,
                {
                    "satisfaction": 1 + (index + answer) % 5,
                    "recommend": (index + answer) % 11,
                    "format": (index + answer) % 3,
                    "topics": [(index + answer) % 4],
                },
            )
        InvitationFactory(survey=survey)


@pytest.mark.parametrize("by", results.GROUP_BY)
def test_a_comparison_takes_the_same_queries_for_3_or_30_groups(world, by):
    user = world.alliance_coordinator
    measured = []
    for count, start in ((3, 0), (27, 3)):
        groups(world, count, start)
        user._role_assignments_cache = None  # a fresh request each time
        with CaptureQueriesContext(connection) as queries:
            comparison = results.template_comparison(
                user=user, template_id=world.template.pk, by=by
            )
        measured.append((len(comparison.columns), len(queries)))
    (few, few_queries), (many, many_queries) = measured
    assert (few, many) == (3, 30)
    assert few_queries == many_queries
    # scope, template, 4 head counts, questions, 3 aggregates, 2 for the hidden
    # remainders, names
    assert many_queries <= 13
    # every group shown (SURVEYS_MIN_GROUP answers each): the charts are drawn
    assert not any(column.suppressed for column in comparison.columns)
    assert comparison.rows
    for row in comparison.rows:
        assert not any(c.suppressed for c in row.cells)
        assert HIDDEN not in row.chart and "<svg" in row.chart


def test_a_bad_grouping_is_a_programming_error(world):
    with pytest.raises(ValueError):
        results.template_comparison(
            user=world.district_admin, template_id=world.template.pk, by="family"
        )
