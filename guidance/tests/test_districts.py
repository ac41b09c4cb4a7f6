"""Guidance stations across two districts (issue 19): a district administrator sets
up a station at a unit of their district, runs their district's stations (admin
lists, settings, mentors, the anonymised dashboard) and reaches nothing of another
district's; the city administrator reaches both."""

from __future__ import annotations

import pytest
from django.urls import reverse

from guidance import services
from guidance.errors import GuidanceError
from guidance.models import Station
from guidance.tests.factories import MentorFactory, StationFactory
from members.models import AuditLog, RoleAssignment
from members.tests.districts import staff_user, two_districts
from members.tests.factories import MemberUnitFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:guidance_station_add")
STATION_FORM = {
    "description": "",
    "open_bookings_max": "2",
    "term_bookings_max": "4",
    "is_active": "on",
}


@pytest.fixture
def districts():
    world = two_districts()
    for side, tag in ((world.a, "渝中"), (world.b, "乙方")):
        side.centre = MemberUnitFactory(
            name=f"{tag}家长成长指导中心", kind="guidance_centre", region=side.street
        )
        side.new_centre = MemberUnitFactory(
            name=f"{tag}街道指导站", kind="guidance_centre", region=side.street
        )
        side.station = StationFactory(unit=side.centre, name=f"{tag}指导站")
        side.mentor = MentorFactory(station=side.station, name=f"{tag}导师")
    return world


def test_a_district_admin_sets_up_a_station_in_their_district_only(districts):
    w = districts
    station = services.station_create(user=w.a.admin, unit_id=w.a.new_centre.pk, name="新指导站")
    assert station.unit == w.a.new_centre
    assert AuditLog.objects.filter(action="guidance.station.create", actor=w.a.admin).exists()

    # another district's unit is as unknown as a missing one
    with pytest.raises(GuidanceError) as refused:
        services.station_create(user=w.a.admin, unit_id=w.b.new_centre.pk, name="越权指导站")
    assert (refused.value.code, refused.value.field) == ("unit_missing", "unit")
    assert not Station.objects.filter(unit=w.b.new_centre).exists()

    # a coordinator of the unit still sets up none
    coordinator = staff_user("中心周主任", RoleAssignment.Role.UNIT_COORDINATOR, unit=w.a.centre)
    with pytest.raises(GuidanceError) as refused:
        services.station_create(user=coordinator, unit_id=w.a.new_centre.pk, name="站")
    assert refused.value.code == "not_allowed"

    # the city administrator sets one up in either district
    services.station_create(user=w.city_admin, unit_id=w.b.new_centre.pk, name="乙方新站")
    assert Station.objects.filter(unit=w.b.new_centre).exists()


def test_the_admin_add_page_offers_a_district_admin_their_districts_units(client, districts):
    w = districts
    client.force_login(w.a.admin)

    page = client.get(ADD_URL)
    assert page.status_code == 200
    offered = set(page.context["adminform"].form.fields["unit"].queryset)
    assert w.a.new_centre in offered and w.a.unit in offered
    assert not {w.b.new_centre, w.b.centre, w.b.unit} & offered

    # another district's unit posted anyway: a field error, nothing written
    refused = client.post(ADD_URL, {**STATION_FORM, "name": "越权站", "unit": w.b.new_centre.pk})
    assert refused.status_code == 200
    assert "unit" in refused.context["adminform"].form.errors
    assert not Station.objects.filter(unit=w.b.new_centre).exists()

    done = client.post(ADD_URL, {**STATION_FORM, "name": "渝中新站", "unit": w.a.new_centre.pk})
    assert done.status_code == 302
    assert Station.objects.get(unit=w.a.new_centre).name == "渝中新站"


def test_a_district_admin_runs_their_districts_stations_and_not_the_others(client, districts):
    w = districts
    client.force_login(w.a.admin)

    stations = client.get(reverse("admin:guidance_station_changelist"))
    assert list(stations.context["cl"].result_list) == [w.a.station]
    mentors = client.get(reverse("admin:guidance_mentor_changelist"))
    assert list(mentors.context["cl"].result_list) == [w.a.mentor]

    # her station's settings change through station_update
    url = reverse("admin:guidance_station_change", args=[w.a.station.pk])
    response = client.post(url, {**STATION_FORM, "name": "渝中指导站（改）"})
    assert response.status_code == 302, response.content.decode()[:2000]
    w.a.station.refresh_from_db()
    assert w.a.station.name == "渝中指导站（改）"

    # the other district's station, its mentor and its dashboard answer 404
    for url in (
        reverse("admin:guidance_station_change", args=[w.b.station.pk]),
        reverse("admin:guidance_mentor_change", args=[w.b.mentor.pk]),
        reverse("guidance:dashboard", args=[w.b.station.pk]),
    ):
        assert client.get(url).status_code == 404, url
    other = reverse("admin:guidance_station_change", args=[w.b.station.pk])
    assert client.post(other, {**STATION_FORM, "name": "越权"}).status_code == 404
    with pytest.raises(GuidanceError):
        services.station_update(user=w.a.admin, station_id=w.b.station.pk, name="越权")
    w.b.station.refresh_from_db()
    assert w.b.station.name == "乙方指导站"
    assert client.get(reverse("guidance:dashboard", args=[w.a.station.pk])).status_code == 200


def test_the_city_admin_runs_both_districts_stations(client, districts):
    w = districts
    client.force_login(w.city_admin)
    stations = client.get(reverse("admin:guidance_station_changelist"))
    assert set(stations.context["cl"].result_list) == {w.a.station, w.b.station}
    mentors = client.get(reverse("admin:guidance_mentor_changelist"))
    assert set(mentors.context["cl"].result_list) == {w.a.mentor, w.b.mentor}
    for station in (w.a.station, w.b.station):
        assert client.get(reverse("guidance:dashboard", args=[station.pk])).status_code == 200
