"""The registry admin at work: changelist speed with 10,000 units, bulk actions,
role assignment in admin, the read-only audit log and the Chinese pages."""

import pytest
from django.urls import reverse

from members import registry
from members.models import (
    AuditLog,
    Membership,
    MemberUnit,
    Region,
    RoleAssignment,
)
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


@pytest.fixture
def district_admin():
    user = UserFactory(username="district")
    registry.role_assign(actor=None, user=user, role=Role.CITY_ADMIN)
    return user


def _bulk_units(count: int, regions: list[Region], alliance, parent) -> None:
    units = MemberUnit.objects.bulk_create(
        [
            MemberUnit(
                name=f"批量单位{i:05d}",
                code=f"BULK-{i:05d}",
                kind=MemberUnit.Kind.COMMUNITY,
                region=regions[i % len(regions)],
                parent=parent if i % 2 else None,
                contact_name="联系人",
                contact_phone="023-63851234",
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    Membership.objects.bulk_create(
        [Membership(alliance=alliance, unit=unit) for unit in units], batch_size=2000
    )


def _changelist_queries(client, django_assert_max_num_queries, url, limit):
    with django_assert_max_num_queries(limit) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries), response


@pytest.mark.parametrize("role", ["district", "alliance_coordinator"])
def test_changelist_query_count_is_small_and_constant_up_to_10000_units(
    client, django_assert_max_num_queries, district_admin, role
):
    # given: 20 units, counted, then 10,000 units, counted again
    regions = [RegionFactory() for _ in range(5)]
    alliance = AllianceFactory()
    user = district_admin
    if role == "alliance_coordinator":
        user = UserFactory(username="coord")
        registry.role_assign(
            actor=district_admin, user=user, role=Role.ALLIANCE_COORDINATOR, alliance=alliance
        )
    client.force_login(user)
    url = reverse("admin:members_memberunit_changelist")
    parent = MemberUnitFactory(region=regions[0], name="总校")
    _bulk_units(20, regions, alliance, parent)
    small, _ = _changelist_queries(client, django_assert_max_num_queries, url, 16)
    MemberUnit.objects.filter(code__startswith="BULK-").delete()
    _bulk_units(10_000, regions, alliance, parent)
    # when
    large, response = _changelist_queries(client, django_assert_max_num_queries, url, 16)
    filtered, _ = _changelist_queries(
        client,
        django_assert_max_num_queries,
        f"{url}?kind=community&is_active__exact=1&alliance={alliance.pk}&q=批量",
        16,
    )
    # then
    print(f"{role}: {small} queries for 20 units, {large} for 10,000, {filtered} filtered")
    assert large == small
    assert filtered <= small + 1
    assert response.context["cl"].result_count == (10_001 if role == "district" else 10_000)
    assert len(response.context["cl"].result_list) == 100


def test_deactivate_action_deactivates_and_audits(client, district_admin):
    # given
    units = MemberUnitFactory.create_batch(3)
    client.force_login(district_admin)
    # when
    response = client.post(
        reverse("admin:members_memberunit_changelist"),
        {"action": "deactivate_units", "_selected_action": [u.pk for u in units[:2]]},
        follow=True,
    )
    # then
    assert "已停用 2 个单位" in response.content.decode()
    assert list(MemberUnit.objects.filter(is_active=True)) == [units[2]]
    assert AuditLog.objects.filter(action="members.unit.deactivate").count() == 2


def test_deactivate_action_is_not_offered_to_coordinators(client, district_admin):
    # given
    unit = MemberUnitFactory()
    coordinator = UserFactory()
    registry.role_assign(
        actor=district_admin, user=coordinator, role=Role.UNIT_COORDINATOR, unit=unit
    )
    client.force_login(coordinator)
    # when
    response = client.get(reverse("admin:members_memberunit_changelist"))
    # then
    form = response.context["action_form"]
    actions = dict(form.fields["action"].choices) if form else {}
    assert "deactivate_units" not in actions


def test_add_to_alliance_action_shows_a_form_then_adds(client, district_admin):
    # given
    alliance = AllianceFactory(name="目标联盟", short_name="目标联盟")
    units = MemberUnitFactory.create_batch(2)
    client.force_login(district_admin)
    url = reverse("admin:members_memberunit_changelist")
    selected = [str(u.pk) for u in units]
    # when: the action first shows the intermediate page
    page = client.post(url, {"action": "add_to_alliance", "_selected_action": selected})
    # then
    assert page.status_code == 200
    html = page.content.decode()
    assert "将所选单位加入联盟" in html and "目标联盟" in html
    assert not Membership.objects.exists()
    # when: the form is applied
    done = client.post(
        url,
        {
            "action": "add_to_alliance",
            "_selected_action": selected,
            "apply": "1",
            "alliance": str(alliance.pk),
            "role": "member",
            "joined_on": "2025-03-01",
        },
        follow=True,
    )
    # then
    assert "已将 2 个单位加入“目标联盟”" in done.content.decode()
    assert Membership.objects.filter(alliance=alliance).count() == 2
    assert Membership.objects.filter(joined_on="2025-03-01").count() == 2


def test_add_to_alliance_form_offers_only_the_coordinators_alliances(client, district_admin):
    # given
    own = AllianceFactory(name="本联盟", short_name="本联盟")
    other = AllianceFactory(name="别人的联盟", short_name="别人的联盟")
    unit = MembershipFactory(alliance=own).unit
    coordinator = UserFactory()
    registry.role_assign(
        actor=district_admin, user=coordinator, role=Role.ALLIANCE_COORDINATOR, alliance=own
    )
    client.force_login(coordinator)
    url = reverse("admin:members_memberunit_changelist")
    # when: shown, then posted with the other alliance anyway
    page = client.post(url, {"action": "add_to_alliance", "_selected_action": [unit.pk]})
    forced = client.post(
        url,
        {
            "action": "add_to_alliance",
            "_selected_action": [unit.pk],
            "apply": "1",
            "alliance": str(other.pk),
            "role": "member",
        },
    )
    # then
    assert "别人的联盟" not in page.content.decode()
    assert forced.status_code == 200  # the form again, with an error
    assert not Membership.objects.filter(alliance=other).exists()


def test_role_assigned_in_admin_goes_through_the_service(client, district_admin):
    # given
    alliance = AllianceFactory()
    person = UserFactory(username="new_coordinator")
    client.force_login(district_admin)
    # when
    response = client.post(
        reverse("admin:members_roleassignment_add"),
        {"user": person.pk, "role": Role.ALLIANCE_COORDINATOR, "alliance": alliance.pk},
    )
    # then
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.is_staff
    assert person.groups.filter(name="联盟协调员").exists()
    assert AuditLog.objects.filter(action="members.role.assign", actor=district_admin).exists()


def test_role_with_wrong_scope_is_a_form_error(client, district_admin):
    # given
    client.force_login(district_admin)
    # when: a unit coordinator without a unit
    response = client.post(
        reverse("admin:members_roleassignment_add"),
        {"user": UserFactory().pk, "role": Role.UNIT_COORDINATOR},
    )
    # then
    assert response.status_code == 200
    assert "单位协调员和讲师须且只能指定一个单位" in response.content.decode()
    assert not RoleAssignment.objects.filter(role=Role.UNIT_COORDINATOR).exists()


def test_role_revoked_in_admin_is_audited(client, district_admin):
    # given
    person = UserFactory()
    assignment = registry.role_assign(
        actor=district_admin, user=person, role=Role.UNIT_COORDINATOR, unit=MemberUnitFactory()
    )
    client.force_login(district_admin)
    # when
    response = client.post(
        reverse("admin:members_roleassignment_delete", args=[assignment.pk]), {"post": "yes"}
    )
    # then
    assert response.status_code == 302
    person.refresh_from_db()
    assert not person.is_staff
    assert AuditLog.objects.filter(action="members.role.revoke").exists()


def test_audit_log_admin_is_read_only_and_filters(client, district_admin):
    # given
    other = UserFactory(username="someone")
    audit_log_record(actor=district_admin, action="members.unit.export")
    entry = audit_log_record(actor=other, action="members.unit.import")
    client.force_login(district_admin)
    url = reverse("admin:members_auditlog_changelist")
    # when
    by_actor = client.get(url, {"actor": "someone"})
    by_action = client.get(url, {"action": "members.unit.export"})
    change = client.get(reverse("admin:members_auditlog_change", args=[entry.pk]))
    add = client.get(reverse("admin:members_auditlog_add"))
    edit = client.post(
        reverse("admin:members_auditlog_change", args=[entry.pk]), {"action": "tampered"}
    )
    delete = client.get(reverse("admin:members_auditlog_delete", args=[entry.pk]))
    # then
    assert [e.action for e in by_actor.context["cl"].result_list] == ["members.unit.import"]
    assert {e.action for e in by_action.context["cl"].result_list} == {"members.unit.export"}
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert add.status_code == 403
    assert edit.status_code == 403
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.action == "members.unit.import"


def test_unit_changelist_and_change_page_are_in_chinese(client, district_admin):
    # given
    unit = MembershipFactory().unit
    client.force_login(district_admin)
    # when
    changelist = client.get(reverse("admin:members_memberunit_changelist")).content.decode()
    change = client.get(reverse("admin:members_memberunit_change", args=[unit.pk]))
    # then
    for text in ["导入", "导出", "所属联盟", "所在区域", "停用所选单位", "将所选单位加入联盟"]:
        assert text in changelist
    assert "所属联盟" in change.content.decode()


@pytest.mark.parametrize(
    ("model", "sample", "created"),
    [
        ("region", "regions-clean.csv", Region),
        ("membership", "memberships-clean.csv", Membership),
    ],
)
def test_regions_and_memberships_import_through_the_admin(
    client, district_admin, model, sample, created
):
    # given
    from pathlib import Path

    from members import demo

    demo.load()
    before = created.objects.count()
    client.force_login(district_admin)
    path = Path(__file__).resolve().parents[2] / "docs" / "samples" / sample
    # when: checked, then confirmed
    with open(path, "rb") as f:
        preview = client.post(
            reverse(f"admin:members_{model}_import"),
            {"import_file": f, "format": "0", "resource": "0"},
        )
    confirm = preview.context["confirm_form"]
    client.post(
        reverse(f"admin:members_{model}_process_import"),
        {name: confirm.initial[name] for name in confirm.initial},
    )
    # then
    assert "新增 2 条" in preview.content.decode()
    assert created.objects.count() == before + 2
    assert AuditLog.objects.filter(action=f"members.{model}.import").count() == 1


def test_alliance_change_page_with_103_units_has_no_per_row_queries(
    client, django_assert_max_num_queries, district_admin
):
    # given: the Yuzhong network from the demo data
    from members import demo
    from members.models import Alliance

    demo.load()
    yuzhong = Alliance.objects.get(short_name="渝中教联体")
    client.force_login(district_admin)
    # when
    with django_assert_max_num_queries(25):
        response = client.get(reverse("admin:members_alliance_change", args=[yuzhong.pk]))
    # then
    assert response.status_code == 200
    assert "七星岗街道第1社区学习中心" in response.content.decode()


def test_unit_form_checks_the_phone_like_the_import(client, district_admin):
    # given
    unit = MemberUnitFactory()
    client.force_login(district_admin)
    data = {
        "name": unit.name,
        "kind": unit.kind,
        "region": unit.region_id,
        "is_active": "on",
        "contact_phone": "１２３４５",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    url = reverse("admin:members_memberunit_change", args=[unit.pk])
    # when
    bad = client.post(url, data)
    good = client.post(url, {**data, "contact_phone": "０２３-６３８５１２３４"})
    # then
    assert "电话号码“12345”格式不正确" in bad.content.decode()
    assert good.status_code == 302
    unit.refresh_from_db()
    assert unit.contact_phone == "023-63851234"
