"""Importing and exporting the registry: resource level and through the admin
pages with the sample files in docs/samples."""

import csv
import datetime
import io
from pathlib import Path

import pytest
import tablib
from django.urls import reverse
from openpyxl import load_workbook

from members import demo, registry
from members.models import AuditLog, Membership, MemberUnit, Region, RoleAssignment
from members.resources import (
    ChineseCSV,
    ChineseXLSX,
    MembershipResource,
    MemberUnitResource,
    RegionResource,
    import_errors,
    normalise_cell,
)
from members.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
HEADERS = [
    "单位编码",
    "名称",
    "类型",
    "所在区域",
    "地址",
    "联系人",
    "联系电话",
    "上级单位",
    "在用",
    "备注",
]

EXPECTED_SAMPLE_ERRORS = [
    (3, "所在区域", "找不到区域“不存在街道”"),
    (4, "类型", "未知的类型“培训机构”"),
    (5, "联系电话", "电话号码“12345”格式不正确"),
    (6, "名称", "名称不能为空"),
    (7, "单位编码", "与第 2 行的编码“YZ-SAMPLE-01”重复"),
]


@pytest.fixture
def demo_data():
    demo.load()


def _dataset(path: Path) -> tablib.Dataset:
    # The formats the admin reads with (shape checks included).
    if path.suffix == ".csv":
        return ChineseCSV().create_dataset(path.read_bytes())
    return ChineseXLSX().create_dataset(path.read_bytes())


def _rows(*rows) -> tablib.Dataset:
    return tablib.Dataset(*rows, headers=HEADERS)


def _assert_errors(result, expected):
    problems = import_errors(result)
    assert len(problems) == len(expected), problems
    for (row, column, message), (want_row, want_column, want_text) in zip(
        problems, expected, strict=True
    ):
        assert (row, column) == (want_row, want_column)
        assert want_text in message


@pytest.mark.parametrize("name", ["units-clean.csv", "units-clean.xlsx"])
def test_clean_sample_imports_then_a_second_import_changes_nothing(demo_data, name):
    # given
    before = MemberUnit.objects.count()
    # when
    first = MemberUnitResource().import_data(_dataset(SAMPLES / name))
    second = MemberUnitResource().import_data(_dataset(SAMPLES / name))
    # then
    assert not first.has_errors() and not first.has_validation_errors()
    assert (first.totals["new"], first.totals["update"]) == (3, 2)
    assert (second.totals["new"], second.totals["update"], second.totals["skip"]) == (0, 0, 5)
    assert MemberUnit.objects.count() == before + 3
    hospital = MemberUnit.objects.get(code="FH-XK-10")
    assert (hospital.contact_name, hospital.contact_phone) == ("陈医生", "0574-88885678")


def test_full_width_and_spaces_are_normalised(demo_data):
    # when
    MemberUnitResource().import_data(_dataset(SAMPLES / "units-clean.csv"))
    # then: "ＹＺ－ＳＡＭＰＬＥ－０３" and "  两路口街道示例社会组织  " in the file
    unit = MemberUnit.objects.get(code="YZ-SAMPLE-03")
    assert unit.name == "两路口街道示例社会组织"
    assert unit.contact_phone == "13900002222"


def test_normalise_keeps_chinese_punctuation_in_names():
    assert normalise_cell(" 社区（居委会）１号 ") == "社区（居委会）1号"
    assert normalise_cell("（０５７４）８８８８", strict=True) == "(0574)8888"


@pytest.mark.parametrize("name", ["units-errors.csv", "units-errors.xlsx"])
def test_error_sample_reports_every_bad_row_and_writes_nothing(demo_data, name):
    # given
    before = list(MemberUnit.objects.order_by("pk").values())
    # when
    result = MemberUnitResource().import_data(_dataset(SAMPLES / name))
    # then
    expected = list(EXPECTED_SAMPLE_ERRORS)
    if name.endswith(".xlsx"):
        expected += [
            (8, "名称", "单元格是日期格式（2024-05-11）"),
            (9, "联系电话", "单元格是数字格式（13900003333）"),
        ]
    _assert_errors(result, expected)
    assert list(MemberUnit.objects.order_by("pk").values()) == before


def test_name_plus_region_matches_when_there_is_no_code(demo_data):
    # given
    dataset = _rows(["", "中华路小学", "小学", "渝中区", "中华路 1 号", "", "", "", "", ""])
    # when
    result = MemberUnitResource().import_data(dataset)
    # then
    assert result.totals["update"] == 1
    assert MemberUnit.objects.filter(name="中华路小学").count() == 1
    assert MemberUnit.objects.get(name="中华路小学").code == "YZ-ZHL"  # code kept


def test_ambiguous_region_name_asks_for_the_code(demo_data):
    # given: two regions called 示例社区
    RegionResource().import_data(_dataset(SAMPLES / "regions-clean.csv"))
    Region.objects.create(
        name="示例社区", kind="community", parent=Region.objects.get(name="解放碑街道")
    )
    dataset = _rows(["X-1", "某单位", "企业", "示例社区", "", "", "", "", "", ""])
    # when
    result = MemberUnitResource().import_data(dataset)
    # then
    _assert_errors(result, [(2, "所在区域", "有多个名为“示例社区”的区域")])


def test_missing_columns_are_one_clear_message(demo_data):
    # given
    dataset = tablib.Dataset(["某单位"], headers=["名称"])
    # when
    result = MemberUnitResource().import_data(dataset)
    # then
    _assert_errors(result, [(1, "", "文件缺少以下列：类型、所在区域")])


def test_masked_mobile_from_an_export_keeps_the_stored_number(demo_data):
    # given
    unit = MemberUnit.objects.get(code="YZ-ZHL")
    unit.contact_phone = "13812341234"
    unit.save()
    exported = MemberUnitResource().export(MemberUnit.objects.filter(pk=unit.pk))
    assert exported.dict[0]["联系电话"] == "138****1234"
    # when: the exported file comes back, once unchanged and once for a new unit
    same = MemberUnitResource().import_data(exported)
    new = MemberUnitResource().import_data(
        _rows(["N-1", "新单位", "企业", "渝中区", "", "", "138****1234", "", "", ""])
    )
    # then
    assert same.totals["skip"] == 1
    unit.refresh_from_db()
    assert unit.contact_phone == "13812341234"
    _assert_errors(new, [(2, "联系电话", "已遮盖")])


def test_export_escapes_formulae_and_reimports_the_same_text(demo_data):
    # given
    unit = MemberUnit.objects.get(code="YZ-ZHL")
    unit.note = '=HYPERLINK("http://example.invalid")'
    unit.contact_name = "@王老师"
    unit.save()
    # when: exported in both formats the admin offers (they escape every cell)
    exported = MemberUnitResource().export(MemberUnit.objects.filter(pk=unit.pk))
    csv_bytes = ChineseCSV().export_data(exported).encode("utf-8")
    xlsx_bytes = ChineseXLSX().export_data(exported)
    # then
    csv_rows = list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    sheet_rows = list(load_workbook(io.BytesIO(xlsx_bytes)).active.values)
    xlsx_row = dict(zip(sheet_rows[0], sheet_rows[1], strict=True))
    for row in (csv_rows[0], xlsx_row):
        assert row["备注"] == '\'=HYPERLINK("http://example.invalid")'
        assert row["联系人"] == "'@王老师"
    assert "\n=" not in csv_bytes.decode() and ",=" not in csv_bytes.decode()
    for data, fmt in ((csv_bytes, ChineseCSV()), (xlsx_bytes, ChineseXLSX())):
        result = MemberUnitResource().import_data(fmt.create_dataset(data))
        assert result.totals["skip"] == 1, import_errors(result)
    unit.refresh_from_db()
    assert unit.note.startswith("=HYPERLINK") and unit.contact_name == "@王老师"


def test_import_is_audited_only_when_it_writes(demo_data):
    # given
    user = UserFactory()
    # when
    MemberUnitResource().import_data(_dataset(SAMPLES / "units-clean.csv"), dry_run=True, user=user)
    MemberUnitResource().import_data(_dataset(SAMPLES / "units-errors.csv"), user=user)
    MemberUnitResource().import_data(
        _dataset(SAMPLES / "units-clean.csv"), user=user, file_name="a.csv"
    )
    # then
    entry = AuditLog.objects.get(action="members.unit.import")
    assert entry.actor == user
    assert entry.data["new"] == 3 and entry.data["file"] == "a.csv"


def test_regions_import_by_name_and_parent_without_duplicates(demo_data):
    # given
    before = Region.objects.count()
    # when
    RegionResource().import_data(_dataset(SAMPLES / "regions-clean.csv"))
    second = RegionResource().import_data(_dataset(SAMPLES / "regions-clean.csv"))
    # then
    assert Region.objects.count() == before + 2
    assert second.totals["skip"] == 2
    assert Region.objects.get(name="示例社区").parent.name == "七星岗街道"


def test_memberships_import_by_code_or_name_and_region(demo_data):
    # when
    first = MembershipResource().import_data(_dataset(SAMPLES / "memberships-clean.csv"))
    second = MembershipResource().import_data(_dataset(SAMPLES / "memberships-clean.csv"))
    # then
    assert first.totals["new"] == 2, import_errors(first)
    assert second.totals["skip"] == 2
    m = Membership.objects.get(unit__name="中华路小学", alliance__short_name="溪口联盟")
    assert m.joined_on == datetime.date(2024, 5, 11)


def test_memberships_report_duplicates_and_bad_dates(demo_data):
    # given
    headers = ["联盟", "单位编码", "单位名称", "单位所在区域", "角色", "加入日期", "退出日期"]
    dataset = tablib.Dataset(
        ["溪口联盟", "ZH-XP", "", "", "成员单位", "2024-05-12", ""],
        ["溪口联盟", "ZH-XP", "", "", "成员单位", "2024-05-12", ""],
        ["没有的联盟", "ZH-XP", "", "", "", "", ""],
        ["溪口联盟", "YZ-FL", "", "", "会长", "昨天", "2020-01-01"],
        headers=headers,
    )
    # when
    result = MembershipResource().import_data(dataset)
    # then
    _assert_errors(
        result,
        [
            (3, "单位编码", "与第 2 行重复"),
            (4, "联盟", "找不到联盟“没有的联盟”"),
            (5, "角色", "未知的角色“会长”"),
            (5, "加入日期", "日期“昨天”无法识别"),
        ],
    )
    assert not Membership.objects.filter(unit__code="ZH-XP").exists()


# -- through the admin pages ------------------------------------------------


@pytest.fixture
def district_client(client, demo_data):
    user = UserFactory(username="district_importer")
    registry.role_assign(actor=None, user=user, role=RoleAssignment.Role.CITY_ADMIN)
    client.force_login(user)
    client.user = user
    return client


def _upload(client, name, fmt):
    with open(SAMPLES / name, "rb") as f:
        return client.post(
            reverse("admin:members_memberunit_import"),
            {"import_file": f, "format": fmt, "resource": "0"},
        )


@pytest.mark.parametrize(
    ("bad", "good", "fmt"),
    [
        ("units-errors.csv", "units-clean.csv", "0"),
        ("units-errors.xlsx", "units-clean.xlsx", "1"),
    ],
)
def test_admin_import_bad_file_then_fixed_file(district_client, bad, good, fmt):
    # given
    before = MemberUnit.objects.count()
    page = district_client.get(reverse("admin:members_memberunit_import"))
    assert "检查文件" in page.content.decode()
    # when: the file with mistakes
    response = _upload(district_client, bad, fmt)
    # then: every mistake with row and column, nothing written, no confirm button
    html = response.content.decode()
    assert response.status_code == 200
    assert "未写入任何数据" in html
    assert 'name="confirm"' not in html
    for row, column, text in EXPECTED_SAMPLE_ERRORS:
        assert f"<td>{row}</td>" in html
        assert column in html and text in html
    assert MemberUnit.objects.count() == before

    # when: the fixed file — a preview first, nothing written yet
    response = _upload(district_client, good, fmt)
    html = response.content.decode()
    assert 'name="confirm"' in html and "新增 3 条，更新 2 条" in html
    assert "13900001111" in html  # the preview shows what will be written, unmasked
    assert MemberUnit.objects.count() == before
    confirm = response.context["confirm_form"]
    # when: confirmed
    done = district_client.post(
        reverse("admin:members_memberunit_process_import"),
        {name: confirm.initial[name] for name in confirm.initial},
        follow=True,
    )
    # then
    assert "导入完成：新增 3 条，更新 2 条" in done.content.decode()
    assert MemberUnit.objects.count() == before + 3
    assert (
        AuditLog.objects.filter(action="members.unit.import", actor=district_client.user).count()
        == 1
    )


def test_admin_export_xlsx_masks_mobiles_and_is_audited(district_client):
    # given
    unit = MemberUnit.objects.get(code="YZ-ZHL")
    unit.contact_phone = "13812341234"
    unit.save()
    # when
    response = district_client.post(
        reverse("admin:members_memberunit_export") + "?q=中华路", {"format": "1"}
    )
    # then
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.values)
    assert rows[0][:4] == ("单位编码", "名称", "类型", "所在区域")
    assert [r[1] for r in rows[1:]] == ["中华路小学"]
    assert rows[1][6] == "138****1234"
    entry = AuditLog.objects.get(action="members.unit.export")
    assert entry.data == {"rows": 1, "format": "xlsx"}


def test_admin_export_page_is_in_chinese(district_client):
    response = district_client.get(reverse("admin:members_memberunit_export"))
    html = response.content.decode()
    assert "文件格式" in html and "手机号码导出时遮盖" in html


def test_admin_import_accepts_a_gbk_csv_as_excel_saves_it(district_client):
    # given: the clean sample re-encoded as Excel on Chinese Windows saves "CSV"
    text = (SAMPLES / "units-clean.csv").read_text(encoding="utf-8-sig")
    upload = io.BytesIO(text.encode("gb18030"))
    upload.name = "units-gbk.csv"
    # when
    response = district_client.post(
        reverse("admin:members_memberunit_import"),
        {"import_file": upload, "format": "0", "resource": "0"},
    )
    # then
    html = response.content.decode()
    assert "新增 3 条，更新 2 条" in html
    assert "解放碑街道示例社区居委会" in html
