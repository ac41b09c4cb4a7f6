"""Setting up a station: station_create (district administrators only, one per
unit, even for two simultaneous first calls) and the admin's add page through it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from guidance import services
from guidance.errors import GuidanceError
from guidance.models import Station
from members.models import AuditLog
from members.tests.factories import MemberUnitFactory
from tests.races import run_together

from .world import build_station_world

ADD_URL = reverse("admin:guidance_station_add")


@pytest.mark.django_db
def test_only_a_district_administrator_sets_up_a_station(station_world):
    w = station_world
    unit = MemberUnitFactory(name="蛟川街道家庭教育指导站", kind="guidance_centre")
    # the station's own coordinator may change it, not set up another
    with pytest.raises(GuidanceError) as refused:
        services.station_create(user=w.coordinator, unit_id=unit.pk, name="蛟川指导站")
    assert refused.value.code == "not_allowed"
    station = services.station_create(
        user=w.district_admin, unit_id=unit.pk, name=" 蛟川指导站 ", open_bookings_max="3"
    )
    assert (station.unit, station.name, station.open_bookings_max) == (unit, "蛟川指导站", 3)
    assert station.term_bookings_max == 4  # the model's default
    assert AuditLog.objects.filter(action="guidance.station.create").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"unit_id": "abc", "name": "站"}, "unit_missing", "unit"),
        ({"unit_id": 10**30, "name": "站"}, "unit_missing", "unit"),
        ({"name": "   "}, "name_required", "name"),
        ({"name": "站", "term_bookings_max": "0"}, "limit_invalid", "term_bookings_max"),
        ({"name": "站", "open_bookings_max": "很多"}, "limit_invalid", "open_bookings_max"),
    ],
)
def test_bad_fields_are_refused_by_name_and_nothing_is_written(station_world, fields, code, field):
    w = station_world
    unit = MemberUnitFactory(kind="guidance_centre")
    before = Station.objects.count()
    with pytest.raises(GuidanceError) as refused:
        services.station_create(user=w.district_admin, **{"unit_id": unit.pk, **fields})
    assert (refused.value.code, refused.value.field) == (code, field)
    assert Station.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_calls_make_one_station():
    w = build_station_world()
    unit = MemberUnitFactory(kind="guidance_centre")
    outcome = run_together(
        [
            lambda n=n: services.station_create(
                user=w.district_admin, unit_id=unit.pk, name=f"指导站{n}"
            )
            for n in range(2)
        ],
        meet_before_write=["guidance_station"],
    )
    assert outcome.met == 2
    assert [error.code for error in outcome.errors] == ["station_exists"]
    assert Station.objects.filter(unit=unit).count() == 1


@pytest.mark.django_db
def test_the_admin_adds_a_station_through_the_service(client, station_world):
    w = station_world
    unit = MemberUnitFactory(name="庄市街道指导站", kind="guidance_centre")
    data = {
        "name": "庄市指导站",
        "description": "",
        "open_bookings_max": "2",
        "term_bookings_max": "4",
        "is_active": "on",
    }
    client.force_login(w.coordinator)
    assert client.get(ADD_URL).status_code == 403
    client.force_login(w.district_admin)
    assert client.get(ADD_URL).status_code == 200
    # a unit that already has a station: refused on the unit field, nothing written
    page = client.post(ADD_URL, {**data, "unit": w.station.unit_id})
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["unit"] == [
        "这个单位已经有指导站了，一个单位只设一个指导站。"
    ]
    assert client.post(ADD_URL, {**data, "unit": unit.pk}).status_code == 302
    station = Station.objects.get(unit=unit)
    assert station.name == "庄市指导站"
    assert AuditLog.objects.filter(
        action="guidance.station.create", actor=w.district_admin
    ).exists()
