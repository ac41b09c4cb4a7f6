"""The small-group rule (SURVEYS_MIN_GROUP, docs/SURVEYS.md "Results, comparison and
small groups") on the questionnaires' figures outside the survey's own results: the
unit and overview dashboards, the workbook's 问卷调查 / 目标达成 sheets and 考核.
3 satisfaction answers are withheld and shown 「样本不足，不显示」; 5 are shown."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from evaluation.models import Responsibility, UnitTarget
from members.models import RoleAssignment
from members.tests.factories import (
    FamilyFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from parent_school.tests.factories import TermFactory
from reports import exports
from reports.models import SurveySnapshot, UnitAttainment
from reports.rollup import survey_figures
from reports.services import participation_rollup
from reports.tests.factories import local
from reports.tests.test_survey_figures import _answered
from surveys.results import survey_results
from surveys.tests.factories import InvitationFactory, SurveyFactory, with_questions

WITHHELD = "样本不足，不显示"


@pytest.fixture
def term(db):
    return TermFactory(
        code="2031-2032-1", starts_on=local(2031, 9, 1).date(), ends_on=local(2032, 1, 20).date()
    )


def _unit_with_answers(term, version, counts, *, name="样本单位"):
    """A unit with one term survey per entry of ``counts``, each with that many
    invited families who answered satisfaction 4, and one invited who did not."""
    unit = MemberUnitFactory(name=name)
    surveys = []
    for count in counts:
        survey = SurveyFactory(template=version.template, term=term, unit=unit)
        for _ in range(count):
            family = FamilyFactory()
            InvitationFactory(survey=survey, family=family)
            _answered(survey, version, family, 4)
        InvitationFactory(survey=survey, family=FamilyFactory())
        surveys.append(survey)
    return unit, surveys


def _admin_client(client):
    admin = UserFactory()
    RoleAssignmentFactory(user=admin, role=RoleAssignment.Role.CITY_ADMIN, unit=None)
    client.force_login(admin)
    return client


def _sheet(book, title):
    rows = [
        list(r) for r in book[title].iter_rows(min_row=exports.TITLE_LINES + 2, values_only=True)
    ]
    return rows[:-1], rows[-1]


@pytest.mark.parametrize(("answers", "shown"), [(3, False), (5, True)])
def test_satisfaction_below_the_minimum_is_withheld_everywhere(term, client, answers, shown):
    version = with_questions()
    unit, _surveys = _unit_with_answers(term, version, [answers])
    responsibility = Responsibility.objects.create(
        code="s-sat",
        name="满意度职责",
        metric=Responsibility.Metric.SATISFACTION,
        default_value=Decimal("3.0"),
    )
    UnitTarget.objects.create(
        unit=unit,
        term=term,
        responsibility=responsibility,
        value=Decimal("3.0"),
        set_at=local(2031, 9, 2),
    )
    participation_rollup(term=term)

    # the snapshot: counts and the rate stay, the mean only when shown
    row = SurveySnapshot.objects.get(term=term, unit=unit)
    assert (row.answered, row.invited, row.satisfaction_answers) == (answers, answers + 1, answers)
    assert row.response_rate is not None
    assert row.satisfaction == (Decimal("4.00") if shown else None)

    # 考核: achieved NULL (not met) when withheld, 4.00 met when shown
    attainment = UnitAttainment.objects.get(term=term, unit=unit)
    assert (attainment.achieved, attainment.met) == (
        (Decimal("4.00"), True) if shown else (None, False)
    )

    # the unit page: the figure and the attainment row say 样本不足, not 暂无数据
    _admin_client(client)
    page = client.get(reverse("reports:unit", args=[unit.pk]), {"term": term.code})
    assert page.status_code == 200
    figures = {f["key"]: f for f in page.context["survey_figures"]}
    assert figures["satisfaction"]["value"] == (Decimal("4.00") if shown else None)
    assert figures["satisfaction"]["suppressed"] is not shown
    assert figures["answered"]["value"] == answers  # counts are not answers' content
    html = page.content.decode()
    surveys_section = html[html.index('id="surveys-title"') :]
    surveys_section = surveys_section[: surveys_section.index("</section>")]
    attainment_section = html[html.index('id="attainment-title"') :]
    attainment_section = attainment_section[: attainment_section.index("</section>")]
    if shown:
        assert "4.00" in surveys_section and WITHHELD not in surveys_section
        assert "✔ 达标" in attainment_section and WITHHELD not in attainment_section
    else:
        assert WITHHELD in surveys_section and "4.00" not in surveys_section
        assert WITHHELD in attainment_section and "暂无数据" not in attainment_section

    # the overview: the district total (its own count is this unit's)
    page = client.get(reverse("reports:overview"), {"term": term.code})
    figures = {f["key"]: f for f in page.context["survey_figures"]}
    assert figures["satisfaction"]["value"] == (Decimal("4.00") if shown else None)
    assert figures["satisfaction"]["suppressed"] is not shown
    assert (WITHHELD in page.content.decode()) is not shown

    # the workbook: the unit row, the totals row and 目标达成
    buffer = io.BytesIO()
    exports.xlsx_write(term=term, unit_ids=None, out=buffer)
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    rows, totals = _sheet(book, "问卷调查")
    assert rows[0][5] == answers and totals[5] == answers
    assert rows[0][6] == (pytest.approx(4.0) if shown else WITHHELD)
    assert totals[6] == (pytest.approx(4.0) if shown else WITHHELD)
    rows, _totals = _sheet(book, "目标达成")
    assert rows[0][3:] == ([pytest.approx(4.0), "是"] if shown else [None, WITHHELD])


def test_a_small_survey_inside_a_unit_withholds_the_unit_and_the_total(term, client):
    """Survey A (6 answers) is shown on its own page; B (3) is not. The unit's
    satisfaction of 9 answers minus A's would reveal B: withheld too. With B at 5
    answers both are shown and so is the unit. A district total whose withheld
    units hold 1–4 answers is withheld for the same reason."""
    version = with_questions()
    small, _ = _unit_with_answers(term, version, [6, 3], name="小样本单位")
    fine, _ = _unit_with_answers(term, version, [6, 5], name="足样本单位")
    figures = {f["unit_id"]: f for f in survey_figures(term=term)}
    assert figures[small.pk]["satisfaction_answers"] == 9
    assert figures[small.pk]["satisfaction"] is None
    assert figures[fine.pk]["satisfaction"] == Decimal("4.00")

    participation_rollup(term=term)
    _admin_client(client)
    # the total (20 answers) minus the unit shown (11) would be the withheld unit's 9:
    # 9 ≥ the minimum, so the total is shown
    page = client.get(reverse("reports:overview"), {"term": term.code})
    figures = {f["key"]: f for f in page.context["survey_figures"]}
    assert figures["satisfaction"]["value"] == Decimal("4.00")

    # when the withheld unit holds only 3 answers, the total minus the unit shown
    # would be those 3: the total is withheld too (the row as a roll-up of one
    # survey of 3 answers would write it)
    SurveySnapshot.objects.filter(term=term, unit=small).update(
        satisfaction_answers=3, satisfaction_sum=12
    )
    page = client.get(reverse("reports:overview"), {"term": term.code})
    figures = {f["key"]: f for f in page.context["survey_figures"]}
    assert figures["satisfaction"]["value"] is None and figures["satisfaction"]["suppressed"]
    buffer = io.BytesIO()
    exports.xlsx_write(term=term, unit_ids=None, out=buffer)
    _rows, totals = _sheet(load_workbook(io.BytesIO(buffer.getvalue())), "问卷调查")
    assert totals[6] == WITHHELD


def test_the_invited_count_and_rate_are_those_of_the_survey_results(term):
    """One survey: invited ∪ answered families (one answered before its invitation,
    one invited who did not answer) — the survey's results and the unit's roll-up
    row count them alike."""
    version = with_questions()
    unit, (survey,) = _unit_with_answers(term, version, [5])
    _answered(survey, version, FamilyFactory(), 5)  # answered, never invited
    admin = UserFactory()
    RoleAssignmentFactory(user=admin, role=RoleAssignment.Role.CITY_ADMIN, unit=None)
    results = survey_results(user=admin, survey_id=survey.pk)
    (row,) = survey_figures(term=term)
    assert (results.invited, results.answered) == (row["invited"], row["answered"]) == (7, 6)
    assert Decimal(str(results.response_rate)).quantize(Decimal("0.1")) == row["response_rate"]
