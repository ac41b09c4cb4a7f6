"""A district administrator, as a new user would, in real Chromium: signs in,
finds, filters and edits a unit, imports a bad file then the fixed one, exports."""

from pathlib import Path

import pytest
from openpyxl import load_workbook

from members import demo, registry
from members.models import AuditLog, MemberUnit, RoleAssignment
from members.tests.factories import UserFactory

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


@pytest.mark.browser
def test_district_admin_finds_filters_edits_imports_and_exports(live_server, page, tmp_path):
    # given
    demo.load()
    # No phone: an unverified phone would make allauth ask for an SMS code first.
    admin = UserFactory(username="browser_admin", email="browser_admin@example.cn", phone=None)
    admin.set_password("Browser-Pass-2025")
    admin.save()
    registry.role_assign(actor=None, user=admin, role=RoleAssignment.Role.CITY_ADMIN)
    before = MemberUnit.objects.count()

    # when: signing in on the way to the unit list
    page.goto(f"{live_server.url}/admin/members/memberunit/")
    page.fill("#id_login", "browser_admin@example.cn")
    page.fill("#id_password", "Browser-Pass-2025")
    page.locator("#id_password").press("Enter")
    page.wait_for_url("**/admin/members/memberunit/")

    # find
    page.fill("#searchbar", "溪口")
    page.locator("#searchbar").press("Enter")
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 10

    # filter: the 类型 filter narrows the search result to the hospital
    page.locator("#changelist-filter a", has_text="医院").first.click()
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 1

    # edit
    page.locator("#result_list a", has_text="溪口医院").click()
    page.fill("#id_contact_name", "李医生")
    page.fill("#id_contact_phone", "0574-88885678")
    page.locator("input[name=_save]").click()
    page.wait_for_load_state()
    assert MemberUnit.objects.get(code="FH-XK-10").contact_name == "李医生"

    # import: the file with mistakes first
    page.goto(f"{live_server.url}/admin/members/memberunit/import/")
    page.set_input_files("#id_import_file", str(SAMPLES / "units-errors.xlsx"))
    page.select_option("#id_format", label="xlsx")
    page.locator("input[type=submit][value='检查文件']").click()
    page.wait_for_load_state()
    assert "有 7 行需要修改，未写入任何数据" in page.content()
    assert page.locator("tr.import-error-row").count() == 7
    assert MemberUnit.objects.count() == before

    # then the fixed file: preview, confirm
    page.set_input_files("#id_import_file", str(SAMPLES / "units-clean.xlsx"))
    page.select_option("#id_format", label="xlsx")
    page.locator("input[type=submit][value='检查文件']").click()
    page.wait_for_load_state()
    assert "新增 3 条，更新 2 条" in page.content()
    page.locator("input[name=confirm]").click()
    page.wait_for_load_state()
    assert "导入完成：新增 3 条，更新 2 条" in page.content()
    assert MemberUnit.objects.count() == before + 3

    # export what the search shows, as XLSX
    page.goto(f"{live_server.url}/admin/members/memberunit/?q=YZ-SAMPLE")
    page.locator("a.export_link").click()
    page.wait_for_load_state()
    with page.expect_download() as download_info:
        page.locator("input[type=submit][value='导出']").click()
    path = tmp_path / "units.xlsx"
    download_info.value.save_as(path)

    # then
    rows = list(load_workbook(path).active.values)
    assert rows[0][:3] == ("单位编码", "名称", "类型")
    assert sorted(r[0] for r in rows[1:]) == ["YZ-SAMPLE-01", "YZ-SAMPLE-02", "YZ-SAMPLE-03"]
    assert {r[6] for r in rows[1:]} == {"023-63851234", "139****1111", "139****2222"}
    assert AuditLog.objects.filter(action="members.unit.export", actor=admin).count() == 1
    assert AuditLog.objects.filter(action="members.unit.import", actor=admin).count() == 1
