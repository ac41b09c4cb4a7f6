"""The shape of an import file: stray and missing cells, merged cells, column
titles (unknown, translated, repeated, blank), empty sheets, wrong formats, and
texts longer than their field. Every problem is named by row and column in
Chinese, the rest of the file is still checked, and nothing is written."""

import io
import re
import zipfile

import pytest
import tablib
from django.urls import reverse
from openpyxl import Workbook

from members import demo, registry
from members.models import MemberUnit, RoleAssignment
from members.resources import (
    ChineseCSV,
    ChineseXLSX,
    MembershipResource,
    MemberUnitResource,
    RegionResource,
    TextWidget,
    import_errors,
)
from members.tests.factories import UserFactory
from members.tests.test_import_units import HEADERS, SAMPLES

pytestmark = pytest.mark.django_db

GOOD = ["YZ-T-01", "测试单位", "企业", "渝中区", "", "", "", "", "是", ""]


@pytest.fixture
def demo_data():
    demo.load()


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _xlsx(rows, *, merged=(), title="成员单位", other_sheets=()) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for cell_range in merged:
        sheet.merge_cells(cell_range)
    for name in other_sheets:
        book.create_sheet(name).append(["名称"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _import(data: bytes, fmt, resource=MemberUnitResource):
    return resource().import_data(fmt.create_dataset(data))


def _assert_problems(result, expected):
    """Exactly these (row, column, text in the message), in this order."""
    problems = import_errors(result)
    assert [(row, column) for row, column, _m in problems] == [(r, c) for r, c, _t in expected], (
        problems
    )
    for (_row, _column, message), (_r, _c, text) in zip(problems, expected, strict=True):
        assert text in message, (message, text)


def _snapshot():
    return list(MemberUnit.objects.order_by("pk").values())


# -- the samples in docs/samples -------------------------------------------------


def test_csv_sample_names_every_shape_problem_with_the_ordinary_errors(demo_data):
    # given
    before = _snapshot()
    # when
    result = _import((SAMPLES / "units-shape.csv").read_bytes(), ChineseCSV())
    # then: the eleventh cell (an unquoted comma) and what it shifted, the short
    # row, the long name and the unknown kind further down, all at once
    _assert_problems(
        result,
        [
            (3, "K 列", "这一行比第 1 行的列标题多出单元格（内容“示例数据”）"),
            (3, "联系电话", "电话号码“张老师”格式不正确"),
            (3, "上级单位", "找不到上级单位“13900001111”"),
            (4, "J 列", "这一行只有 9 个单元格，第 1 行有 10 个列标题，缺少“备注”"),
            (5, "名称", "名称最多 120 个字，这一行有 130 个字。"),
            (6, "类型", "未知的类型“培训机构”"),
        ],
    )
    assert _snapshot() == before


def test_xlsx_sample_names_stray_cells_and_merged_cells(demo_data):
    # given
    before = _snapshot()
    # when
    result = _import((SAMPLES / "units-shape.xlsx").read_bytes(), ChineseXLSX())
    # then: the cell in K is not dropped silently; B5:B6 is named on both rows
    _assert_problems(
        result,
        [
            (3, "K 列", "这个单元格有内容“多出的单元格”，但所在的列没有列标题"),
            (5, "B 列", "B5:B6 是合并单元格"),
            (6, "B 列", "B5:B6 是合并单元格"),
            (6, "名称", "名称不能为空"),
            (7, "名称", "名称最多 120 个字，这一行有 130 个字。"),
        ],
    )
    assert _snapshot() == before


def test_english_column_titles_are_named_with_their_chinese_title(demo_data):
    # when
    result = _import((SAMPLES / "units-english-headers.csv").read_bytes(), ChineseCSV())
    # then: row 1 only (rows are not checked without their key columns)
    problems = import_errors(result)
    assert {row for row, _c, _m in problems} == {1}
    by_column = {column: message for _row, column, message in problems}
    assert by_column["B 列"] == "列标题“Name”是“名称”的英语写法，请改为中文列标题“名称”。"
    assert "“Contact person”是“联系人”的英语写法" in by_column["F 列"]
    assert "“Note”不是可导入的列" in by_column["J 列"]
    assert "文件缺少以下列：名称、类型、所在区域" in by_column[""]
    assert not MemberUnit.objects.filter(code="YZ-SAMPLE-01").exists()


# -- the case in the issue, through the admin page --------------------------------


@pytest.fixture
def district_client(client, demo_data):
    user = UserFactory(username="district_shape")
    registry.role_assign(actor=None, user=user, role=RoleAssignment.Role.CITY_ADMIN)
    client.force_login(user)
    return client


def _upload(client, data: bytes, name: str, fmt: str):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(
        reverse("admin:members_memberunit_import"),
        {"import_file": upload, "format": fmt, "resource": "0"},
    )


def _error_table(html: str) -> list[tuple[str, str, str]]:
    cells = re.findall(
        r'<tr class="import-error-row">\s*<td>(\d+)</td>\s*<td>(.*?)</td>\s*'
        r'<td class="errors">(.*?)</td>',
        html,
        re.S,
    )
    return [(row, column.strip(), message.strip()) for row, column, message in cells]


def test_admin_csv_with_one_extra_cell_lists_the_row_instead_of_blaming_the_encoding(
    district_client,
):
    # given: a clean CSV where row 3 has one cell more than there are titles
    data = _csv(
        ",".join(HEADERS),
        ",".join(GOOD),
        ",".join(["YZ-T-02", "测试单位二", "企业", "渝中区", "", "", "", "", "是", "", "多余"]),
        ",".join(["YZ-T-03", "", "企业", "渝中区", "", "", "", "", "是", ""]),
    )
    before = _snapshot()
    # when
    response = _upload(district_client, data, "units.csv", "0")
    # then
    html = response.content.decode()
    assert "无法读取文件" not in html and "请用 UTF-8 或 GBK 编码" not in html
    assert 'name="confirm"' not in html
    table = _error_table(html)
    assert [(row, column) for row, column, _m in table] == [("3", "K 列"), ("4", "名称")]
    assert "多出单元格（内容“多余”）" in table[0][2]
    assert _snapshot() == before


def test_admin_shows_header_and_row_problems_in_one_table(district_client):
    # given: an unknown title in K and a bad row further down
    rows = [
        HEADERS + ["序号"],
        GOOD + ["1"],
        ["YZ-T-02", "单位二", "培训机构", "渝中区"] + [""] * 7,
    ]
    # when
    response = _upload(district_client, _xlsx(rows), "units.xlsx", "1")
    # then
    table = _error_table(response.content.decode())
    assert [(row, column) for row, column, _m in table] == [("1", "K 列"), ("3", "类型")]
    assert "列标题“序号”不是可导入的列" in table[0][2]


@pytest.mark.parametrize(
    ("data", "name", "fmt", "message"),
    [
        (b"\n\n", "units.csv", "0", "文件是空的：第 1 行应为列标题"),
        ("\ufeff,,\n".encode(), "units.csv", "0", "文件是空的"),
        (_xlsx([]), "units.xlsx", "1", "工作表“成员单位”是空的：第 1 行应为列标题"),
        (
            _xlsx([], title="说明", other_sheets=["数据"]),
            "units.xlsx",
            "1",
            "工作表“说明”是空的。导入读取的是保存文件时选中的工作表；本文件还有：数据。",
        ),
        (
            _xlsx([HEADERS, GOOD]),
            "units.csv",
            "0",
            "这是一个 XLSX（Excel）文件，请在“文件格式”中选择 xlsx",
        ),
        (_csv(",".join(HEADERS)), "units.xlsx", "1", "无法按 XLSX 读取这个文件"),
        ("名称\n单位".encode("utf-16"), "units.csv", "0", "Excel 的“Unicode 文本”格式"),
        (b"\xff\xff\xff\xff", "units.csv", "0", "文件的编码无法识别"),
    ],
)
def test_admin_unreadable_files_say_what_is_wrong(district_client, data, name, fmt, message):
    # when
    response = _upload(district_client, data, name, fmt)
    # then: a message above the upload field, nothing else checked or written
    html = response.content.decode()
    assert message in html
    assert "无法读取文件。请确认所选格式" not in html
    assert 'name="confirm"' not in html


# -- single shapes, at resource level ------------------------------------------------


def test_blank_title_between_titles_is_named_on_row_one_and_on_each_filled_row(demo_data):
    # given: E (地址) has lost its title, and two rows have an address
    headers = HEADERS[:4] + [""] + HEADERS[5:]
    rows = [
        headers,
        GOOD[:4] + ["中山路 1 号"] + GOOD[5:],
        ["YZ-T-02", "单位二", "企业", "渝中区", ""] + [""] * 5,
        ["YZ-T-03", "单位三", "企业", "渝中区", "解放碑"] + [""] * 5,
    ]
    # when
    result = _import(_xlsx(rows), ChineseXLSX())
    # then
    _assert_problems(
        result,
        [
            (1, "E 列", "这一列没有列标题，但第 2、4 行有内容"),
            (2, "E 列", "这个单元格有内容“中山路 1 号”"),
            (4, "E 列", "这个单元格有内容“解放碑”"),
        ],
    )
    assert not MemberUnit.objects.filter(code__startswith="YZ-T-").exists()


def test_repeated_title_is_named(demo_data):
    # given
    data = _csv(",".join(HEADERS + ["名称"]), ",".join(GOOD + ["另一个名称"]))
    # when
    result = _import(data, ChineseCSV())
    # then
    _assert_problems(result, [(1, "K 列", "列标题“名称”与 B 列重复")])
    assert not MemberUnit.objects.filter(code="YZ-T-01").exists()


def test_a_stray_cell_on_an_empty_row_is_not_skipped_silently(demo_data):
    # given: row 3 is empty except for a note far to the right
    rows = [HEADERS, GOOD, [None] * 12 + ["别忘了"]]
    # when
    result = _import(_xlsx(rows), ChineseXLSX())
    # then
    _assert_problems(result, [(3, "M 列", "这个单元格有内容“别忘了”")])


def test_a_cell_beyond_the_size_the_workbook_claims_is_still_seen(demo_data):
    # given: a workbook whose stored size says A1:J2 while K2 holds text (some
    # programs write a wrong size; read-only mode would otherwise trust it)
    data = _xlsx([HEADERS, GOOD + ["隐藏的内容"]])
    source, target = io.BytesIO(data), io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            content = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(
                    b'<dimension ref="A1:K2" />', b'<dimension ref="A1:J2" />'
                )
                assert b'ref="A1:J2"' in content
            zout.writestr(item, content)
    # when
    result = _import(target.getvalue(), ChineseXLSX())
    # then
    _assert_problems(result, [(2, "K 列", "这个单元格有内容“隐藏的内容”")])


def test_row_numbers_count_blank_lines_as_a_spreadsheet_does(demo_data):
    # given: row 3 is an empty line, row 4 has no name
    data = _csv(",".join(HEADERS), ",".join(GOOD), "", ",".join(["YZ-T-02", ""] + GOOD[2:]))
    # when
    result = _import(data, ChineseCSV())
    # then
    _assert_problems(result, [(4, "名称", "名称不能为空")])


def test_a_header_row_without_titles_is_one_message(demo_data):
    # when
    result = _import(_xlsx([[None, None], GOOD, GOOD]), ChineseXLSX())
    # then
    _assert_problems(result, [(1, "", "第 1 行没有列标题")])


def test_a_plain_dataset_gets_the_same_header_checks(demo_data):
    # given: a dataset built by a script, not read from a file
    dataset = tablib.Dataset(GOOD + ["x"], headers=HEADERS + ["Extra"])
    # when
    result = MemberUnitResource().import_data(dataset)
    # then
    _assert_problems(result, [(1, "K 列", "列标题“Extra”不是可导入的列")])


def test_a_clean_file_still_imports(demo_data):
    # when
    result = _import(_csv(",".join(HEADERS), ",".join(GOOD)), ChineseCSV())
    # then
    assert import_errors(result) == []
    assert MemberUnit.objects.get(code="YZ-T-01").name == "测试单位"


# -- lengths, for every imported text field ----------------------------------------------


def _text_fields(resource_class):
    """(column, model field) of every imported plain-text column with a max_length."""
    resource = resource_class()
    model = resource._meta.model
    for field in resource.get_import_fields():
        if field.readonly or type(field.widget) is not TextWidget:
            continue
        model_field = model._meta.get_field(field.attribute)
        if getattr(model_field, "max_length", None):
            yield field.column_name, model_field


LENGTH_CASES = [
    (resource_class, column, model_field)
    for resource_class in (RegionResource, MemberUnitResource, MembershipResource)
    for column, model_field in _text_fields(resource_class)
]


def test_every_text_column_of_the_registry_is_covered():
    covered = {(r.__name__, c) for r, c, _f in LENGTH_CASES}
    assert {("RegionResource", "名称"), ("MemberUnitResource", "地址")} <= covered
    assert len(covered) == 7  # region: code, name; unit: code, name, address, contact, note


@pytest.mark.parametrize(
    ("resource_class", "column", "model_field"),
    LENGTH_CASES,
    ids=[f"{r.__name__}-{c}" for r, c, _f in LENGTH_CASES],
)
def test_too_long_text_is_reported_in_the_portals_words(
    demo_data, resource_class, column, model_field
):
    # given: a valid row, with one column one character too long
    headers = [f.column_name for f in resource_class().get_import_fields() if not f.readonly]
    valid = {
        "RegionResource": {"名称": "测试区域", "类型": "区/县"},
        "MemberUnitResource": dict(zip(HEADERS, GOOD, strict=True)),
    }[resource_class.__name__]
    limit = model_field.max_length
    row = {h: valid.get(h, "") for h in headers} | {column: "长" * (limit + 1)}
    dataset = tablib.Dataset([row[h] for h in headers], headers=headers)
    # when
    result = resource_class().import_data(dataset)
    # then: one message, with the field's name, its limit and the actual length
    _assert_problems(
        result,
        [(2, column, f"{model_field.verbose_name}最多 {limit} 个字，这一行有 {limit + 1} 个字。")],
    )
    assert "确保该变量" not in str(import_errors(result))


def test_the_issues_five_thousand_character_name(demo_data):
    dataset = tablib.Dataset(["YZ-T-01", "名" * 5000] + GOOD[2:], headers=HEADERS)
    result = MemberUnitResource().import_data(dataset)
    _assert_problems(result, [(2, "名称", "名称最多 120 个字，这一行有 5000 个字。")])
