"""members/spreadsheets.py: how every XLSX is written, and the admin's exports
written with it (Chinese sheet names, typed cells, widths, frozen header, print)."""

import datetime as dt
import io

import pytest
from django.db.models import CharField, DateTimeField, Value
from django.urls import reverse
from openpyxl import load_workbook
from openpyxl.utils.datetime import from_excel

from members import registry, spreadsheets
from members.models import Membership, Region, RoleAssignment
from members.privacy import SpreadsheetSafe
from members.resources import ChineseXLSX, MembershipResource, import_errors
from members.tests.factories import MembershipFactory, MemberUnitFactory, UserFactory
from members.tests.sheets import column_width, fit_to_pages

pytestmark = pytest.mark.django_db

WIDTHS = [
    ("", 0),
    ("abc 123", 7),
    ("第一小学", 8),
    ("A家长学校", 9),
    ("（联盟/单位活动）", 17),
    ("ＡＢＣ１２３", 12),  # full-width letters and digits
    ("138****1234", 11),
    ("欧阳晓明（五年级二班欧阳乐乐妈妈）", 34),
    ('\'=HYPERLINK("x")社区', 20),
]


@pytest.mark.parametrize(("text", "width"), WIDTHS)
def test_cjk_characters_count_double(text, width):
    assert spreadsheets.display_width(text) == width


@pytest.mark.parametrize(("text", "width"), WIDTHS)
def test_the_database_measures_as_python_does(text, width):
    # given a row to evaluate the expression on
    Region.objects.create(name="任意", kind=Region.Kind.DISTRICT)
    # when
    measured = (
        Region.objects.annotate(w=spreadsheets.DisplayWidth(Value(text, output_field=CharField())))
        .values_list("w", flat=True)
        .get()
    )
    # then
    assert measured == width


def test_sheet_titles_lose_the_characters_excel_refuses():
    assert spreadsheets.sheet_title("成员单位/区域[2]") == "成员单位－区域－2－"
    assert len(spreadsheets.sheet_title("长" * 40)) == 31


def test_times_are_written_in_shanghai_time_without_a_zone():
    utc = dt.datetime(2026, 9, 1, 5, 0, tzinfo=dt.UTC)
    assert spreadsheets.cell_value(utc, spreadsheets.DATETIME) == dt.datetime(2026, 9, 1, 13, 0)


@pytest.fixture
def district_client(client):
    user = UserFactory(username="district_exporter")
    registry.role_assign(actor=None, user=user, role=RoleAssignment.Role.CITY_ADMIN)
    client.force_login(user)
    return client


def test_admin_membership_export_has_a_chinese_sheet_typed_dates_widths_and_print_setup(
    district_client,
):
    # given
    unit = MemberUnitFactory(name="重庆市渝中区人和街小学（本部）", code="001234")
    MembershipFactory(unit=unit, joined_on=dt.date(2024, 5, 11), left_on=None)

    # when
    response = district_client.post(reverse("admin:members_membership_export"), {"format": "1"})

    # then
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["联盟成员关系"]
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header == [
        "联盟",
        "单位编码",
        "单位名称",
        "单位所在区域",
        "角色",
        "加入日期",
        "退出日期",
    ]
    row = {title: cell for title, cell in zip(header, sheet[2], strict=True)}
    # a date is a date cell in a Chinese format; a code stays text (leading zeros kept)
    assert row["加入日期"].value == dt.datetime(2024, 5, 11) and row["加入日期"].is_date
    assert row["加入日期"].number_format == 'yyyy"年"m"月"d"日"'
    assert row["退出日期"].value is None
    assert row["单位编码"].value == "001234" and row["单位编码"].data_type == "s"
    assert sheet["A1"].font.b
    assert sheet.freeze_panes == "A2"
    assert sheet.print_title_rows == "$1:$1"
    assert sheet.page_setup.orientation == "landscape"
    assert fit_to_pages(sheet) == (1, 0)
    # the unit's name (30 wide: CJK counts double) is wider than a column may
    # be: it wraps in a column at the limit; the short ones fit
    assert column_width(sheet, "C") == spreadsheets.MAX_WIDTH
    assert row["单位名称"].alignment.wrap_text
    assert column_width(sheet, "F") >= spreadsheets.display_width("2024年5月11日") + 1


def test_an_exported_membership_with_date_cells_imports_unchanged():
    # given
    MembershipFactory(
        unit=MemberUnitFactory(code="YZ-1"),
        joined_on=dt.date(2024, 5, 11),
        left_on=dt.date(2025, 1, 31),
    )
    data = ChineseXLSX().export_data(MembershipResource().export())

    # when
    result = MembershipResource().import_data(ChineseXLSX().create_dataset(data))

    # then
    assert result.totals["skip"] == 1, import_errors(result)
    assert Membership.objects.get().left_on == dt.date(2025, 1, 31)


def test_every_admin_export_names_its_sheet_in_chinese(rf):
    # given: every admin that exports, and every resource it offers
    from django.contrib import admin
    from import_export.admin import ExportMixin

    exporting = [a for a in admin.site._registry.values() if isinstance(a, ExportMixin)]
    assert exporting
    for model_admin in exporting:
        for resource_class in model_admin.resource_classes:
            # when
            dataset = resource_class().export(model_admin.model.objects.none())
            book = load_workbook(io.BytesIO(ChineseXLSX().export_data(dataset)))
            # then
            (title,) = book.sheetnames
            assert title != "Tablib Dataset"
            assert any("\u4e00" <= ch <= "\u9fff" for ch in title), (model_admin, title)


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(2026, 9, 1, 5, 0, tzinfo=dt.UTC),  # 13:00 in Shanghai
        dt.datetime(2026, 12, 31, 16, 30, 15, 500000, tzinfo=dt.UTC),  # past midnight there
        dt.datetime(1990, 7, 1, 12, 0, tzinfo=dt.UTC),
    ],
)
def test_the_database_gives_a_date_cell_the_number_python_does(when):
    # given a row to evaluate the expression on
    Region.objects.create(name="任意", kind=Region.Kind.DISTRICT)
    # when
    serial = (
        Region.objects.annotate(s=spreadsheets.ExcelSerial(Value(when, DateTimeField())))
        .values_list("s", flat=True)
        .get()
    )
    # then: the same number, which a spreadsheet shows as the Shanghai wall clock
    assert serial == pytest.approx(spreadsheets.excel_serial(when), abs=1e-9)
    assert from_excel(serial) == pytest.approx(
        when.astimezone(spreadsheets.SHANGHAI).replace(tzinfo=None),
        abs=dt.timedelta(milliseconds=1),
    )


@pytest.mark.parametrize("text", ["一行\r\n二行", "\r=1+1", "甲\r乙\n丙", "无换行"])
def test_the_database_breaks_lines_in_a_cell_as_python_does(text):
    Region.objects.create(name="任意", kind=Region.Kind.DISTRICT)
    found = (
        Region.objects.annotate(
            t=spreadsheets.CellText(SpreadsheetSafe(Value(text, output_field=CharField())))
        )
        .values_list("t", flat=True)
        .get()
    )
    assert found == spreadsheets.cell_text(text)
    assert "\r" not in found


def test_a_streamed_sheet_takes_its_widths_after_its_rows():
    # given a sheet whose widths are not known before its rows
    columns = [spreadsheets.Column("名称"), spreadsheets.Column("开始", spreadsheets.DATETIME)]
    book = spreadsheets.Workbook()
    sheet = spreadsheets.SheetWriter(book, title="表", columns=columns, widths=None)
    when = dt.datetime(2026, 9, 1, 5, 0, tzinfo=dt.UTC)

    # when
    sheet.append_cells([["很长的名称" * 6, spreadsheets.excel_serial(when)], ["短", None]])
    sheet.set_widths([spreadsheets.MAX_WIDTH, 20])
    buffer = io.BytesIO()
    book.save(buffer)

    # then
    found = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert column_width(found, "A") == spreadsheets.MAX_WIDTH and found["A2"].alignment.wrap_text
    assert column_width(found, "B") == 20
    assert found["B2"].value == dt.datetime(2026, 9, 1, 13, 0) and found["B2"].is_date
    assert found["B2"].number_format == spreadsheets.NUMBER_FORMATS[spreadsheets.DATETIME]
