"""The results workbook (surveys/exports.py) read back with openpyxl: the summary's
numbers are the results page's, text is formula-escaped, families are masked,
every export is audit-logged, and an anonymous survey's raw answers are refused."""

from __future__ import annotations

import io
import statistics

import openpyxl
import pytest
from django.urls import reverse

from members.models import AuditLog
from members.privacy import mask_phone
from members.tests.factories import GuardianFactory, UserFactory
from surveys import results
from surveys.models import Survey
from surveys.tests.test_manage_pages import answer_sheet, school_term_survey
from surveys.tests.world import ANSWERS, session_survey

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _book(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == XLSX
    return openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)


def _rows(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _named_survey(world, satisfactions=(5, 4, 4, 2, 5, 3)):
    survey = session_survey(world)
    parents = []
    for value in satisfactions:
        parent = UserFactory(display_name="测试家长", phone=f"1771234{len(parents):04d}")
        guardian = GuardianFactory(user=parent)
        answer_sheet(
            survey,
            world.version,
            {**ANSWERS, "satisfaction": value, "suggestion": '=HYPERLINK("http://x")'},
            family=guardian.family,
            user=parent,
        )
        parents.append(parent)
    return survey, parents


def test_the_summary_sheet_holds_the_numbers_of_the_results_page(client, world):
    # given
    satisfactions = (5, 4, 4, 2, 5, 3)
    survey, _parents = _named_survey(world, satisfactions)
    client.force_login(world.unit_coordinator)
    # when
    book = _book(client.post(reverse("surveys:manage_survey_export", args=[survey.pk])))
    # then
    assert book.sheetnames[0] == "汇总"
    rows = _rows(book["汇总"])
    page = results.survey_results(user=world.unit_coordinator, survey_id=survey.pk)
    satisfaction = next(q for q in page.questions if q.key == "satisfaction")
    # the label carries the session (context_label)
    assert world.offering.title in satisfaction.context_label
    mean_row = next(r for r in rows if r[0] == satisfaction.context_label and r[1] == "平均分")
    assert mean_row[2] == pytest.approx(statistics.mean(satisfactions), abs=0.01)
    assert mean_row[2] == pytest.approx(satisfaction.mean, abs=0.01)
    median_row = next(r for r in rows if r[0] == satisfaction.context_label and r[1] == "中位数")
    assert median_row[2] == pytest.approx(statistics.median(satisfactions))
    counted = next(r for r in rows if r[1] == "有效答卷")
    assert counted[2] == len(satisfactions)
    # the heading names the survey
    assert survey.title in str(rows[0][0])


def test_the_raw_sheet_masks_families_and_escapes_formulae(client, world):
    survey, parents = _named_survey(world)
    client.force_login(world.unit_coordinator)
    book = _book(
        client.post(reverse("surveys:manage_survey_export", args=[survey.pk]), {"raw": "1"})
    )
    assert "原始答卷" in book.sheetnames
    rows = _rows(book["原始答卷"])
    header_at = next(i for i, r in enumerate(rows) if r[0] == "家庭")
    header, data = rows[header_at], rows[header_at + 1 :]
    assert len(data) == len(parents)
    suggestion = header.index(next(h for h in header if h and "其他建议" in h))
    # a cell that would be a formula starts with an apostrophe (the one rule)
    assert all(str(r[suggestion]).startswith("'=") for r in data)
    # families by their label, phones masked, never whole
    whole = "\n".join(str(c) for r in rows for c in r if c is not None)
    for parent in parents:
        assert parent.phone not in whole
        assert mask_phone(parent.phone) in whole
    assert all(str(r[0]).startswith("家庭 #") for r in data)


def test_every_export_is_audit_logged(client, world):
    survey, _parents = _named_survey(world)
    client.force_login(world.unit_coordinator)
    client.post(reverse("surveys:manage_survey_export", args=[survey.pk]), {"raw": "1"})
    entry = AuditLog.objects.get(action="surveys.results.export")
    assert entry.actor == world.unit_coordinator
    assert entry.target_id == str(survey.pk)
    assert entry.data["raw"] is True
    assert entry.data["raw_rows"] == 6


def test_the_raw_answers_of_an_anonymous_survey_are_refused(client, world):
    survey = session_survey(world, is_anonymous=True)
    for _n in range(5):
        answer_sheet(survey, world.version, ANSWERS)
    client.force_login(world.unit_coordinator)
    response = client.post(
        reverse("surveys:manage_survey_export", args=[survey.pk]), {"raw": "1"}, follow=True
    )
    assert "匿名问卷不能导出原始答卷" in response.content.decode()
    assert not AuditLog.objects.filter(action="surveys.results.export").exists()
    # the summary is allowed, and has no raw sheet
    book = _book(client.post(reverse("surveys:manage_survey_export", args=[survey.pk])))
    assert "原始答卷" not in book.sheetnames


def test_another_alliances_coordinator_cannot_export(client, world):
    survey, _parents = _named_survey(world)
    client.force_login(world.other_coordinator)
    response = client.post(reverse("surveys:manage_survey_export", args=[survey.pk]))
    assert response.status_code == 404
    assert not AuditLog.objects.filter(action="surveys.results.export").exists()


def test_a_small_survey_exports_the_suppressed_label_not_numbers(client, world):
    survey, _parents = _named_survey(world, satisfactions=(5, 1, 3))
    client.force_login(world.unit_coordinator)
    rows = _rows(
        _book(client.post(reverse("surveys:manage_survey_export", args=[survey.pk])))["汇总"]
    )
    mean_rows = [r for r in rows if r[1] == "平均分"]
    assert mean_rows and all(r[2] == "样本不足，不显示" for r in mean_rows)
    assert Survey.objects.get(pk=survey.pk).is_anonymous is False


# -- the printable pages are audit-logged like the exports ------------------------


def test_opening_the_printable_results_page_is_audit_logged(client, world):
    survey, _parents = _named_survey(world)
    client.force_login(world.unit_coordinator)
    assert client.get(reverse("surveys:manage_survey_print", args=[survey.pk])).status_code == 200
    entry = AuditLog.objects.get(action="surveys.results.print")
    assert entry.actor == world.unit_coordinator
    assert entry.target_type == "surveys.Survey"
    assert entry.target_id == str(survey.pk)
    # out of scope: 404 and nothing logged
    client.force_login(world.other_coordinator)
    assert client.get(reverse("surveys:manage_survey_print", args=[survey.pk])).status_code == 404
    assert AuditLog.objects.filter(action="surveys.results.print").count() == 1


# -- the comparison's workbook and printable page ---------------------------------


def _two_schools(world):
    """The template's term survey at two parent schools: 6 answers (satisfaction
    mean 4.33) and 3 (too few: hidden). The second school's name starts like a
    formula."""
    from parent_school.tests.factories import ParentSchoolFactory
    from surveys.tests.world import term_survey

    ours = term_survey(world)
    second = ParentSchoolFactory(name="=第二家长学校", host_unit=world.school)
    theirs = school_term_survey(world, second, title="第二家长学校学期问卷")
    for value in (5, 5, 4, 4, 3, 5):
        answer_sheet(ours, world.version, {**ANSWERS, "satisfaction": value})
    for _n in range(3):
        answer_sheet(theirs, world.version, ANSWERS)
    return ours, theirs, second


def _comparison_export(client, world, **extra):
    return client.post(
        reverse("surveys:manage_comparison_export"),
        {"template": world.template.pk, "by": "parent_school", **extra},
    )


def test_the_comparison_workbook_holds_the_pages_numbers_and_hides_a_small_school(client, world):
    # given
    _ours, _theirs, second = _two_schools(world)
    client.force_login(world.alliance_coordinator)
    # when
    book = _book(_comparison_export(client, world))
    # then: one sheet, a column per school, the numbers of comparison_rows
    assert book.sheetnames == ["比较"]
    rows = _rows(book["比较"])
    header_at = next(i for i, r in enumerate(rows) if r[0] == "题目")
    header, data = rows[header_at], rows[header_at + 1 :]
    assert header[1] == "指标"
    ours_at = header.index(world.parent_school.name)
    # a school's name that looks like a formula is escaped by the one rule
    theirs_at = header.index("'" + second.name)
    comparison = results.template_comparison(
        user=world.alliance_coordinator, template_id=world.template.pk, by="parent_school"
    )
    satisfaction = next(row for row in comparison.rows if row.key == "satisfaction")
    mean = next(r for r in data if r[0] == satisfaction.label and r[1] == "平均分")
    assert mean[ours_at] == pytest.approx(4.33, abs=0.01)
    assert mean[theirs_at] == "样本不足，不显示"
    counted = next(r for r in data if r[1] == "有效答卷")
    assert counted[ours_at] == 6
    # every question of the page is in the sheet, by the page's label
    assert {row.label for row in comparison.rows} <= {r[0] for r in data if r[0]}
    # audit-logged with the template as target
    entry = AuditLog.objects.get(action="surveys.comparison.export")
    assert entry.actor == world.alliance_coordinator
    assert entry.target_type == "surveys.SurveyTemplate"
    assert entry.target_id == str(world.template.pk)
    assert entry.data["by"] == "parent_school"
    assert entry.data["groups"] == 2


def test_the_comparison_workbook_is_scoped_like_the_page(client, world):
    # the district's template is usable by every coordinator, but another
    # alliance's coordinator sees none of our schools in it
    _two_schools(world)
    client.force_login(world.other_coordinator)
    rows = _rows(_book(_comparison_export(client, world))["比较"])
    whole = "\n".join(str(c) for r in rows for c in r if c is not None)
    assert world.parent_school.name not in whole
    assert "第二家长学校" not in whole
    assert AuditLog.objects.get(action="surveys.comparison.export").data["groups"] == 0
    # a family never reaches it
    client.force_login(world.attended_parent)
    assert _comparison_export(client, world).status_code == 403
    assert AuditLog.objects.filter(action="surveys.comparison.export").count() == 1


def test_a_comparison_export_without_a_template_is_refused_with_a_message(client, world):
    client.force_login(world.alliance_coordinator)
    response = client.post(reverse("surveys:manage_comparison_export"), {"by": "x"}, follow=True)
    assert "请先选择问卷模板和比较方式" in response.content.decode()
    assert not AuditLog.objects.filter(action="surveys.comparison.export").exists()


def test_the_comparison_printable_page_has_the_numbers_and_is_audit_logged(client, world):
    _two_schools(world)
    client.force_login(world.alliance_coordinator)
    params = {"template": world.template.pk, "by": "parent_school"}
    page = client.get(reverse("surveys:manage_comparison"), params).content.decode()
    # the comparison page links its printable page and its export
    assert reverse("surveys:manage_comparison_print") in page
    assert reverse("surveys:manage_comparison_export") in page
    response = client.get(reverse("surveys:manage_comparison_print"), params)
    body = response.content.decode()
    assert response.status_code == 200
    assert "4.33" in body and "样本不足，不显示" in body
    assert "data-print" in body
    assert "<form" not in body.split("survey-print", 1)[-1]
    entry = AuditLog.objects.get(action="surveys.comparison.print")
    assert entry.target_id == str(world.template.pk)
    assert entry.data["by"] == "parent_school"


# -- text answers: the page lists the first TEXTS_SHOWN, the workbook all ---------


def test_the_page_says_texts_are_capped_and_the_workbook_has_them_all(client, world, monkeypatch):
    # given: a named survey of 6 sheets with 6 suggestions, the page's cap at 4
    monkeypatch.setattr(results, "TEXTS_SHOWN", 4)
    survey = session_survey(world)
    for n in range(6):
        answer_sheet(survey, world.version, {**ANSWERS, "suggestion": f"建议{n}"})
    client.force_login(world.unit_coordinator)
    # when
    body = client.get(reverse("surveys:manage_survey", args=[survey.pk])).content.decode()
    book = _book(client.post(reverse("surveys:manage_survey_export", args=[survey.pk])))
    # then: the page says how many it lists of how many
    assert "仅显示前 4 条" in body and "共 6 条" in body
    texts = [r for r in _rows(book["文字答案"]) if r[1] and str(r[1]).startswith("建议")]
    assert sorted(r[1] for r in texts) == [f"建议{n}" for n in range(6)]
    assert all(world.offering.title in r[0] for r in texts)


def test_the_page_says_nothing_of_a_cap_when_every_text_is_shown(client, world):
    survey = session_survey(world)
    for n in range(5):
        answer_sheet(survey, world.version, {**ANSWERS, "suggestion": f"建议{n}"})
    client.force_login(world.unit_coordinator)
    body = client.get(reverse("surveys:manage_survey", args=[survey.pk])).content.decode()
    assert "建议4" in body
    assert "仅显示前" not in body


def test_an_anonymous_surveys_texts_reach_the_workbook_only_from_a_large_group(client, world):
    small = session_survey(world, is_anonymous=True)
    for n in range(3):
        answer_sheet(small, world.version, {**ANSWERS, "suggestion": f"小组建议{n}"})
    large = session_survey(world, offering=world.event_offering, is_anonymous=True)
    for n in (3, 1, 4, 0, 2):
        answer_sheet(large, world.version, {**ANSWERS, "suggestion": f"大组建议{n}"})
    client.force_login(world.unit_coordinator)
    small_book = _book(client.post(reverse("surveys:manage_survey_export", args=[small.pk])))
    whole = "\n".join(str(c) for s in small_book for r in _rows(s) for c in r if c is not None)
    assert "小组建议" not in whole
    large_book = _book(client.post(reverse("surveys:manage_survey_export", args=[large.pk])))
    texts = [r[1] for r in _rows(large_book["文字答案"]) if r[1] and "大组建议" in str(r[1])]
    # all of them, sorted by their text so their order tells nothing
    assert texts == [f"大组建议{n}" for n in range(5)]


def test_the_comparison_exports_queries_do_not_grow_with_the_groups(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from parent_school.tests.factories import ParentSchoolFactory

    client.force_login(world.alliance_coordinator)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            _book(_comparison_export(client, world))
        return len(captured)

    _two_schools(world)
    two = queries()
    for n in range(3):
        school = ParentSchoolFactory(name=f"第{n + 3}家长学校", host_unit=world.school)
        survey = school_term_survey(world, school)
        for value in (5, 4, 3, 4, 5):
            answer_sheet(survey, world.version, {**ANSWERS, "satisfaction": value})
    assert queries() == two
