"""/api/v1/wechat/: sign-in with a wx.login code, binding a phone (texted code or
phone button), and reporting subscription answers — against the fake WeChat."""

import re

import pytest
from django.test import Client

from members.models import ApiToken, ConsentRecord
from members.tests.factories import ApiTokenFactory, UserFactory
from members.tests.family_support import sms_outbox_fixture  # noqa: F401 - fixture
from wechat.models import SubscriptionGrant, SubscriptionTemplate, WeChatIdentity
from wechat.tests.factories import SubscriptionTemplateFactory, WeChatIdentityFactory
from wechat.tests.support import wechat_server_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def _post(client, path, body, **headers):
    return client.post(f"/api/v1/wechat{path}", body, content_type="application/json", **headers)


def test_a_new_user_binds_by_texted_code_and_gets_a_token(
    wechat_server, sms_outbox, django_capture_on_commit_callbacks
):
    client = Client()
    # given a first sign-in
    answer = _post(client, "/login", {"code": "wx-newmum"}).json()
    assert answer["token"] is None and answer["user"] is None
    ticket = answer["binding_ticket"]
    # when the code is asked for and entered
    with django_capture_on_commit_callbacks(execute=True):
        sent = _post(client, "/phone/code", {"ticket": ticket, "phone": "13800001111"})
    assert sent.status_code == 200 and sent.json() == {"sent": True, "expires_in": 600}
    code = re.search(r"\b(\d{6})\b", sms_outbox[-1].text).group(1)
    bound = _post(
        client, "/phone/bind", {"ticket": ticket, "phone": "13800001111", "sms_code": code}
    )
    # then a token for a new parent account, which works at once
    assert bound.status_code == 200, bound.content
    body = bound.json()
    assert body["user"]["new_account"] is True and body["user"]["phone"] == "138****1111"
    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}").json()
    assert me["signed_in"] is True and me["scopes"] == ["read", "write"]
    token = ApiToken.objects.get(user__phone="13800001111")
    assert token.name == "微信小程序"
    # and the next sign-in returns a token straight away
    again = _post(client, "/login", {"code": "wx-newmum"}).json()
    assert again["token"] and again["binding_ticket"] is None
    assert again["user"]["new_account"] is False


def test_the_phone_button_binds_an_existing_account(wechat_server):
    mum = UserFactory(phone="13800001111", phone_verified=True, display_name="王妈妈")
    client = Client()
    ticket = _post(client, "/login", {"code": "wx-mum"}).json()["binding_ticket"]
    bound = _post(
        client,
        "/phone/bind",
        {"ticket": ticket, "phone_code": "phone-13800001111", "agree_privacy": True},
    )
    assert bound.status_code == 200
    assert bound.json()["user"] == {
        "id": mum.pk,
        "name": "王妈妈",
        "phone": "138****1111",
        "new_account": False,
    }
    assert WeChatIdentity.objects.get().user == mum
    assert ConsentRecord.objects.filter(user=mum, document="privacy").count() == 1


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("bad", 400, "wechat_40029"),
        ("rate", 400, "wechat_45011"),
        ("risky", 400, "wechat_40226"),
        ("busy", 503, "busy"),
    ],
)
def test_login_errors_have_the_one_error_shape(wechat_server, code, status, error):
    response = _post(Client(), "/login", {"code": code})
    assert response.status_code == status
    body = response.json()
    assert body["code"] == error and body["message"] and body["fields"] == {}


def test_bind_errors_name_their_field(wechat_server):
    client = Client()
    ticket = _post(client, "/login", {"code": "wx-x"}).json()["binding_ticket"]
    nothing = _post(client, "/phone/bind", {"ticket": ticket})
    assert nothing.status_code == 400 and "sms_code" in nothing.json()["fields"]
    bad_phone = _post(client, "/phone/code", {"ticket": ticket, "phone": "12345"})
    assert bad_phone.status_code == 400 and bad_phone.json()["code"] == "phone_invalid"
    assert "phone" in bad_phone.json()["fields"]
    bad_ticket = _post(client, "/phone/bind", {"ticket": "nope", "phone_code": "phone-13800001111"})
    assert bad_ticket.json()["code"] == "ticket_invalid"
    missing = _post(client, "/login", {})
    assert missing.status_code == 422 and "code" in missing.json()["fields"]


def test_subscription_results_are_recorded_for_the_caller(wechat_server):
    SubscriptionTemplateFactory(kind="promotion", template_id="T-promo")
    SubscriptionTemplateFactory(kind="reminder", template_id="T-remind")
    identity = WeChatIdentityFactory()
    _token, raw = ApiTokenFactory.create(user=identity.user, scopes=["read", "write"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    client = Client()

    listed = client.get("/api/v1/wechat/subscriptions", **auth).json()
    assert [t["template_id"] for t in listed["templates"]] == ["T-promo", "T-remind"]

    answer = _post(
        client,
        "/subscriptions",
        {"results": {"T-promo": "accept", "T-remind": "reject", "T-other": "accept"}},
        **auth,
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "accepted": 1,
        "refused": 1,
        "ignored": ["T-other"],
        "grants_left": {"promotion": 1, "reminder": 0},
    }
    assert SubscriptionGrant.objects.filter(user=identity.user).count() == 2


def test_subscriptions_need_a_signed_in_caller_with_write(wechat_server):
    anonymous = _post(Client(), "/subscriptions", {"results": {}})
    assert anonymous.status_code == 401
    _token, raw = ApiTokenFactory.create(scopes=["read"])
    read_only = _post(
        Client(), "/subscriptions", {"results": {}}, HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert read_only.status_code == 403 and read_only.json()["code"] == "scope_missing"


def test_too_many_results_at_once_are_refused(wechat_server):
    _token, raw = ApiTokenFactory.create(scopes=["read", "write"])
    results = {f"T{i}": "accept" for i in range(6)}
    answer = _post(
        Client(), "/subscriptions", {"results": results}, HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert answer.status_code == 400 and answer.json()["code"] == "results_too_many"


def test_odd_template_ids_are_ignored_not_a_server_error(wechat_server):
    _token, raw = ApiTokenFactory.create(scopes=["read", "write"])
    results = {"T\x00nul": "accept", "x" * 300: "accept"}
    answer = _post(
        Client(), "/subscriptions", {"results": results}, HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert answer.status_code == 200
    assert sorted(answer.json()["ignored"]) == sorted(results)


def test_the_console_backend_signs_in_with_demo_codes(settings):
    # the embedded default (make run): no WeChat needed
    settings.WECHAT_BACKEND = "wechat.client.ConsoleWeChatClient"
    client = Client()
    ticket = _post(client, "/login", {"code": "demo-wang"}).json()["binding_ticket"]
    bound = _post(client, "/phone/bind", {"ticket": ticket, "phone_code": "demo-13812341234"})
    assert bound.status_code == 200 and bound.json()["user"]["new_account"] is True
    assert _post(client, "/login", {"code": "demo-wang"}).json()["token"]
    refused = _post(client, "/login", {"code": "anything-else"})
    assert refused.status_code == 400 and refused.json()["code"] == "wechat_40029"


def test_listing_templates_costs_the_same_few_queries_for_any_number(
    wechat_server, django_assert_max_num_queries
):
    for kind in SubscriptionTemplate.Kind.values:
        SubscriptionTemplateFactory(kind=kind, template_id=f"T-{kind}")
    identity = WeChatIdentityFactory()
    for kind in SubscriptionTemplate.Kind.values:
        SubscriptionGrant.objects.create(
            user=identity.user, template_id=f"T-{kind}", answer="accept"
        )
    _token, raw = ApiTokenFactory.create(user=identity.user, scopes=["read"])
    # token lookup + touch, the templates, the grants' counts
    with django_assert_max_num_queries(5):
        answer = Client().get("/api/v1/wechat/subscriptions", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert answer.status_code == 200
    assert answer.json()["grants_left"] == dict.fromkeys(SubscriptionTemplate.Kind.values, 1)
