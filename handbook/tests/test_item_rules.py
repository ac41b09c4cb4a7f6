"""The rules of an item (handbook_item_save, services.item_validate): the smallint
columns, the description's length, evidence and attendance linked both ways, a
name taken by a parallel save; on the service, the coordinator's page and the admin."""

from __future__ import annotations

import pytest
from django.db import IntegrityError
from django.urls import reverse

from handbook import services
from handbook.demo import DEFAULT_ITEMS
from handbook.errors import HandbookError
from handbook.models import HandbookItem
from handbook.tests.conftest import alliance_coordinator

pytestmark = pytest.mark.django_db


def _fields(**changes):
    fields = {
        "kind": "home",
        "name": "睡前故事",
        "description": "",
        "points": 2,
        "evidence": "none",
        "attendance_match": "",
        "event_kinds": [],
        "limit_per_day": 1,
        "limit_per_week": None,
        "limit_per_term": None,
        "position": 3,
        "is_active": True,
        "is_sample": False,
    }
    fields.update(changes)
    return fields


def _refused(world, **changes):
    with pytest.raises(HandbookError) as caught:
        services.handbook_item_save(
            user=alliance_coordinator(world.alliance),
            alliance_id=world.alliance.pk,
            **_fields(**changes),
        )
    return caught.value


@pytest.mark.parametrize("position", [32768, 99999, -1, "12a", 1.5, True])
def test_a_position_outside_the_smallint_is_refused_naming_the_field(world, position):
    error = _refused(world, position=position)
    assert error.code == "bad_position" and error.field == "position"
    assert "0 到 32767" in str(error.message)
    assert not HandbookItem.objects.filter(name="睡前故事").exists()


def test_positions_at_both_ends_are_saved(world):
    coordinator = alliance_coordinator(world.alliance)
    for n, position in enumerate((0, 32767, "12")):
        item = services.handbook_item_save(
            user=coordinator,
            alliance_id=world.alliance.pk,
            **_fields(name=f"睡前故事{n}", position=position),
        )
        item.refresh_from_db()
        assert item.position == int(position)


def test_a_description_over_500_characters_is_refused_naming_it(world):
    error = _refused(world, description="读" * 501)
    assert error.code == "description_too_long" and error.field == "description"
    assert "500" in str(error.message)
    item = services.handbook_item_save(
        user=alliance_coordinator(world.alliance),
        alliance_id=world.alliance.pk,
        **_fields(description="读" * 500),
    )
    assert len(item.description) == 500


def test_evidence_is_attendance_exactly_when_the_item_is_linked_to_attendance(world):
    # linked to course sessions but claimed with a photo: refused on the evidence
    error = _refused(world, kind="school", attendance_match="course_session", evidence="photo")
    assert error.code == "match_needs_attendance" and error.field == "evidence"
    # "attendance" evidence with nothing to match: refused on the evidence too
    error = _refused(world, kind="school", evidence="attendance", attendance_match="")
    assert error.code == "evidence_needs_match" and error.field == "evidence"
    # both together: saved
    item = services.handbook_item_save(
        user=alliance_coordinator(world.alliance),
        alliance_id=world.alliance.pk,
        **_fields(kind="school", evidence="attendance", attendance_match="event"),
    )
    assert item.attendance_match == "event"


def test_the_district_defaults_follow_the_evidence_rule():
    # (kind, name, description, points, evidence, attendance_match, ...)
    for row in DEFAULT_ITEMS:
        evidence, match = row[4], row[5]
        assert (evidence == "attendance") == bool(match), row[1]
    for item in HandbookItem.objects.filter(alliance__isnull=True):
        services.item_validate(item)  # the migration's rows pass the service's checks


def test_an_item_linked_to_attendance_is_never_claimed_by_hand(world):
    # an older row saved before the rule: linked, but with "note" evidence
    HandbookItem.objects.filter(pk=world.course.pk).update(evidence="note")
    with pytest.raises(HandbookError) as caught:
        services.claim_submit(
            user=world.parent, item_id=world.course.pk, occurred_on=world.today, note="去了"
        )
    assert caught.value.code == "attendance_only" and caught.value.field == "item"


def test_a_name_taken_by_a_parallel_save_is_the_name_error(world, monkeypatch):
    # the check saw no such name; the unique key refuses the write
    real_save = HandbookItem.save

    def racing_save(self, *args, **kwargs):
        monkeypatch.setattr(HandbookItem, "save", real_save)
        HandbookItem.objects.create(
            alliance=world.alliance, kind=self.kind, name=self.name, points=1
        )
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(HandbookItem, "save", racing_save)
    error = _refused(world)
    assert error.code == "name_taken" and error.field == "name"


def test_the_unique_key_really_holds_the_name(world):
    with pytest.raises(IntegrityError):
        HandbookItem.objects.create(alliance=world.alliance, kind="home", name="亲子阅读")


def test_the_item_page_refuses_a_huge_position_on_its_field_not_a_500(client, world):
    client.force_login(alliance_coordinator(world.alliance))
    edit = reverse("handbook:item_edit", args=[world.reading.pk])
    page = client.get(edit).content.decode()
    assert 'max="32767"' in page and 'maxlength="500"' in page

    data = {
        "kind": "home",
        "name": "亲子阅读",
        "points": 2,
        "evidence": "none",
        "is_active": "on",
        "limit_per_day": 1,
        "position": 99999,
    }
    response = client.post(edit, data)
    assert response.status_code == 200
    assert response.context["form"].errors["position"]

    response = client.post(edit, {**data, "position": 5, "description": "读" * 501})
    assert response.status_code == 200
    assert response.context["form"].errors["description"]

    response = client.post(edit, {**data, "position": 5, "limit_per_day": 40000})
    assert response.status_code == 200
    assert response.context["form"].errors["limit_per_day"]

    response = client.post(
        edit, {**data, "position": 5, "kind": "school", "attendance_match": "event"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["evidence"] == [
        "自动关联签到的项目，所需凭证须为“门户签到记录”。"
    ]
    world.reading.refresh_from_db()
    assert world.reading.position != 99999 and world.reading.kind == "home"


def test_the_admin_form_runs_the_services_checks_on_its_fields(client, world):
    client.force_login(alliance_coordinator(world.alliance, is_staff=True))
    url = reverse("admin:handbook_handbookitem_change", args=[world.course.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "alliance"}
    data.update(event_kinds="[]", is_active="on", evidence="photo")

    response = client.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["evidence"] == ["自动关联签到的项目，所需凭证须为“门户签到记录”。"]
    response = client.post(url, {**data, "evidence": "attendance", "description": "读" * 501})
    assert response.status_code == 200
    assert "description" in response.context["adminform"].form.errors
    world.course.refresh_from_db()
    assert world.course.evidence == "attendance"
