"""The one formula-escaping rule (members.privacy.spreadsheet_safe), its SQL twin,
and the admin's exports, which pass every cell through it."""

import csv
import io

import pytest
from django.db.models import CharField, Value
from django.urls import reverse
from openpyxl import load_workbook

from members import registry
from members.models import MemberUnit, Region, RoleAssignment
from members.privacy import SpreadsheetSafe, spreadsheet_safe, spreadsheet_unescape
from members.tests.factories import MemberUnitFactory, UserFactory

pytestmark = pytest.mark.django_db

#: (value, what every export writes)
TRICKY = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
    ("+86 138", "'+86 138"),
    ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("＝1+1", "'＝1+1"),
    ("＋1", "'＋1"),
    ("－1", "'－1"),
    ("＠王", "'＠王"),
    ("=", "'="),
    ("'=1+1", "'=1+1"),  # already escaped: not twice
    ("a=1", "a=1"),
    (" =1", " =1"),  # not at the start
    ("1-2", "1-2"),
    ("中文（=）", "中文（=）"),
    ("", ""),
]


@pytest.mark.parametrize(("value", "expected"), TRICKY)
def test_python_rule(value, expected):
    assert spreadsheet_safe(value) == expected


def test_non_text_passes_through():
    assert [spreadsheet_safe(v) for v in (None, 5, -1.5)] == [None, 5, -1.5]


@pytest.mark.parametrize(("value", "_expected"), TRICKY)
def test_the_database_escapes_exactly_as_python_does(value, _expected):
    # given a row to evaluate the expression on
    Region.objects.create(name="任意", kind=Region.Kind.DISTRICT)
    # when
    escaped = (
        Region.objects.annotate(x=SpreadsheetSafe(Value(value, output_field=CharField())))
        .values_list("x", flat=True)
        .get()
    )
    # then
    assert escaped == spreadsheet_safe(value)


def test_the_database_keeps_null_as_null():
    Region.objects.create(name="任意", kind=Region.Kind.DISTRICT)
    rows = Region.objects.annotate(x=SpreadsheetSafe(Value(None, output_field=CharField())))
    assert rows.values_list("x", flat=True).get() is None


@pytest.mark.parametrize("value", [v for v, _e in TRICKY if not v.startswith("'")])
def test_unescape_undoes_the_rule(value):
    assert spreadsheet_unescape(spreadsheet_safe(value)) == value


def test_an_apostrophe_before_a_formula_character_is_read_as_the_escape():
    # The one value the round trip changes (documented in docs/REGISTRY.md).
    assert spreadsheet_unescape("'=1") == "=1"
    assert spreadsheet_unescape("'abc") == "'abc"


@pytest.fixture
def district_client(client):
    user = UserFactory(username="district_exporter")
    registry.role_assign(actor=None, user=user, role=RoleAssignment.Role.CITY_ADMIN)
    client.force_login(user)
    return client


def test_admin_exports_escape_every_tricky_cell_in_csv_and_xlsx(district_client):
    # given: one unit per tricky value, in the contact name and the note
    units = [
        MemberUnitFactory(name=f"导出单位{n:02}", contact_name=value, note=value)
        for n, (value, _e) in enumerate(TRICKY)
    ]
    url = reverse("admin:members_memberunit_export") + "?q=导出单位"
    # when
    csv_response = district_client.post(url, {"format": "0"})
    xlsx_response = district_client.post(url, {"format": "1"})
    # then
    assert csv_response.content.startswith("\ufeff".encode())
    csv_rows = list(csv.DictReader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    sheet = list(load_workbook(io.BytesIO(xlsx_response.content)).active.values)
    xlsx_rows = [dict(zip(sheet[0], row, strict=True)) for row in sheet[1:]]
    for rows, empty, newline in ((csv_rows, "", "\r"), (xlsx_rows, None, "\n")):
        by_name = {row["名称"]: row for row in rows}
        assert len(by_name) == len(units)
        for unit, (_value, expected) in zip(units, TRICKY, strict=True):
            # an empty cell reads back as None from XLSX, whose XML turns CR into LF
            expected = expected.replace("\r", newline) or empty
            assert by_name[unit.name]["联系人"] == expected
            assert by_name[unit.name]["备注"] == expected
    assert MemberUnit.objects.count() == len(units)


def test_no_admin_export_format_skips_the_rule():
    # Every admin that exports uses formats that pass cells through the rule.
    from django.contrib import admin
    from import_export.admin import ExportMixin

    from members.resources import SpreadsheetSafeExport

    exporting = [a for a in admin.site._registry.values() if isinstance(a, ExportMixin)]
    assert exporting
    for model_admin in exporting:
        for fmt in model_admin.get_export_formats():
            assert issubclass(fmt, SpreadsheetSafeExport), (model_admin, fmt)
