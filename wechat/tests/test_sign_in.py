"""Sign-in from the mini-program: code2Session, the binding ticket, binding by a
texted code or by WeChat's phone button, and simultaneous first calls."""

import re

import pytest
from django.core import signing
from django.core.cache import cache

from members.models import AuditLog, User
from members.tests.factories import UserFactory
from tests.races import run_together
from wechat.errors import WeChatError, WeChatRuleError
from wechat.models import WeChatIdentity
from wechat.services import (
    wechat_bind_by_phone_button,
    wechat_bind_by_sms,
    wechat_phone_code_send,
    wechat_sign_in,
    wechat_token_issue,
)

pytestmark = pytest.mark.django_db


def _texted_code(outbox, phone):
    for message in reversed(outbox):
        if message.phone == phone:
            return re.search(r"\b(\d{6})\b", message.text).group(1)
    raise AssertionError(f"no text to {phone}")


def _send_code(django_capture_on_commit_callbacks, ticket, phone, ip="10.0.0.1"):
    with django_capture_on_commit_callbacks(execute=True):
        return wechat_phone_code_send(ticket=ticket, phone=phone, ip_address=ip)


def test_an_unknown_openid_gets_a_ticket_that_hides_the_session_key(wechat_server):
    outcome = wechat_sign_in(js_code="wx-newmum")
    assert outcome.user is None and outcome.ticket
    payload = signing.loads(outcome.ticket, salt="wechat.binding")
    assert payload["o"] == "o_newmum" and payload["u"] == "u_newmum"
    assert "sk-newmum" not in outcome.ticket and "sk-newmum" not in str(payload)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("bad", "登录凭证无效或已过期，请重新打开小程序。"),
        ("rate", "操作太频繁，请稍后再试。"),
        ("risky", "该微信账号存在风险，暂不能登录。"),
    ],
)
def test_refused_codes_explain_themselves(wechat_server, code, expected):
    with pytest.raises(WeChatError) as caught:
        wechat_sign_in(js_code=code)
    assert str(caught.value.message) == expected


def test_binding_by_texted_code_makes_a_parent_account_then_signs_in_directly(
    wechat_server, sms_outbox, django_capture_on_commit_callbacks
):
    # given a new WeChat user
    ticket = wechat_sign_in(js_code="wx-newmum").ticket
    # when the code is texted (through the outbox) and entered
    _send_code(django_capture_on_commit_callbacks, ticket, "+86 138-0000-1111")
    code = _texted_code(sms_outbox, "13800001111")
    # (the server keeps only the code's keyed hash)
    stored = cache.get("wechat:sms-code:wx-test-app:o_newmum:13800001111")
    assert stored and code not in str(stored)
    bound = wechat_bind_by_sms(ticket=ticket, phone="13800001111", code=code)
    # then a parent account with a verified phone, bound to the openid
    assert bound.created is True
    user = bound.user
    assert user.phone == "13800001111" and user.phone_verified
    assert not user.has_usable_password() and re.fullmatch(r"u[0-9a-f]{12}", user.username)
    identity = WeChatIdentity.objects.get(user=user)
    assert (identity.openid, identity.unionid) == ("o_newmum", "u_newmum")
    assert identity.session_key_hash and "sk-" not in identity.session_key_hash
    assert AuditLog.objects.filter(action="wechat.identity.bind", actor=user).exists()
    # and the next sign-in needs no phone
    assert wechat_sign_in(js_code="wx-newmum").user == user


def test_a_code_is_used_once(wechat_server, sms_outbox, django_capture_on_commit_callbacks):
    ticket = wechat_sign_in(js_code="wx-a").ticket
    _send_code(django_capture_on_commit_callbacks, ticket, "13800001111")
    code = _texted_code(sms_outbox, "13800001111")
    wechat_bind_by_sms(ticket=ticket, phone="13800001111", code=code)
    with pytest.raises(WeChatRuleError) as caught:
        wechat_bind_by_sms(ticket=ticket, phone="13800001111", code=code)
    assert caught.value.code == "sms_code_expired"


def test_wrong_codes_are_limited(wechat_server, sms_outbox, django_capture_on_commit_callbacks):
    ticket = wechat_sign_in(js_code="wx-a").ticket
    _send_code(django_capture_on_commit_callbacks, ticket, "13800001111")
    code = _texted_code(sms_outbox, "13800001111")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _attempt in range(3):
        with pytest.raises(WeChatRuleError) as caught:
            wechat_bind_by_sms(ticket=ticket, phone="13800001111", code=wrong)
        assert caught.value.code == "sms_code_wrong"
        assert caught.value.fields == {"sms_code": str(caught.value.message)}
    # the fourth try fails even with the right code: a new one must be asked for
    with pytest.raises(WeChatRuleError) as caught:
        wechat_bind_by_sms(ticket=ticket, phone="13800001111", code=code)
    assert caught.value.code == "sms_code_attempts"
    assert not WeChatIdentity.objects.exists()


def test_resending_waits_like_allauths_phone_codes(
    wechat_server, sms_outbox, django_capture_on_commit_callbacks
):
    ticket = wechat_sign_in(js_code="wx-a").ticket
    _send_code(django_capture_on_commit_callbacks, ticket, "13800001111")
    with pytest.raises(WeChatRuleError) as caught:
        _send_code(django_capture_on_commit_callbacks, ticket, "13800001111")
    assert caught.value.code == "sms_code_wait"
    assert "30" in str(caught.value.message)
    assert len(sms_outbox) == 1


def test_a_code_is_bound_to_its_ticket_and_phone(
    wechat_server, sms_outbox, django_capture_on_commit_callbacks
):
    ticket = wechat_sign_in(js_code="wx-a").ticket
    other_ticket = wechat_sign_in(js_code="wx-b").ticket
    _send_code(django_capture_on_commit_callbacks, ticket, "13800001111")
    code = _texted_code(sms_outbox, "13800001111")
    with pytest.raises(WeChatRuleError):
        wechat_bind_by_sms(ticket=other_ticket, phone="13800001111", code=code)
    with pytest.raises(WeChatRuleError):
        wechat_bind_by_sms(ticket=ticket, phone="13800002222", code=code)


def test_forged_or_expired_tickets_are_refused(wechat_server, settings):
    with pytest.raises(WeChatRuleError) as caught:
        wechat_bind_by_phone_button(ticket="forged", phone_code="phone-13800001111")
    assert caught.value.code == "ticket_invalid"
    forged = signing.dumps({"a": "wx-test-app", "o": "o_x", "u": ""}, salt="another")
    with pytest.raises(WeChatRuleError):
        wechat_bind_by_phone_button(ticket=forged, phone_code="phone-13800001111")
    ticket = wechat_sign_in(js_code="wx-a").ticket
    settings.WECHAT_BINDING_MINUTES = 0
    with pytest.raises(WeChatRuleError):
        wechat_bind_by_phone_button(ticket=ticket, phone_code="phone-13800001111")


def test_the_phone_button_binds_the_existing_account_with_that_number(wechat_server):
    # given a parent who signed up on the website with her phone
    mum = UserFactory(phone="13800001111", phone_verified=True)
    ticket = wechat_sign_in(js_code="wx-mum").ticket
    bound = wechat_bind_by_phone_button(ticket=ticket, phone_code="phone-13800001111")
    assert bound.user == mum and bound.created is False
    assert WeChatIdentity.objects.get().user == mum
    assert User.objects.count() == 1


def test_a_bad_phone_button_code_is_wechats_40029(wechat_server):
    ticket = wechat_sign_in(js_code="wx-mum").ticket
    with pytest.raises(WeChatError) as caught:
        wechat_bind_by_phone_button(ticket=ticket, phone_code="nonsense")
    assert caught.value.errcode == 40029


def test_a_foreign_number_from_the_button_is_refused(wechat_server):
    wechat_server.phone_codes["hk"] = "+85291234567"
    ticket = wechat_sign_in(js_code="wx-mum").ticket
    with pytest.raises(WeChatRuleError) as caught:
        wechat_bind_by_phone_button(ticket=ticket, phone_code="hk")
    assert caught.value.code == "phone_not_mainland"


def test_binding_another_wechat_to_an_account_replaces_the_old_binding(wechat_server):
    mum = UserFactory(phone="13800001111", phone_verified=True)
    first = wechat_sign_in(js_code="wx-oldphone").ticket
    wechat_bind_by_phone_button(ticket=first, phone_code="phone-13800001111")
    second = wechat_sign_in(js_code="wx-newphone").ticket
    wechat_bind_by_phone_button(ticket=second, phone_code="phone-13800001111")
    assert WeChatIdentity.objects.get().openid == "o_newphone"
    assert WeChatIdentity.objects.get().user == mum
    assert wechat_sign_in(js_code="wx-oldphone").user is None


def test_a_deactivated_account_cannot_sign_in(wechat_server):
    mum = UserFactory(phone="13800001111", phone_verified=True)
    ticket = wechat_sign_in(js_code="wx-mum").ticket
    wechat_bind_by_phone_button(ticket=ticket, phone_code="phone-13800001111")
    User.objects.filter(pk=mum.pk).update(is_active=False)
    with pytest.raises(WeChatRuleError) as caught:
        wechat_sign_in(js_code="wx-mum")
    assert caught.value.code == "account_inactive"


def test_each_sign_in_token_replaces_the_previous_one(wechat_server):
    from members.models import ApiToken

    user = UserFactory()
    for _sign_in in range(25):  # more than the 20 live tokens a user may have
        wechat_token_issue(user=user)
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    assert live.count() == 1
    assert live.get().scope_list == ["read", "write"] and live.get().expires_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_binds_make_one_account_and_one_identity(wechat_server):
    # given a new WeChat user whose double tap sends the phone button's code twice
    ticket = wechat_sign_in(js_code="wx-doubletap").ticket

    def bind():
        return wechat_bind_by_phone_button(ticket=ticket, phone_code="phone-13800009999").user.pk

    outcome = run_together(
        [bind, bind], meet_before_write=["members_user", "wechat_wechatidentity"]
    )

    assert outcome.errors == []
    assert outcome.met == 2
    assert len(set(outcome.results)) == 1
    assert User.objects.filter(phone="13800009999").count() == 1
    assert WeChatIdentity.objects.filter(openid="o_doubletap").count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_openid_bound_to_two_numbers_at_once_ends_with_one_identity(wechat_server):
    ticket = wechat_sign_in(js_code="wx-twophones").ticket

    def bind(number):
        return lambda: wechat_bind_by_phone_button(ticket=ticket, phone_code=f"phone-{number}")

    outcome = run_together(
        [bind("13800007777"), bind("13800008888")],
        meet_before_write=["members_user", "wechat_wechatidentity"],
    )

    assert outcome.errors == []
    assert WeChatIdentity.objects.filter(openid="o_twophones").count() == 1
    assert outcome.results[0].user == outcome.results[1].user
    # the loser's half-made account went back with its savepoint
    assert User.objects.filter(phone__in=["13800007777", "13800008888"]).count() == 1
