"""The security page's 应用与设备授权 (members:api_tokens) and the admin's API tokens:
made once and shown once, revoked by the owner or an administrator and refused
at once by the API, scoped by members/access.py."""

import pytest
from django.test import Client
from django.urls import reverse

from members import registry
from members.models import ApiToken, AuditLog, RoleAssignment
from members.tests.factories import ApiTokenFactory, MemberUnitFactory, UserFactory

pytestmark = pytest.mark.django_db
PAGE = "/me/tokens/"
Role = RoleAssignment.Role


def _bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _api_me(raw):
    return Client().get("/api/v1/me", **_bearer(raw)).status_code


def _coordinator(unit, phone=None):
    superuser = UserFactory(is_superuser=True, is_staff=True)
    user = UserFactory(display_name="王老师", **({"phone": phone} if phone else {}))
    registry.role_assign(actor=superuser, user=user, role=Role.UNIT_COORDINATOR, unit=unit)
    return user


def test_the_page_is_linked_from_the_account_pages(client):
    client.force_login(UserFactory())
    assert reverse("members:api_tokens") == PAGE
    assert PAGE in client.get("/me/data/").content.decode()
    assert "应用与设备授权" in client.get(PAGE).content.decode()


def test_a_parent_makes_a_token_that_is_shown_once_and_works(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(PAGE, {"name": "小程序", "scopes": ["read", "write"]})

    assert response.status_code == 200
    token = ApiToken.objects.get(user=user)
    raw = response.context["new_token"]
    assert raw.startswith(f"alp_{token.prefix}_")
    assert raw in response.content.decode()
    assert token.scope_list == ["read", "write"] and token.kind == "user"
    assert _api_me(raw) == 200
    # shown once: the next visit lists it by its start only
    page = client.get(PAGE).content.decode()
    assert raw not in page and f"alp_{token.prefix}" in page and "小程序" in page
    # a parent is offered no check-in device
    assert "unit" not in response.context["form"].fields


def test_bad_input_names_the_field_and_makes_nothing(client):
    client.force_login(UserFactory())
    no_name = client.post(PAGE, {"name": " ", "scopes": ["read"]})
    assert no_name.context["form"].errors["name"]
    no_scope = client.post(PAGE, {"name": "平板"})
    assert no_scope.context["form"].errors["scopes"]
    bad_scope = client.post(PAGE, {"name": "平板", "scopes": ["admin"]})
    assert bad_scope.context["form"].errors["scopes"]
    assert not ApiToken.objects.exists()
    assert not no_name.context["new_token"]


def test_revoking_on_the_page_is_refused_by_the_api_at_once(client):
    user = UserFactory()
    token, raw = ApiTokenFactory.create(user=user, name="旧手机")
    client.force_login(user)
    assert _api_me(raw) == 200

    response = client.post(reverse("members:api_token_revoke", args=[token.pk]), follow=True)

    assert response.status_code == 200
    assert "已撤销“旧手机”" in response.content.decode()
    assert _api_me(raw) == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditLog.objects.filter(action="members.api_token.revoke", actor=user).exists()


def test_another_persons_token_cannot_be_revoked_from_the_page(client):
    theirs, raw = ApiTokenFactory.create(user=UserFactory(), name="别人的平板")
    client.force_login(UserFactory())
    assert client.post(reverse("members:api_token_revoke", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("members:api_token_revoke", args=[theirs.pk])).status_code == 405
    assert "别人的平板" not in client.get(PAGE).content.decode()
    assert _api_me(raw) == 200


def test_the_page_costs_the_same_queries_for_many_tokens(client, django_assert_max_num_queries):
    user = UserFactory()
    for i in range(12):
        token, _ = ApiTokenFactory.create(user=user, name=f"平板{i}")
        if i % 2:
            from members.services import api_token_revoke

            api_token_revoke(token=token, actor=user)
    client.force_login(user)
    with django_assert_max_num_queries(12):
        response = client.get(PAGE)
    assert response.content.decode().count("alp_") == 12


def test_a_coordinator_hands_out_a_device_token_for_their_own_unit_only(client):
    unit, other_unit = MemberUnitFactory(name="溪口小学"), MemberUnitFactory(name="别的小学")
    coordinator = _coordinator(unit)
    client.force_login(coordinator)

    page = client.get(PAGE)
    offered = list(page.context["form"].fields["unit"].queryset)
    assert offered == [unit]
    assert "别的小学" not in page.content.decode()

    # another unit's id in the POST is refused on the field
    refused = client.post(PAGE, {"name": "签到平板", "unit": other_unit.pk})
    assert refused.context["form"].errors["unit"]
    assert not ApiToken.objects.exists()

    # their own unit: a device token that can only check in, whatever was ticked
    made = client.post(PAGE, {"name": "签到平板", "scopes": ["read", "write"], "unit": unit.pk})
    token = ApiToken.objects.get()
    assert made.context["new_token"]
    assert (token.kind, token.unit, token.scope_list) == ("device", unit, ["checkin"])


# --- the admin ----------------------------------------------------------------------


ADMIN_LIST = "/admin/members/apitoken/"


def test_the_admin_lists_tokens_by_scope_and_shows_no_hash(client, django_assert_max_num_queries):
    unit, other_unit = MemberUnitFactory(), MemberUnitFactory()
    coordinator = _coordinator(unit, phone="13900001111")
    their_coordinator = _coordinator(other_unit)
    ours, _ = ApiTokenFactory.create(
        user=coordinator, name="甲方签到平板", scopes=["checkin"], unit=unit
    )
    theirs, _ = ApiTokenFactory.create(
        user=their_coordinator, name="乙方签到平板", scopes=["checkin"], unit=other_unit
    )
    parents, _ = ApiTokenFactory.create(user=UserFactory(), name="家长的小程序")

    # a coordinator: only the device tokens of units they may change
    client.force_login(coordinator)
    with django_assert_max_num_queries(14):
        page = client.get(ADMIN_LIST)
    body = page.content.decode()
    assert page.status_code == 200
    assert "甲方签到平板" in body and "乙方签到平板" not in body and "家长的小程序" not in body
    assert ours.key_hash not in body and "139****1111" in body and "13900001111" not in body
    assert client.get(f"{ADMIN_LIST}{theirs.pk}/change/").status_code == 404
    assert client.get(f"{ADMIN_LIST}{parents.pk}/change/").status_code == 404
    assert client.get(f"{ADMIN_LIST}add/").status_code == 403

    # a district administrator: every token
    district = UserFactory()
    registry.role_assign(actor=UserFactory(is_superuser=True), user=district, role=Role.CITY_ADMIN)
    client.force_login(district)
    body = client.get(ADMIN_LIST).content.decode()
    assert all(name in body for name in ("甲方签到平板", "乙方签到平板", "家长的小程序"))
    detail = client.get(f"{ADMIN_LIST}{parents.pk}/change/").content.decode()
    assert parents.key_hash not in detail and 'name="scopes"' not in detail


def test_revoking_in_the_admin_is_refused_by_the_api_at_once(client):
    unit, other_unit = MemberUnitFactory(), MemberUnitFactory()
    coordinator = _coordinator(unit)
    ours, ours_raw = ApiTokenFactory.create(
        user=coordinator, name="甲方签到平板", scopes=["checkin"], unit=unit
    )
    theirs, theirs_raw = ApiTokenFactory.create(
        user=_coordinator(other_unit), name="乙方签到平板", scopes=["checkin"], unit=other_unit
    )
    client.force_login(coordinator)

    response = client.post(
        ADMIN_LIST,
        {"action": "revoke_selected", "_selected_action": [ours.pk, theirs.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "已撤销 1 个令牌" in response.content.decode()
    assert _api_me(ours_raw) == 401
    assert _api_me(theirs_raw) == 200  # another unit's tablet is untouched
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_an_instructor_and_a_parent_have_no_token_admin(client):
    unit = MemberUnitFactory()
    instructor = UserFactory()
    registry.role_assign(
        actor=UserFactory(is_superuser=True), user=instructor, role=Role.INSTRUCTOR, unit=unit
    )
    instructor.is_staff = True  # made staff by hand, as tests/security/world.py does
    instructor.save(update_fields=["is_staff"])
    client.force_login(instructor)
    assert client.get(ADMIN_LIST).status_code == 403
    client.force_login(UserFactory())
    assert client.get(ADMIN_LIST).status_code == 302  # to the admin's sign-in


# --- on a phone ---------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_a_parent_makes_and_revokes_a_token(live_server, browser):
    from tests.phone import fits_and_is_accessible, signed_in_phone

    user = UserFactory(display_name="王妈妈")
    context, page = signed_in_phone(browser, live_server, user)
    try:
        # from the account pages' links to the page
        page.goto(f"{live_server.url}/me/data/")
        page.get_by_role("link", name="应用与设备授权").click()
        page.wait_for_url(f"{live_server.url}{PAGE}")
        fits_and_is_accessible(page, "tokens (empty)")

        # a nameless token is refused on its field, accessibly
        page.get_by_role("button", name="生成令牌").click()
        assert page.locator(".errorlist").first.is_visible()
        fits_and_is_accessible(page, "tokens (errors)")

        # she names it and ticks 报名与修改 too: the token is shown once
        page.get_by_label("名称").fill("小程序")
        page.get_by_label("报名与修改").check()
        page.get_by_role("button", name="生成令牌").click()
        raw = page.get_by_label("令牌", exact=True).input_value()
        assert raw.startswith("alp_")
        fits_and_is_accessible(page, "tokens (new token)")
        assert _api_me(raw) == 200

        # and revokes it: the API refuses it at once
        page.get_by_role("button", name="撤销“小程序”").click()
        assert page.get_by_text("已撤销“小程序”").is_visible()
        assert _api_me(raw) == 401
        fits_and_is_accessible(page, "tokens (revoked)")
    finally:
        context.close()
