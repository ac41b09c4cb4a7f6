"""/api/v1/tokens/: list (never the hash), create (site session only: a token
cannot mint tokens), revoke (refused at once on the next call), other people's
ids, device tokens for units the caller may change."""

import json

import pytest
from django.test import Client

from members.models import ApiToken, AuditLog
from members.tests.factories import (
    ApiTokenFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _post(client, path, body=None, **extra):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json", **extra)


def test_the_list_shows_the_callers_tokens_without_the_hash(django_assert_max_num_queries):
    user = UserFactory()
    tokens = [ApiTokenFactory.create(user=user, name=f"平板{i}")[0] for i in range(4)]
    ApiTokenFactory.create(user=UserFactory(), name="别人的令牌")
    calling, raw = ApiTokenFactory.create(user=user, name="小程序", scopes=["read"])

    with django_assert_max_num_queries(3):  # the token, its "last used", the list
        response = Client().get("/api/v1/tokens/", **_bearer(raw))

    assert response.status_code == 200
    body = response.json()
    assert [t["name"] for t in body] == ["小程序", "平板3", "平板2", "平板1", "平板0"]
    assert body[0]["is_this_token"] is True and body[0]["scopes"] == ["read"]
    assert body[1]["scopes"] == ["read", "write"] and body[1]["kind"] == "user"
    text = response.content.decode()
    assert "别人的令牌" not in text
    for token in [*tokens, calling]:
        assert token.key_hash not in text
    assert raw not in text
    assert set(body[0]) >= {"prefix", "created_at", "last_used_at", "expires_at", "revoked_at"}


def test_a_signed_in_person_makes_a_token_and_sees_it_once():
    user = UserFactory()
    client = Client()
    client.force_login(user)

    response = _post(client, "/api/v1/tokens/", {"name": "小程序", "scopes": ["read", "write"]})

    assert response.status_code == 201, response.content
    raw = response.json()["token"]
    assert raw.startswith("alp_") and response.json()["scopes"] == ["read", "write"]
    # it works at once, and the list never shows it again
    assert Client().get("/api/v1/me", **_bearer(raw)).json()["name"]
    assert raw not in client.get("/api/v1/tokens/").content.decode()
    assert AuditLog.objects.filter(action="members.api_token.create").count() == 1


def test_a_token_cannot_make_tokens():
    user = UserFactory()
    _, raw = ApiTokenFactory.create(user=user, scopes=["read", "write"])
    response = _post(
        Client(), "/api/v1/tokens/", {"name": "接班令牌", "scopes": ["read"]}, **_bearer(raw)
    )
    assert response.status_code == 403
    assert response.json()["code"] == "token_cannot_mint"
    assert ApiToken.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "  ", "scopes": ["read"]}, "name"),
        ({"name": "平板", "scopes": []}, "scopes"),
        ({"name": "平板", "scopes": ["admin"]}, "scopes"),
    ],
)
def test_bad_input_is_refused_naming_the_field(body, field):
    client = Client()
    client.force_login(UserFactory())
    response = _post(client, "/api/v1/tokens/", body)
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not ApiToken.objects.exists()
    malformed = _post(client, "/api/v1/tokens/", {"scopes": "read"})
    assert malformed.status_code == 422
    assert {"name", "scopes"} <= set(malformed.json()["fields"])


def test_a_coordinator_makes_a_device_token_only_for_a_unit_they_may_change():
    unit, other_unit = MemberUnitFactory(), MemberUnitFactory()
    coordinator = RoleAssignmentFactory(unit=unit).user
    client = Client()
    client.force_login(coordinator)

    made = _post(
        client, "/api/v1/tokens/", {"name": "签到平板", "scopes": ["checkin"], "unit_id": unit.pk}
    )
    assert made.status_code == 201
    assert made.json()["kind"] == "device" and made.json()["unit_id"] == unit.pk

    elsewhere = _post(
        client,
        "/api/v1/tokens/",
        {"name": "签到平板", "scopes": ["checkin"], "unit_id": other_unit.pk},
    )
    assert elsewhere.status_code == 400 and "unit_id" in elsewhere.json()["fields"]
    more = _post(
        client, "/api/v1/tokens/", {"name": "平板", "scopes": ["read"], "unit_id": unit.pk}
    )
    assert more.status_code == 400 and more.json()["code"] == "token_device_scopes"
    # a parent cannot make a device token at all
    parent = Client()
    parent.force_login(UserFactory())
    refused = _post(
        parent, "/api/v1/tokens/", {"name": "平板", "scopes": ["checkin"], "unit_id": unit.pk}
    )
    assert refused.status_code == 400 and "unit_id" in refused.json()["fields"]
    assert ApiToken.objects.count() == 1


def test_a_token_revoked_through_the_api_is_refused_on_the_next_call():
    user = UserFactory()
    phone, phone_raw = ApiTokenFactory.create(user=user, name="旧手机")
    _, tablet_raw = ApiTokenFactory.create(user=user, name="平板")
    client = Client()

    # the tablet revokes the lost phone
    response = _post(client, f"/api/v1/tokens/{phone.pk}/revoke", **_bearer(tablet_raw))
    assert response.status_code == 200 and response.json() == {"revoked": True}
    refused = client.get("/api/v1/me", **_bearer(phone_raw))
    assert refused.status_code == 401 and refused.json()["code"] == "token_invalid"
    # twice is harmless
    again = _post(client, f"/api/v1/tokens/{phone.pk}/revoke", **_bearer(tablet_raw))
    assert again.json() == {"revoked": False}
    assert client.get("/api/v1/tokens/", **_bearer(tablet_raw)).status_code == 200


def test_a_read_only_token_may_sign_itself_out_but_not_revoke_others():
    user = UserFactory()
    other, _ = ApiTokenFactory.create(user=user, name="平板")
    mine, raw = ApiTokenFactory.create(user=user, scopes=["read"], name="小程序")
    client = Client()
    assert _post(client, f"/api/v1/tokens/{other.pk}/revoke", **_bearer(raw)).status_code == 403
    assert _post(client, f"/api/v1/tokens/{mine.pk}/revoke", **_bearer(raw)).status_code == 200
    assert client.get("/api/v1/me", **_bearer(raw)).status_code == 401
    other.refresh_from_db()
    assert other.revoked_at is None


def test_another_persons_token_is_not_found_and_stays_live():
    theirs, their_raw = ApiTokenFactory.create(user=UserFactory())
    client = Client()
    client.force_login(UserFactory())
    response = _post(client, f"/api/v1/tokens/{theirs.pk}/revoke")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Client().get("/api/v1/me", **_bearer(their_raw)).status_code == 200


def test_a_device_token_cannot_list_tokens():
    unit = MemberUnitFactory()
    coordinator = RoleAssignmentFactory(unit=unit).user
    _, raw = ApiTokenFactory.create(user=coordinator, scopes=["checkin"], unit=unit)
    response = Client().get("/api/v1/tokens/", **_bearer(raw))
    assert response.status_code == 403 and response.json()["code"] == "device_forbidden"
