"""Dashboards and exports: scoping per role, query counts, jobs, files."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from bookings.models import Booking
from members.models import AuditLog
from members.privacy import mask_phone
from members.tests.factories import MembershipFactory, MemberUnitFactory
from reports.models import ReportJob
from reports.services import participation_rollup
from reports.tests.factories import (
    CourseFactory,
    ParentSchoolFactory,
    TargetFactory,
    booking_make,
    local,
    session_make,
)
from reports.tests.workbook import cells, pdf_pages, table, to_pdf


@pytest.fixture
def rolled_up(dataset, people):
    participation_rollup(term=dataset.term, now=dataset.now)
    return dataset


def login(client, user):
    client.force_login(user)
    return client


def test_dashboard_link_is_shown_to_coordinators_only(client, rolled_up, people):
    # when
    as_parent = login(client, people.parent).get(reverse("portal:home")).content.decode()
    as_coordinator = login(client, people.u1).get(reverse("portal:home")).content.decode()

    # then
    assert "统计看板" not in as_parent
    assert reverse("reports:overview") in as_coordinator


def test_parents_cannot_open_the_dashboard(client, rolled_up, people):
    response = login(client, people.parent).get(reverse("reports:overview"))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("who", "person_times", "sees_u2"),
    [("u1", 8, False), ("alliance", 8, True), ("admin", 8, True), ("u3", 0, False)],
)
def test_overview_shows_only_the_units_a_coordinator_may_see(
    client, rolled_up, people, who, person_times, sees_u2
):
    # when
    response = login(client, getattr(people, who)).get(reverse("reports:overview"))

    # then
    assert response.status_code == 200
    assert response.context["figures"]["person_times"] == person_times
    names = [row["unit__name"] for row in response.context["units_page"]]
    assert (rolled_up.u2.name in names) is sees_u2
    assert ("第一小学" in names) is (who != "u3")
    assert "<svg" in response.content.decode()


def test_unit_and_school_pages_of_other_units_are_404(client, rolled_up, people):
    # given
    login(client, people.u1)

    # then
    assert client.get(reverse("reports:unit", args=[rolled_up.u1.pk])).status_code == 200
    assert client.get(reverse("reports:unit", args=[rolled_up.u2.pk])).status_code == 404
    assert client.get(reverse("reports:school", args=[rolled_up.ps_a.pk])).status_code == 200
    assert client.get(reverse("reports:school", args=[rolled_up.ps_c.pk])).status_code == 404


def test_unit_page_compares_its_parent_schools_and_lists_targets(client, rolled_up, people):
    # when
    response = login(client, people.u1).get(
        reverse("reports:unit", args=[rolled_up.u1.pk]), {"term": rolled_up.term.code}
    )

    # then
    targets = {row.parent_school.name: row.target_met for row in response.context["targets"]}
    assert targets == {"A家长学校": True, "B家长学校": False}
    assert [row.person_times for row in response.context["schools"]] == [5, 2, 1]
    assert response.context["figures"]["attendance_rate"] is not None


def _grow(d, n: int) -> None:
    """Add ``n`` more units to the alliance, each with a parent school, a target,
    a held session and a booking, to u1 ``n`` more parent schools with the same, and
    to A家长学校 ``n`` more held sessions."""
    for i in range(n):
        extra = session_make(course=d.course_a, starts_at=local(2026, 3 + i % 3, 2 + i))
        booking_make(
            offering=extra.offering,
            family=d.f2,
            guardian=d.g2,
            attendance=Booking.Attendance.PRESENT,
        )
        unit = MemberUnitFactory(name=f"增补单位{i}")
        MembershipFactory(alliance=d.alliance, unit=unit)
        for host in (unit, d.u1):
            school = ParentSchoolFactory(host_unit=host)
            TargetFactory(parent_school=school, term=d.term, sessions_required=1)
            course = CourseFactory(parent_school=school, term=d.term)
            session = session_make(course=course, starts_at=local(2026, 4, 1 + i))
            booking_make(
                offering=session.offering,
                family=d.f1,
                guardian=d.g1,
                attendance=Booking.Attendance.PRESENT,
            )
    participation_rollup(term=d.term, now=d.now)


@pytest.mark.parametrize(
    ("name", "args"),
    [("reports:overview", []), ("reports:unit", ["u1"]), ("reports:school", ["ps_a"])],
)
def test_dashboard_pages_use_a_constant_number_of_queries(client, rolled_up, people, name, args):
    # given a coordinator of the whole alliance
    login(client, people.alliance)
    url = reverse(name, args=[getattr(rolled_up, a).pk for a in args])

    def queries_for_page():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured), response

    # when the page is read with the hand-built data, and again with many more
    # units, parent schools, targets, sessions and bookings
    small, small_response = queries_for_page()
    _grow(rolled_up, 12)
    large, large_response = queries_for_page()

    # then the larger data set was shown with the same number of queries: session,
    # user, roles, term list/term, snapshots (figures, trend, comparison, targets
    # count + page), units for the export form, open job, my jobs, the growth
    # handbook's figures (one aggregate; on the overview its table's count + page)
    before = small_response.context["figures"]["person_times"]
    assert large_response.context["figures"]["person_times"] >= before + 12
    page = large_response.content.decode()
    if name == "reports:overview":
        assert "增补单位0" in page
    elif name == "reports:unit":
        assert page.count("测试家长学校") >= 12
    assert large == small
    # the overview also reads the questionnaires' figures (one aggregate; the
    # comparison table's survey columns come in its own query); the unit page
    # that aggregate, its attainment rows (考核, one query) and the evaluation
    # panel (evaluation.selectors.evaluation_panel: targets, feedback, actions,
    # last term's, timeline — a fixed handful)
    assert small <= (25 if name == "reports:unit" else 17)


def test_bad_term_gets_a_message_not_a_500(client, rolled_up, people):
    response = login(client, people.u1).get(reverse("reports:overview"), {"term": "nope"})
    assert response.status_code == 200
    assert "找不到该学期" in response.content.decode()


def test_recompute_runs_in_the_background_and_the_job_page_shows_it(
    client, rolled_up, people, django_capture_on_commit_callbacks
):
    # given
    login(client, people.u1)

    # when (queued after commit; tasks run eagerly in unit tests)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:recompute"), {"term": rolled_up.term.code})

    # then
    job = ReportJob.objects.get(kind=ReportJob.Kind.ROLLUP)
    assert response.status_code == 302 and response.url == reverse("reports:job", args=[job.pk])
    assert job.status == ReportJob.Status.DONE and job.progress == 100
    page = client.get(response.url).content.decode()
    assert "已完成" in page
    assert login(client, people.alliance).get(response.url).status_code == 404


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_csv_export_is_scoped_masked_escaped_and_audited(client, rolled_up, people):
    # when
    response = login(client, people.u1).post(
        reverse("reports:export"), {"term": rolled_up.term.code, "format": "csv"}
    )

    # then
    rows = _csv_rows(response)
    header, data = rows[0], rows[1:]
    assert header[:4] == ["类型", "单位", "家长学校", "课程/活动"]
    assert len(data) == 12  # 9 enrolments of A and B, 3 registrations of u1's events
    assert {row[1] for row in data} == {"第一小学"}
    assert "'+法治教育" in {row[3] for row in data}
    assert "'@李爸爸" in {row[7] for row in data}
    phones = {row[8] for row in data}
    assert "138****1234" in phones and "13812341234" not in "".join(phones)
    entry = AuditLog.objects.get(action="reports.export.csv")
    assert entry.actor == people.u1 and entry.data["rows"] == 12


def test_csv_export_of_a_unit_outside_the_scope_is_refused(client, rolled_up, people):
    response = login(client, people.u1).post(
        reverse("reports:export"),
        {"term": rolled_up.term.code, "format": "csv", "unit": rolled_up.u2.pk},
    )
    assert response.status_code == 302
    assert not AuditLog.objects.filter(action__startswith="reports.export").exists()


def test_workbook_has_the_three_sheets_for_the_coordinators_units(
    client, rolled_up, people, tmp_path
):
    # when
    response = login(client, people.alliance).post(
        reverse("reports:export"), {"term": rolled_up.term.code, "format": "xlsx"}
    )

    # then
    path = tmp_path / "report.xlsx"
    path.write_bytes(response.content)
    book = load_workbook(path)
    assert book.sheetnames == ["汇总", "成长手册", "问卷调查", "目标达成", "开课场次", "出勤名单"]
    summary = table(book["汇总"])
    # the title block names the scope and who asked (masked phone: no display name)
    assert summary.heading[1] == '范围：=HYPERLINK("x")社区、第一小学'
    assert summary.heading[2].endswith(f"生成人：{mask_phone(people.alliance.phone)}")
    assert summary.header == [
        "单位",
        "家长学校",
        "开课次数",
        "目标",
        "达标",
        "参与人次",
        "覆盖家庭数",
        "出勤率",
        "学分",
    ]
    by_school = {row[1]: row for row in summary.rows}
    # numbers are numbers, the rate a fraction formatted as a percentage
    # (the workbook used to hold the text "75.0%")
    # (families: those who attended, F1 and F3, by the roll-up's definition)
    assert by_school["A家长学校"][2:] == (2, 2, "是", 5, 2, 0.75, 3.5)
    assert by_school["D家长学校"][2:5] == (0, 10, "否")
    rates = [c for c in cells(book["汇总"], "出勤率") if c.value is not None]
    assert rates and {c.number_format for c in rates} == {"0.0%"}
    # u2's formula-like name is escaped
    assert by_school["C家长学校"][0] == '\'=HYPERLINK("x")社区'
    roster = table(book["出勤名单"])
    assert len(roster.rows) == 8  # confirmed enrolments of A (5, incl. A3's), B (1), C (1) + A4
    assert all("****" in row[6] for row in roster.rows)
    assert AuditLog.objects.filter(action="reports.export.xlsx").count() == 1


def test_workbook_converts_to_pdf_with_libreoffice(rolled_up, tmp_path):
    # given
    from reports.exports import xlsx_write

    path = tmp_path / "report.xlsx"
    xlsx_write(term=rolled_up.term, unit_ids=None, out=str(path))

    # when
    pdf = to_pdf(path, tmp_path)

    # then: a small report prints each of its six sheets on one page
    # (reports/tests/test_workbook.py checks the print setup in detail)
    assert pdf_pages(pdf) == 6


def test_big_export_runs_in_the_background_and_only_its_requester_downloads_it(
    client, rolled_up, people, settings, tmp_path, django_capture_on_commit_callbacks
):
    # given
    settings.EXPORT_BACKGROUND_THRESHOLD = 5
    settings.MEDIA_ROOT = tmp_path

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = login(client, people.u1).post(
            reverse("reports:export"), {"term": rolled_up.term.code, "format": "csv"}
        )

    # then
    job = ReportJob.objects.get(kind=ReportJob.Kind.EXPORT_CSV)
    assert response.url == reverse("reports:job", args=[job.pk])
    assert job.status == ReportJob.Status.DONE and job.rows_done == 12
    assert "下载" in client.get(response.url).content.decode()
    download = reverse("reports:job_download", args=[job.pk])
    body = b"".join(client.get(download).streaming_content).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(body)))) == 13
    assert login(client, people.alliance).get(download).status_code == 404
    assert login(client, people.admin).get(download).status_code == 404
