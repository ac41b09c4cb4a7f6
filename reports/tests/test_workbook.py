"""The term workbook is fit to hand in: typed cells with Chinese number formats,
a title block, totals, fitted widths, a frozen header, and A4 landscape printing
one page wide with the header on every page (checked through LibreOffice)."""

import datetime as dt

import pytest
from openpyxl import load_workbook

from bookings.models import Booking
from members import spreadsheets as sheets
from members.tests.factories import GuardianFactory, MemberUnitFactory, UserFactory
from members.tests.sheets import column_width, fit_to_pages, is_count
from reports import exports
from reports.services import participation_rollup
from reports.tests.factories import (
    CourseFactory,
    ParentSchoolFactory,
    TermFactory,
    booking_make,
    local,
    session_make,
)
from reports.tests.workbook import (
    cells,
    pdf_media_boxes,
    pdf_pages,
    print_scale,
    table,
    to_pdf,
)

pytestmark = pytest.mark.django_db

SHEETS = ["汇总", "成长手册", "问卷调查", "目标达成", "开课场次", "出勤名单"]
TITLES = [
    "亲子沟通的技巧：如何倾听青春期孩子的心声",
    "家庭中的规则与自由：给低年级家长的十个建议",
    "手机与游戏：和孩子一起订一份家庭约定",
    "情绪管理：当孩子说“我不想上学”的时候",
]
NOW = local(2026, 10, 15, 9, 30)


@pytest.fixture
def four_rows(db):
    """A term with four parent schools, one session and one family each: four
    rows on every sheet, with the long names real schools and courses have."""
    term = TermFactory(
        code="2026-2027-1",
        school_year="2026–2027",
        semester=1,
        starts_on=dt.date(2026, 9, 1),
        ends_on=dt.date(2027, 1, 22),
    )
    unit = MemberUnitFactory(name="重庆市渝中区人和街小学（本部）")
    sessions, bookings = [], []
    for n, (number, title) in enumerate(zip("一二三四", TITLES, strict=True)):
        school = ParentSchoolFactory(
            name=f"人和街小学第{number}家长学校（家庭教育指导中心）", host_unit=unit
        )
        course = CourseFactory(parent_school=school, term=term, title=title)
        session = session_make(course=course, starts_at=local(2026, 9, 2 + 7 * n, 18, 30))
        guardian = GuardianFactory(
            user=UserFactory(display_name=f"欧阳晓明{number}（五年级二班欧阳乐乐妈妈）")
        )
        present = n < 3
        booking = booking_make(
            offering=session.offering,
            family=guardian.family,
            guardian=guardian,
            attendance=Booking.Attendance.PRESENT if present else Booking.Attendance.ABSENT,
        )
        if present:
            Booking.objects.filter(pk=booking.pk).update(
                checked_in_at=local(2026, 9, 2 + 7 * n, 18, 21)
            )
        sessions.append(session)
        bookings.append(booking)
    participation_rollup(term=term, now=NOW)
    coordinator = UserFactory(display_name="陈老师")
    return term, unit, sessions, bookings, coordinator


def _write(four_rows, tmp_path, **kwargs):
    term, _unit, _sessions, _bookings, coordinator = four_rows
    path = tmp_path / "term-report.xlsx"
    exports.xlsx_write(
        term=term, unit_ids=None, out=str(path), actor=coordinator, now=NOW, **kwargs
    )
    return path


def test_every_sheet_has_the_title_block_a_frozen_header_and_the_print_setup(four_rows, tmp_path):
    # when
    book = load_workbook(_write(four_rows, tmp_path))

    # then
    assert book.sheetnames == SHEETS
    for name in SHEETS:
        sheet = book[name]
        found = table(sheet)
        assert found.heading == [
            f"2026–2027学年第一学期 学期报表 · {name}",
            "范围：全部单位",
            "生成时间：2026年10月15日 周四 09:30（北京时间，表中时间均为北京时间）　生成人：陈老师",
        ]
        assert found.header_row == 4 and sheet["A4"].font.b
        assert sheet.freeze_panes == "A5"
        assert sheet.print_title_rows == "$4:$4"  # the header on every printed page
        assert sheet.page_setup.orientation == "landscape"
        assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert fit_to_pages(sheet) == (1, 0)
        assert "&P" in sheet.oddFooter.right.text


def test_summary_cells_are_numbers_and_rates_with_a_totals_row_of_the_dashboard_figures(
    four_rows, tmp_path
):
    # when
    sheet = load_workbook(_write(four_rows, tmp_path))["汇总"]
    found = table(sheet)

    # then
    assert found.header == [
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
    assert len(found.rows) == 4
    first = found.rows[0]
    assert first[:2] == (
        "重庆市渝中区人和街小学（本部）",
        "人和街小学第一家长学校（家庭教育指导中心）",
    )
    assert first[2:] == (1, 10, "否", 1, 1, 1, 0)
    for cell in cells(sheet, "开课次数") + cells(sheet, "参与人次") + cells(sheet, "覆盖家庭数"):
        assert is_count(cell)  # a whole number shown as it is by the "General" format
    for cell in cells(sheet, "出勤率"):
        # 100% and 0% read back as the integers 1 and 0; the format makes them rates
        assert isinstance(cell.value, (int, float)) and cell.number_format == "0.0%"
    assert [c.value for c in cells(sheet, "出勤率")] == [1, 1, 1, 0]
    # the totals row: sums, the rate of the sums (3 present of 4 held enrolments)
    (totals,) = found.totals
    assert totals[0] == "合计"
    for index in (2, 3, 5, 6):
        assert totals[index] == sum(row[index] for row in found.rows)
    assert totals[4] == "0 / 4 所达标"
    assert totals[7] == pytest.approx(0.75)
    assert type(totals[7]) is float and sheet.cell(found.header_row + 5, 8).number_format == "0.0%"
    assert totals[8] == sum(row[8] for row in found.rows)


def test_session_and_roster_times_are_date_cells_in_beijing_time_with_totals(four_rows, tmp_path):
    # when
    book = load_workbook(_write(four_rows, tmp_path))
    sessions, roster = book["开课场次"], book["出勤名单"]

    # then: real datetimes (Shanghai wall clock, no zone) in 2026年9月2日 18:30 format
    starts = cells(sessions, "开始时间")
    assert [c.value for c in starts] == [dt.datetime(2026, 9, 2 + 7 * n, 18, 30) for n in range(4)]
    for cell in starts + cells(sessions, "结束时间") + cells(roster, "场次时间"):
        assert type(cell.value) is dt.datetime and cell.is_date
        assert cell.number_format == 'yyyy"年"m"月"d"日" hh:mm'
    checked = [c.value for c in cells(roster, "签到时间")]
    assert checked == [dt.datetime(2026, 9, 2 + 7 * n, 18, 21) for n in range(3)] + [None]
    for cell in cells(sessions, "名额（人）") + cells(roster, "人数") + cells(roster, "家庭编号"):
        assert is_count(cell)

    found = table(sessions)
    assert len(found.rows) == 4
    (totals,) = found.totals
    assert totals[0] == "合计（4 行）"
    for index in (7, 8, 9):
        assert totals[index] == sum(row[index] for row in found.rows)
    assert totals[7] == 120

    found = table(roster)
    assert [row[5] for row in found.rows] == [
        f"欧阳晓明{n}（五年级二班欧阳乐乐妈妈）" for n in "一二三四"
    ]
    (totals,) = found.totals
    assert totals[0] == "合计（4 行）"
    assert totals[7] == sum(row[7] for row in found.rows) == 4
    assert totals[9] == "出席 3"


def test_widths_fit_the_content_with_cjk_characters_counting_double(four_rows, tmp_path):
    # when
    book = load_workbook(_write(four_rows, tmp_path))

    # then: every header and cell fits its column (or wraps in a column at the limit)
    for sheet in book.worksheets:
        found = table(sheet)
        for row in sheet.iter_rows(min_row=found.header_row):
            for cell in row:
                if cell.value is None:
                    continue
                width = column_width(sheet, cell.column_letter)
                kind = next(
                    (k for k, f in sheets.NUMBER_FORMATS.items() if f == cell.number_format),
                    sheets.TEXT,
                )
                text = sheets.shown_text(cell.value, kind)
                if cell.row == found.header_row + len(found.rows) + 1 and cell.column == 1:
                    continue  # the totals label may run into the empty cell beside it
                fits = sheets.display_width(text) + 1 <= width
                assert fits or cell.alignment.wrap_text, (sheet.title, cell.coordinate, text)
    # a short Chinese name counts double (「人数」 is 4 wide, not 2) …
    roster = book["出勤名单"]
    assert column_width(roster, "G") >= sheets.display_width("138****1234") + 1
    assert sheets.display_width("重庆市渝中区人和街小学（本部）") == 30
    # … and a 21-character course title wraps in a column at the limit, uncut
    sessions = book["开课场次"]
    assert column_width(sessions, "C") == sheets.MAX_WIDTH
    assert all(cell.alignment.wrap_text for cell in cells(sessions, "课程"))


def test_a_four_row_report_prints_each_sheet_on_one_a4_landscape_page(four_rows, tmp_path):
    # given
    path = _write(four_rows, tmp_path)

    # when
    pdf = to_pdf(path, tmp_path)

    # then: one page per sheet (a sheet cannot take fewer), all A4 landscape
    assert pdf_pages(pdf) == len(SHEETS)
    assert pdf_media_boxes(pdf) == {(842, 595)}
    # and the type stays readable: long names wrap rather than widen the page
    book = load_workbook(path)
    assert min(print_scale(sheet) for sheet in book.worksheets) >= 0.65


def test_a_long_roster_runs_on_over_pages_instead_of_shrinking_to_one(four_rows, tmp_path):
    # given: 150 more families on the first session
    term, _unit, sessions, _bookings, _coordinator = four_rows
    for _n in range(150):
        guardian = GuardianFactory()
        booking_make(offering=sessions[0].offering, family=guardian.family, guardian=guardian)

    # when
    pdf = to_pdf(_write(four_rows, tmp_path), tmp_path)

    # then: fitted to the width only, the roster takes more than one page
    assert pdf_pages(pdf) > len(SHEETS)


def test_a_sheet_past_the_row_limit_goes_on_with_its_own_and_the_overall_totals(
    four_rows, tmp_path, monkeypatch
):
    # given
    monkeypatch.setattr(exports, "XLSX_SHEET_MAX_ROWS", 3)

    # when
    book = load_workbook(_write(four_rows, tmp_path))

    # then
    assert book.sheetnames == [
        "汇总",
        "成长手册",
        "问卷调查",
        "目标达成",
        "开课场次",
        "开课场次（2）",
        "出勤名单",
        "出勤名单（2）",
    ]
    first, second = table(book["出勤名单"]), table(book["出勤名单（2）"], totals=2)
    assert second.heading[0] == "2026–2027学年第一学期 学期报表 · 出勤名单（2）"
    assert len(first.rows) == 3 and len(second.rows) == 1
    assert first.totals[0][0] == "合计（3 行）" and first.totals[0][7] == 3
    part, overall = second.totals
    assert part[0] == "合计（1 行）" and part[7] == 1
    assert overall[0] == "全部合计（4 行，含前面各表）"
    assert overall[7] == 4 and overall[9] == "出席 3"
    assert book["出勤名单（2）"].freeze_panes == "A5"


def test_the_title_block_names_the_scope_and_who_asked(four_rows, tmp_path):
    # given
    term, unit, *_rest = four_rows
    other = MemberUnitFactory(name="第二实验小学")
    many = [MemberUnitFactory(name=f"社区{n}") for n in range(3)]
    no_name = UserFactory(display_name="", phone="13512345678")

    # then
    assert exports.scope_label([unit.pk]) == "重庆市渝中区人和街小学（本部）"
    assert (
        exports.scope_label([unit.pk, other.pk]) == "第二实验小学、重庆市渝中区人和街小学（本部）"
    )
    names = exports.scope_label([unit.pk, other.pk, *[u.pk for u in many]])
    assert names == "社区0、社区1、社区2 等 5 个单位"
    assert exports.person_label(no_name) == "135****5678"
    assert "export_term_report" in exports.person_label(None)
