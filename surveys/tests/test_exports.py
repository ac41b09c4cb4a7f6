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
from surveys.tests.test_manage_pages import answer_sheet
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
