"""Who sees what in the registry admin: every role × every changelist and change
page, allowed and denied, plus autocomplete, list filters and export."""

from dataclasses import dataclass

import pytest
from django.urls import reverse

from members import registry
from members.models import AuditLog, RoleAssignment
from members.services import audit_log_record
from members.tests.factories import (
    AllianceFactory,
    MembershipFactory,
    MemberUnitFactory,
    RegionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Role = RoleAssignment.Role


@dataclass
class World:
    users: dict
    objects: dict


@pytest.fixture
def world():
    district_region = RegionFactory(name="甲区", kind="district")
    street_a = RegionFactory(name="甲街道", parent=district_region)
    street_b = RegionFactory(name="乙街道隐藏", parent=district_region)
    alliance_a = AllianceFactory(name="甲联盟", short_name="甲联盟", region=street_a)
    alliance_b = AllianceFactory(name="乙联盟隐藏", short_name="乙联盟隐藏", region=street_b)
    a1 = MemberUnitFactory(name="甲一小学", region=street_a)
    a2 = MemberUnitFactory(name="甲二幼儿园", region=street_a)
    a1_child = MemberUnitFactory(name="甲一小学分校", region=street_a, parent=a1)
    b1 = MemberUnitFactory(name="乙一中学隐藏", region=street_b)
    m_a1 = MembershipFactory(alliance=alliance_a, unit=a1, role="base")
    m_a2 = MembershipFactory(alliance=alliance_a, unit=a2)
    m_b1 = MembershipFactory(alliance=alliance_b, unit=b1)

    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    district = UserFactory(username="district")
    registry.role_assign(actor=superuser, user=district, role=Role.CITY_ADMIN)
    coord_a = UserFactory(username="coord_a")
    registry.role_assign(
        actor=superuser, user=coord_a, role=Role.ALLIANCE_COORDINATOR, alliance=alliance_a
    )
    coord_u = UserFactory(username="coord_u")
    role_u = registry.role_assign(
        actor=superuser, user=coord_u, role=Role.UNIT_COORDINATOR, unit=a1
    )
    plain_staff = UserFactory(username="plain_staff", is_staff=True)
    audit = audit_log_record(actor=district, action="members.test.entry")
    return World(
        users={
            "superuser": superuser,
            "district": district,
            "coord_a": coord_a,
            "coord_u": coord_u,
            "plain_staff": plain_staff,
        },
        objects={
            "region": street_b,
            "alliance_a": alliance_a,
            "alliance_b": alliance_b,
            "a1": a1,
            "a2": a2,
            "a1_child": a1_child,
            "b1": b1,
            "m_a1": m_a1,
            "m_a2": m_a2,
            "m_b1": m_b1,
            "role_u": role_u,
            "audit": audit,
        },
    )


ALL = ["superuser", "district", "coord_a", "coord_u", "plain_staff"]
TOP = {"superuser": 200, "district": 200}


def _expect(**by_role):
    return {role: by_role.get(role, TOP.get(role, 403)) for role in ALL}


CHANGELISTS = {
    "region": _expect(),
    "alliance": _expect(coord_a=200, coord_u=200),
    "memberunit": _expect(coord_a=200, coord_u=200),
    "membership": _expect(coord_a=200, coord_u=200),
    "roleassignment": _expect(),
    "auditlog": _expect(),
}

# (model, object key) → expected status per role. 404: outside the user's rows.
CHANGE_PAGES = {
    ("region", "region"): _expect(),
    ("alliance", "alliance_a"): _expect(coord_a=200, coord_u=200),
    ("alliance", "alliance_b"): _expect(coord_a=404, coord_u=404),
    ("memberunit", "a1"): _expect(coord_a=200, coord_u=200),
    ("memberunit", "a2"): _expect(coord_a=200, coord_u=404),
    ("memberunit", "a1_child"): _expect(coord_a=404, coord_u=200),
    ("memberunit", "b1"): _expect(coord_a=404, coord_u=404),
    ("membership", "m_a1"): _expect(coord_a=200, coord_u=200),
    ("membership", "m_a2"): _expect(coord_a=200, coord_u=404),
    ("membership", "m_b1"): _expect(coord_a=404, coord_u=404),
    ("roleassignment", "role_u"): _expect(),
    ("auditlog", "audit"): _expect(),
}


@pytest.mark.parametrize("role", ALL)
@pytest.mark.parametrize("model", list(CHANGELISTS))
def test_changelist_matrix(client, world, role, model):
    # given
    client.force_login(world.users[role])
    # when
    response = client.get(reverse(f"admin:members_{model}_changelist"))
    # then
    assert response.status_code == CHANGELISTS[model][role]


@pytest.mark.parametrize("role", ALL)
@pytest.mark.parametrize("page", list(CHANGE_PAGES), ids=lambda p: f"{p[0]}-{p[1]}")
def test_change_page_matrix(client, world, role, page):
    # given
    model, key = page
    client.force_login(world.users[role])
    # when
    response = client.get(reverse(f"admin:members_{model}_change", args=[world.objects[key].pk]))
    # then
    assert response.status_code == CHANGE_PAGES[page][role]


def test_non_staff_user_is_sent_to_the_admin_login(client, world):
    # given
    client.force_login(UserFactory(username="parent"))
    # when
    response = client.get(reverse("admin:members_memberunit_changelist"))
    # then
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("district", {"甲一小学", "甲二幼儿园", "甲一小学分校", "乙一中学隐藏"}),
        ("coord_a", {"甲一小学", "甲二幼儿园"}),
        ("coord_u", {"甲一小学", "甲一小学分校"}),
    ],
)
def test_changelist_lists_only_units_in_scope(client, world, role, expected):
    # given
    client.force_login(world.users[role])
    # when
    response = client.get(reverse("admin:members_memberunit_changelist"))
    # then
    shown = {unit.name for unit in response.context["cl"].result_list}
    assert shown == expected


@pytest.mark.parametrize("role", ["coord_a", "coord_u"])
def test_list_filters_name_nothing_outside_scope(client, world, role):
    # given
    client.force_login(world.users[role])
    # when
    response = client.get(reverse("admin:members_memberunit_changelist"))
    # then: neither the hidden alliance, its street nor its unit appear anywhere
    html = response.content.decode()
    assert "甲联盟" in html
    assert "乙联盟隐藏" not in html
    assert "乙街道隐藏" not in html
    assert "乙一中学隐藏" not in html


@pytest.mark.parametrize(
    ("role", "model", "field", "expected"),
    [
        ("coord_a", "membership", "unit", {"甲一小学", "甲二幼儿园"}),
        ("coord_u", "membership", "unit", {"甲一小学", "甲一小学分校"}),
        ("coord_u", "memberunit", "parent", {"甲一小学", "甲一小学分校"}),
        ("coord_a", "membership", "alliance", {"甲联盟"}),
        (
            "district",
            "memberunit",
            "parent",
            {"甲一小学", "甲二幼儿园", "甲一小学分校", "乙一中学隐藏"},
        ),
    ],
)
def test_autocomplete_never_leaks(client, world, role, model, field, expected):
    # given
    client.force_login(world.users[role])
    # when
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "members", "model_name": model, "field_name": field, "term": ""},
    )
    # then
    assert response.status_code == 200
    assert {r["text"] for r in response.json()["results"]} == expected


def test_autocomplete_of_regions_is_denied_to_coordinators(client, world):
    # given
    client.force_login(world.users["coord_a"])
    # when
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "members", "model_name": "memberunit", "field_name": "region", "term": "乙"},
    )
    # then
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("coord_a", {"甲一小学", "甲二幼儿园"}),
        ("coord_u", {"甲一小学", "甲一小学分校"}),
    ],
)
def test_export_contains_only_units_in_scope_and_is_audited(client, world, role, expected):
    # given
    client.force_login(world.users[role])
    # when
    response = client.post(reverse("admin:members_memberunit_export"), {"format": "0"})
    # then
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    for name in ["甲一小学", "甲二幼儿园", "甲一小学分校", "乙一中学隐藏"]:
        assert (name in text) == (name in expected), name
    entry = AuditLog.objects.get(action="members.unit.export")
    assert entry.actor == world.users[role]
    assert entry.data["rows"] == len(expected)


def test_export_of_selected_ids_cannot_reach_outside_scope(client, world):
    # given: an alliance coordinator posts the id of a unit they cannot see
    client.force_login(world.users["coord_a"])
    b1 = world.objects["b1"]
    # when
    response = client.post(
        reverse("admin:members_memberunit_export"),
        {"format": "0", "export_items": [str(b1.pk)]},
    )
    # then
    assert "乙一中学隐藏" not in response.content.decode("utf-8-sig")


@pytest.mark.parametrize("role", ["coord_a", "coord_u"])
def test_coordinators_cannot_import(client, world, role):
    # given
    client.force_login(world.users[role])
    # when
    response = client.get(reverse("admin:members_memberunit_import"))
    # then
    assert response.status_code == 403


def test_coordinator_cannot_post_a_change_to_a_unit_outside_scope(client, world):
    # given
    client.force_login(world.users["coord_u"])
    b1 = world.objects["b1"]
    # when
    response = client.post(
        reverse("admin:members_memberunit_change", args=[b1.pk]), {"name": "改名"}
    )
    # then
    assert response.status_code == 404
    b1.refresh_from_db()
    assert b1.name == "乙一中学隐藏"


def test_unit_coordinator_edits_contacts_but_not_the_registry_structure(client, world):
    # given
    client.force_login(world.users["coord_u"])
    a1 = world.objects["a1"]
    url = reverse("admin:members_memberunit_change", args=[a1.pk])
    # when: the form also posts a region and kind, which are read-only for them
    response = client.post(
        url,
        {
            "name": a1.name,
            "address": "新地址 1 号",
            "contact_name": "刘老师",
            "contact_phone": "023-63851234",
            "note": "",
            "kind": "hospital",
            "region": str(world.objects["region"].pk),
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": str(world.objects["m_a1"].pk),
            "memberships-0-unit": str(a1.pk),
        },
    )
    # then
    assert response.status_code == 302, response.context and response.context.get("errors")
    a1.refresh_from_db()
    assert a1.contact_name == "刘老师"
    assert a1.kind == "primary_school"
    assert a1.region.name == "甲街道"
    assert AuditLog.objects.filter(action="members.unit.change", target_id=str(a1.pk)).exists()


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("coord_a", {"甲一小学", "甲二幼儿园"}),
        ("district", {"甲一小学", "甲二幼儿园", "乙一中学隐藏"}),
    ],
)
def test_membership_export_is_scoped(client, world, role, expected):
    # given
    client.force_login(world.users[role])
    # when
    response = client.post(reverse("admin:members_membership_export"), {"format": "0"})
    # then
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    for name in ["甲一小学", "甲二幼儿园", "乙一中学隐藏"]:
        assert (name in text) == (name in expected), name
    assert AuditLog.objects.filter(action="members.membership.export").count() == 1


def test_alliance_coordinator_cannot_add_a_membership_to_another_alliance(client, world):
    # given
    client.force_login(world.users["coord_a"])
    # when
    response = client.post(
        reverse("admin:members_membership_add"),
        {
            "alliance": world.objects["alliance_b"].pk,
            "unit": world.objects["a2"].pk,
            "role": "member",
        },
    )
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["alliance"]
    assert not world.objects["alliance_b"].memberships.filter(unit=world.objects["a2"]).exists()


def test_unit_coordinators_have_no_membership_export(client, world):
    # given: a unit coordinator only looks at their unit's memberships
    client.force_login(world.users["coord_u"])
    # when
    response = client.post(reverse("admin:members_membership_export"), {"format": "0"})
    # then
    assert response.status_code == 403
