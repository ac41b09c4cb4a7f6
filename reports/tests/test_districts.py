"""Multi-district scoping of the dashboards and term reports (issue 19): a
district administrator gets their district's figures only — overview, unit
pages, CSV and workbook exports, the snapshot admin — and the city administrator
all of them; the roll-ups stay aggregates in SQL, so a district admin's
overview costs the same queries however many units their district has."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from bookings.models import Booking
from members.models import AuditLog, Region
from members.tests.districts import two_districts
from members.tests.factories import GuardianFactory, MemberUnitFactory, RegionFactory
from reports.services import participation_rollup
from reports.tests.factories import (
    CourseFactory,
    ParentSchoolFactory,
    TermFactory,
    booking_make,
    local,
    session_make,
)

pytestmark = pytest.mark.django_db

PRESENT = Booking.Attendance.PRESENT
NOW = local(2026, 6, 15, 12)


def _held(unit, term, *, families: int, day: int = 10):
    """A session of ``unit`` in March with ``families`` present families of one."""
    school = ParentSchoolFactory(host_unit=unit, name=f"{unit.name}家长学校")
    course = CourseFactory(parent_school=school, term=term, title=f"{unit.name}亲子课")
    session = session_make(course=course, starts_at=local(2026, 3, day))
    for _n in range(families):
        guardian = GuardianFactory()
        booking_make(
            offering=session.offering,
            family=guardian.family,
            guardian=guardian,
            attendance=PRESENT,
        )


@pytest.fixture
def world():
    w = two_districts()
    w.term = TermFactory(
        code="2025-2026-2",
        is_current=True,
        starts_on=local(2026, 2, 1).date(),
        ends_on=local(2026, 7, 31).date(),
    )
    _held(w.a.unit, w.term, families=2)
    _held(w.b.unit, w.term, families=3)
    participation_rollup(term=w.term, now=NOW)
    return w


def _overview(client, user, term):
    client.force_login(user)
    response = client.get(reverse("reports:overview"), {"term": term.code})
    assert response.status_code == 200
    return response


def test_a_district_admin_sees_their_districts_figures_only(client, world):
    page = _overview(client, world.a.admin, world.term)
    assert page.context["figures"]["person_times"] == 2
    assert [row["unit__name"] for row in page.context["units_page"]] == ["渝中实验小学"]
    assert [u.name for u in page.context["export_units"]] == ["渝中实验小学"]
    assert "乙方实验小学" not in page.content.decode()
    # the other district's unit page is the same 404 as a wrong id
    assert client.get(reverse("reports:unit", args=[world.a.unit.pk])).status_code == 200
    assert client.get(reverse("reports:unit", args=[world.b.unit.pk])).status_code == 404
    # B's administrator: B's figures
    assert _overview(client, world.b.admin, world.term).context["figures"]["person_times"] == 3


def test_the_city_admin_sees_every_districts_figures(client, world):
    page = _overview(client, world.city_admin, world.term)
    assert page.context["figures"]["person_times"] == 5
    assert {row["unit__name"] for row in page.context["units_page"]} == {
        "渝中实验小学",
        "乙方实验小学",
    }


def _csv(client, user, term, **extra):
    client.force_login(user)
    response = client.post(reverse("reports:export"), {"term": term.code, "format": "csv", **extra})
    if response.status_code != 200:
        return response, None
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return response, list(csv.reader(io.StringIO(body)))[1:]


def test_the_term_report_of_a_district_admin_holds_their_district_only(client, world):
    _response, rows = _csv(client, world.a.admin, world.term)
    assert len(rows) == 2 and {row[1] for row in rows} == {"渝中实验小学"}
    # asking for the other district's unit is refused, and nothing is recorded
    refused, rows = _csv(client, world.a.admin, world.term, unit=world.b.unit.pk)
    assert refused.status_code == 302 and rows is None
    assert AuditLog.objects.filter(action="reports.export.csv").count() == 1
    # the workbook too: its summary names A's unit only
    client.force_login(world.a.admin)
    response = client.post(reverse("reports:export"), {"term": world.term.code, "format": "xlsx"})
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    text = " ".join(
        str(cell)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    )
    assert "渝中实验小学" in text and "乙方实验小学" not in text

    _response, rows = _csv(client, world.city_admin, world.term)
    assert {row[1] for row in rows} == {"渝中实验小学", "乙方实验小学"}


def test_the_snapshot_admin_lists_the_districts_rows(client, world):
    url = reverse("admin:reports_participationsnapshot_changelist")
    client.force_login(world.a.admin)
    listing = client.get(url)
    assert listing.status_code == 200
    assert {row.unit_id for row in listing.context["cl"].result_list} == {world.a.unit.pk}
    client.force_login(world.city_admin)
    units = {row.unit_id for row in client.get(url).context["cl"].result_list}
    assert units == {world.a.unit.pk, world.b.unit.pk}


def test_a_district_admins_overview_costs_the_same_queries_for_one_unit_or_many(
    client, world, django_assert_max_num_queries
):
    url = reverse("reports:overview")

    def count() -> tuple[int, dict]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, {"term": world.term.code})
        assert response.status_code == 200
        return len(captured), response.context["figures"]

    _overview(client, world.a.admin, world.term)  # session and caches warmed
    small, _figures = count()
    # the district grows: ten more units in a street of A (not in its alliance),
    # and ten in B that must not count
    street = RegionFactory(name="朝天门街道", kind=Region.Kind.STREET, parent=world.a.district)
    other_street = Region.objects.get(name="乙方街道")
    for n in range(10):
        _held(MemberUnitFactory(name=f"渝中增补{n}", region=street), world.term, families=1)
        _held(MemberUnitFactory(name=f"乙方增补{n}", region=other_street), world.term, families=1)
    participation_rollup(term=world.term, now=NOW)
    large, figures = count()
    assert figures["person_times"] == 2 + 10
    assert large == small
    with django_assert_max_num_queries(small):
        client.get(url, {"term": world.term.code})
    # as cheap as an alliance coordinator's (reports/tests/test_views.py), one
    # more at most for the district's alliances
    assert small <= 18
