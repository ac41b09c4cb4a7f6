"""The API's foundation: tokens and scopes, the one error shape, rate limits,
Idempotency-Key, keyset cursors and the served schema and docs."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from api.models import IdempotentRequest
from api.pagination import cursor_make, keyset_page
from members.models import AuditLog, User
from members.services import api_token_revoke
from members.tests.factories import ApiTokenFactory, UserFactory

pytestmark = pytest.mark.django_db


def _bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_anonymous_me_says_not_signed_in():
    answer = Client().get("/api/v1/me").json()
    assert answer == {
        "signed_in": False,
        "name": None,
        "scopes": [],
        "token_kind": None,
        "device_unit_id": None,
    }


def test_a_token_acts_as_its_user_within_its_scopes_and_is_stored_hashed():
    user = UserFactory(display_name="王妈妈")
    token, raw = ApiTokenFactory.create(user=user, scopes=["read"])
    answer = Client().get("/api/v1/me", **_bearer(raw)).json()
    assert answer["signed_in"] is True and answer["name"] == "王妈妈"
    assert answer["scopes"] == ["read"] and answer["token_kind"] == "user"
    assert raw not in token.key_hash and token.prefix in raw
    assert not any(raw in str(value) for value in AuditLog.objects.values_list("data", flat=True))


def test_a_revoked_token_is_refused_at_once_with_the_error_shape():
    token, raw = ApiTokenFactory.create()
    client = Client()
    assert client.get("/api/v1/me", **_bearer(raw)).status_code == 200
    api_token_revoke(token=token, actor=token.user)
    response = client.get("/api/v1/me", **_bearer(raw))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["code"] == "token_invalid" and body["fields"] == {}
    assert "令牌" in body["message"]


def test_an_unknown_token_is_never_taken_as_anonymous():
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer alp_nope_nope")
    assert response.status_code == 401


def test_messages_follow_the_request_language():
    # Chinese unless the caller asks otherwise; an API client's Accept-Language is honoured.
    zh = Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer x").json()["message"]
    en = (
        Client()
        .get("/api/v1/me", HTTP_AUTHORIZATION="Bearer x", HTTP_ACCEPT_LANGUAGE="en")
        .json()["message"]
    )
    assert "令牌" in zh
    assert "token" in en.lower() and "令牌" not in en


@override_settings(API_RATE_PER_TOKEN=3, API_RATE_PER_IP=1000)
def test_rate_limit_per_token_answers_429_with_retry_after():
    _, raw = ApiTokenFactory.create()
    client = Client()
    codes = [client.get("/api/v1/me", **_bearer(raw)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/me", **_bearer(raw))
    assert 1 <= int(response["Retry-After"]) <= 61
    assert response.json()["code"] == "rate_limited"


@override_settings(API_RATE_PER_TOKEN=1000, API_RATE_PER_IP=2)
def test_rate_limit_per_address_covers_anonymous_callers():
    client = Client()
    codes = [client.get("/api/v1/me").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_token_lookup_is_one_query_and_revoke_needs_the_owner():
    token, raw = ApiTokenFactory.create()
    with CaptureQueriesContext(connection) as queries:
        Client().get("/api/v1/me", **_bearer(raw))
    assert len(queries) <= 2  # the lookup, and at most one "last used" write
    from members.errors import MembersError

    with pytest.raises(MembersError):
        api_token_revoke(token=token, actor=UserFactory())


def test_schema_and_docs_are_served_without_a_cdn():
    client = Client()
    schema = client.get("/api/v1/schema/").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/me" in schema["paths"]
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


def test_keyset_pages_are_stable_under_inserts():
    users = [UserFactory() for _ in range(5)]
    queryset = User.objects.filter(pk__in=[u.pk for u in users])
    first, cursor = keyset_page(queryset, order=("pk",), cursor=None, limit=2, scope="t")
    assert [u.pk for u in first] == [users[0].pk, users[1].pk]
    # A row that sorts before the cursor appears on no later page; none repeats.
    rest = []
    while cursor:
        page, cursor = keyset_page(queryset, order=("pk",), cursor=cursor, limit=2, scope="t")
        rest.extend(page)
    assert [u.pk for u in rest] == [u.pk for u in users[2:]]


def test_a_forged_or_foreign_cursor_is_a_clear_400():
    from api.errors import ApiError

    with pytest.raises(ApiError) as raised:
        keyset_page(User.objects.all(), order=("pk",), cursor="forged", limit=2, scope="t")
    assert raised.value.code == "bad_cursor" and raised.value.status == 400
    other = cursor_make([1], scope="other")
    with pytest.raises(ApiError):
        keyset_page(User.objects.all(), order=("pk",), cursor=other, limit=2, scope="t")


def test_idempotency_rows_are_unique_per_caller_and_key():
    from django.db import IntegrityError, transaction

    IdempotentRequest.objects.create(owner="user:1", key="k", fingerprint="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        IdempotentRequest.objects.create(owner="user:1", key="k", fingerprint="b")
    assert json.dumps(IdempotentRequest.objects.get().body) == "null"
