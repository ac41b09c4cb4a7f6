"""allauth's pages, messages and mails read as plain Chinese written for parents.

Every sign-in, sign-up, code, password, email and session page reachable in this
configuration is rendered in zh-hans through the test client, including with bad
input, and must carry none of the machine translation we replaced (「Email地址」,
「您真的应该」), no English leftover, and the plain terms (邮箱, 手机号, 验证码).
The wording comes from locale/zh_Hans (scripts/zh_hans_catalogue.py); sign-in
says 「已登录」 with the person's name or masked phone, never the username.
"""

from __future__ import annotations

import html
import re
import sys

import pytest
from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import translation

from members.tests.factories import UserFactory
from members.tests.family_support import (  # noqa: F401 - fixture
    PASSWORD,
    committed,
    last_code,
    signup_by_email,
    sms_outbox_fixture,
)

sys.path.insert(0, str(settings.BASE_DIR / "scripts"))
import zh_hans_catalogue  # noqa: E402

pytestmark = pytest.mark.django_db
User = get_user_model()

PHONE = "13812345678"
MASKED = "138****5678"

# What the shipped zh_Hans catalogues say where a parent expects 邮箱/手机号/验证码/退出.
MACHINE_TRANSLATION = (
    "Email地址",
    "Email 地址",
    "电子邮件",
    "您真的应该",
    "登出",
    "电话号码",
    "代码",
    "token",
    "帐号",
    "首选",
    "您收到这封",
)
# English words that may stand in a Chinese page (an IP address column).
ENGLISH_ALLOWED = {"IP"}


def readable(response) -> str:
    """What a parent reads: the title, the messages, the page's main part and the
    placeholders, titles and labels of its controls; not the menu or the markup."""
    page = response.content.decode()
    page = re.sub(r"(?s)<script.*?</script>|<style.*?</style>", "", page)
    title = re.search(r"(?s)<title>(.*?)</title>", page).group(1)
    messages = re.findall(r'(?s)<p class="message[^"]*">(.*?)</p>', page)
    main = re.search(r"(?s)<main.*?</main>", page).group(0)
    attributes = re.findall(r'(?:placeholder|title|aria-label|alt)="([^"]*)"', main)
    text = re.sub(r"<[^>]+>", " ", " ".join([title, *messages, main, *attributes]))
    return re.sub(r"\s+", " ", html.unescape(text))


def english_leftovers(text: str) -> set[str]:
    text = re.sub(r"[\w.*+-]+@[\w.-]+", " ", text)  # email addresses, masked or not
    return set(re.findall(r"[A-Za-z]{2,}", text)) - ENGLISH_ALLOWED


def assert_plain_chinese(response, *terms: str) -> str:
    assert response.status_code == 200, response.status_code
    text = readable(response)
    for marker in MACHINE_TRANSLATION:
        assert marker not in text, f"{marker!r} in: {text}"
    assert not english_leftovers(text), f"English left: {english_leftovers(text)} in: {text}"
    for term in terms:
        assert term in text, f"{term!r} missing from: {text}"
    return text


def messages_of(response) -> list[str]:
    page = response.content.decode()
    return [
        html.unescape(re.sub(r"<[^>]+>", "", m)).strip()
        for m in re.findall(r'(?s)<p class="message[^"]*">(.*?)</p>', page)
    ]


def parent(**kwargs):
    fields = {"phone": PHONE, "phone_verified": True, "email": "", "display_name": ""}
    return UserFactory(**{**fields, **kwargs})


def signed_in(client, **kwargs):
    user = parent(**kwargs)
    client.post(
        "/accounts/login/", {"login": user.phone or user.email, "password": "correct-horse-battery"}
    )
    return user


def confirm_email_link() -> str:
    return re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", mail.outbox[-1].body)[
        1
    ]


def reset_link() -> str:
    return re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body)[
        1
    ]


# --- the catalogue -------------------------------------------------------------------


def test_the_catalogue_translates_every_allauth_string_and_is_compiled():
    # given the installed allauth and Django, when the catalogue is checked
    # then every in-scope msgid has a plain translation and the .mo matches the .po
    assert zh_hans_catalogue.problems() == []


def test_the_catalogue_only_adds_english_msgids_and_leaves_other_chinese_alone():
    entries = zh_hans_catalogue.parse_po(zh_hans_catalogue.CATALOGUE)
    # no Chinese msgid: those are the project's own and need no catalogue in Chinese
    assert not [e.msgid for e in entries if re.search(r"[\u4e00-\u9fff]", e.msgid)]
    with translation.override("zh-hans"):
        assert translation.gettext("Email Addresses") == "我的邮箱"
        # Django's own Chinese for what we do not hold is still there
        assert translation.gettext("January") == "一月"
        assert re.search(r"[\u4e00-\u9fff]", translation.gettext("Log out"))
        # the project's Chinese msgids stay as they are
        assert translation.gettext("账号与安全") == "账号与安全"
    with translation.override("en"):
        assert translation.gettext("Email Addresses") == "Email Addresses"
        assert translation.gettext("账号与安全") != "账号与安全"  # English from locale/en


# --- the pages, one by one -------------------------------------------------------------


def test_sign_in_page_and_wrong_password(client):
    parent(email="mum@example.cn")
    assert_plain_chinese(client.get("/accounts/login/"), "登录", "密码", "验证码")
    wrong_phone = client.post("/accounts/login/", {"login": PHONE, "password": "nope-nope"})
    assert_plain_chinese(wrong_phone, "手机号或密码不正确")
    wrong_email = client.post("/accounts/login/", {"login": "mum@example.cn", "password": "x"})
    assert_plain_chinese(wrong_email, "邮箱或密码不正确")


def test_sign_up_page_and_its_errors(client):
    assert_plain_chinese(client.get("/accounts/signup/"), "注册", "手机号", "邮箱", "密码")
    response = client.post(
        "/accounts/signup/",
        {"phone": "", "email": "不是邮箱", "password1": "1234", "password2": "5678"},
    )
    text = assert_plain_chinese(response, "请输入正确的邮箱地址", "密码太短了，至少要 8 位")
    assert "确认密码" in text


def test_sign_up_with_mismatched_passwords_says_so(client):
    response = client.post(
        "/accounts/signup/",
        {
            "phone": PHONE,
            "password1": PASSWORD,
            "password2": PASSWORD + "x",
            "agree_privacy": "on",
        },
    )
    assert_plain_chinese(response, "两次输入的密码不一样")


def test_phone_verification_page_wrong_code_and_message(client, sms_outbox):
    # given a parent who signed up by phone
    with committed():
        response = client.post(
            "/accounts/signup/",
            {"phone": PHONE, "password1": PASSWORD, "password2": PASSWORD, "agree_privacy": "on"},
            follow=True,
        )
    # then the code page names the number masked, and so does the message
    text = assert_plain_chinese(response, "验证码", MASKED)
    assert f"验证码已发送到 {MASKED}。" in messages_of(response)
    assert PHONE not in text
    # when the code is wrong
    wrong = client.post("/accounts/phone/verify/", {"code": "000000"})
    assert_plain_chinese(wrong, "验证码不正确，请重新输入。")
    # when the right code is entered, the messages mask the number and greet by it
    done = client.post(
        "/accounts/phone/verify/", {"code": last_code(sms_outbox, PHONE)}, follow=True
    )
    shown = messages_of(done)
    assert f"手机号 {MASKED} 已验证。" in shown
    assert f"已登录：{MASKED}" in shown
    assert not [m for m in shown if PHONE in m]


def test_too_many_wrong_codes_send_the_parent_back_to_sign_in(client, sms_outbox):
    parent()
    client.post("/accounts/login/code/", {"phone": PHONE, "email": ""})
    for _ in range(allauth_settings.LOGIN_BY_CODE_MAX_ATTEMPTS):
        response = client.post("/accounts/login/code/confirm/", {"code": "000000"}, follow=True)
    assert "尝试次数太多，请稍后再试。" in messages_of(response)
    assert_plain_chinese(response, "登录")


def test_sign_in_by_code_pages_and_message(client, sms_outbox):
    parent()
    assert_plain_chinese(client.get("/accounts/login/code/"), "验证码", "手机号")
    bad = client.post("/accounts/login/code/", {"phone": "1", "email": ""})
    assert_plain_chinese(bad, "请输入11位中国大陆手机号码")
    # when a code is asked for, the confirm page and the message mask the number
    response = client.post("/accounts/login/code/", {"phone": PHONE, "email": ""}, follow=True)
    text = assert_plain_chinese(response, "输入验证码", MASKED)
    assert f"登录验证码已发送到 {MASKED}。" in messages_of(response)
    assert PHONE not in text
    wrong = client.post("/accounts/login/code/confirm/", {"code": "000000"})
    assert_plain_chinese(wrong, "验证码不正确，请重新输入。")


def test_password_reset_pages_and_mail(client):
    user = parent(email="mum@example.cn")
    EmailAddress.objects.create(user=user, email="mum@example.cn", verified=True, primary=True)
    assert_plain_chinese(client.get("/accounts/password/reset/"), "邮箱", "重设")
    with committed():
        response = client.post(
            "/accounts/password/reset/", {"email": "mum@example.cn"}, follow=True
        )
    assert_plain_chinese(response, "邮件")
    # the mail is from the portal, in Chinese, with no host name as its sender's name
    message = mail.outbox[-1]
    assert message.subject.startswith("【协同育人门户】")
    assert "有人（可能是您自己）申请重设您账号的密码" in message.body
    assert "您好，这里是协同育人门户。" in message.body
    assert "Hello" not in message.body and "testserver" not in message.subject
    # the link's page, its errors, and the page after
    link = reset_link()
    page = client.get(link, follow=True)
    assert_plain_chinese(page, "新密码", "确认新密码")
    mismatch = client.post(page.request["PATH_INFO"], {"password1": PASSWORD, "password2": "x"})
    assert_plain_chinese(mismatch, "两次输入的密码不一样")
    assert_plain_chinese(client.get("/accounts/password/reset/key/done/"), "密码已修改")
    assert_plain_chinese(client.get("/accounts/password/reset/key/1-bad/"), "链接无效")


def test_email_confirmation_pages_and_mail(client, sms_outbox):
    signup_by_email(client, "mum@example.cn")
    message = mail.outbox[-1]
    assert message.subject.startswith("【协同育人门户】")
    assert "请打开这个链接完成验证" in message.body
    assert "m***@example.cn" in message.body  # the person, not the random username
    assert_plain_chinese(client.get("/accounts/confirm-email/"), "邮箱")
    page = client.get(confirm_email_link())
    text = assert_plain_chinese(page, "验证邮箱", "请确认", "mum@example.cn")
    assert User.objects.get(email="mum@example.cn").username not in text
    assert_plain_chinese(client.get("/accounts/confirm-email/nonsense/"), "验证链接已过期或无效")


def test_account_inactive_page(client):
    assert_plain_chinese(client.get("/accounts/inactive/"), "账号已停用")


def test_email_management_for_a_phone_only_parent(client):
    signed_in(client)
    # given no email yet, the page says what one is for, plainly
    text = assert_plain_chinese(client.get("/accounts/email/"), "我的邮箱", "添加邮箱")
    assert "您还没有添加邮箱" in text
    # when an address somebody else has verified is added, nothing tells it is taken
    # (allauth prevents enumeration), and its confirmation link says why it fails
    other = UserFactory(email="taken@example.cn", phone="13900000001")
    EmailAddress.objects.create(user=other, email="taken@example.cn", verified=True)
    with committed():
        response = client.post(
            "/accounts/email/", {"action_add": "", "email": "taken@example.cn"}, follow=True
        )
    assert "验证邮件已发送到 taken@example.cn。" in messages_of(response)
    assert "138****5678 在 127.0.0.1:8000 注册账号时填写了这个邮箱" in mail.outbox[-1].body
    refused = client.get(confirm_email_link())
    assert_plain_chinese(refused, "taken@example.cn 已被另一个账号验证过，不能再验证。")
    client.post("/accounts/email/", {"action_remove": "", "email": "taken@example.cn"})
    # when a new one is added, the message says a mail went to it
    response = client.post(
        "/accounts/email/", {"action_add": "", "email": "mum@example.cn"}, follow=True
    )
    assert "验证邮件已发送到 mum@example.cn。" in messages_of(response)
    text = assert_plain_chinese(response, "未验证", "设为主邮箱", "重新发送验证邮件", "删除")
    # and adding it again is refused in plain words
    again = client.post("/accounts/email/", {"action_add": "", "email": "mum@example.cn"})
    assert_plain_chinese(again, "这个邮箱已经添加到您的账号了")


def test_phone_change_page_and_same_number(client, sms_outbox):
    signed_in(client)
    assert_plain_chinese(client.get("/accounts/phone/change/"), "更换手机号", MASKED)
    same = client.post("/accounts/phone/change/", {"phone": PHONE})
    assert_plain_chinese(same, "新填写的和现在的一样")


def test_password_change_page_and_wrong_current_password(client):
    signed_in(client)
    assert_plain_chinese(client.get("/accounts/password/change/"), "当前密码", "新密码")
    wrong = client.post(
        "/accounts/password/change/",
        {"oldpassword": "not-it", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert_plain_chinese(wrong, "请输入当前密码")
    done = client.post(
        "/accounts/password/change/",
        {"oldpassword": "correct-horse-battery", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert "密码已修改。" in messages_of(done)


def test_password_set_page(client):
    user = parent()
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    response = client.get("/accounts/password/set/")
    assert_plain_chinese(response, "设置密码", "确认密码")


def test_sessions_logout_and_reauthentication_pages(client):
    signed_in(client)
    text = assert_plain_chinese(client.get("/accounts/sessions/"), "登录设备", "登录时间", "本机")
    assert "退出登录" in text
    assert_plain_chinese(client.get("/accounts/reauthenticate/"), "验证身份", "密码")
    assert_plain_chinese(client.get("/accounts/logout/"), "退出")
    response = client.post("/accounts/logout/", follow=True)
    assert "已退出登录。" in messages_of(response)


def test_signing_out_other_devices(client):
    user = signed_in(client)
    other = type(client)()
    other.post("/accounts/login/", {"login": user.phone, "password": "correct-horse-battery"})
    page = client.get("/accounts/sessions/")
    assert_plain_chinese(page, "退出其他设备")
    response = client.post("/accounts/sessions/", follow=True)
    assert "其他设备已全部退出登录。" in messages_of(response)


# --- sign-in says who, never the username ---------------------------------------------


def test_sign_in_greets_by_display_name(client):
    user = parent(display_name="王妈妈")
    response = client.post(
        "/accounts/login/", {"login": PHONE, "password": "correct-horse-battery"}, follow=True
    )
    assert "已登录：王妈妈" in messages_of(response)
    assert user.username not in response.content.decode()


def test_sign_in_greets_by_masked_phone_when_there_is_no_name(client):
    user = parent()
    response = client.post(
        "/accounts/login/", {"login": PHONE, "password": "correct-horse-battery"}, follow=True
    )
    assert messages_of(response) == [f"已登录：{MASKED}"]
    assert user.username not in response.content.decode()
    assert PHONE not in " ".join(messages_of(response))


def test_sign_in_by_email_only_greets_by_masked_email(client):
    user = parent(phone=None, phone_verified=False, email="mum@example.cn")
    response = client.post(
        "/accounts/login/",
        {"login": "mum@example.cn", "password": "correct-horse-battery"},
        follow=True,
    )
    assert messages_of(response) == ["已登录：m***@example.cn"]
    assert user.username not in response.content.decode()


def test_user_display_never_falls_back_to_the_username():
    from members.privacy import person_name

    assert person_name(User(username="u6eebf07aa0fb", display_name="王妈妈")) == "王妈妈"
    assert person_name(User(username="u6eebf07aa0fb", last_name="王", first_name="芳")) == "王芳"
    assert person_name(User(username="u6eebf07aa0fb", phone=PHONE)) == MASKED
    with translation.override("zh-hans"):
        assert person_name(User(username="u6eebf07aa0fb")) == "用户"


# --- English still reads as English ----------------------------------------------------


def test_english_visitors_still_get_english(client, sms_outbox):
    client.cookies["django_language"] = "en"
    parent(display_name="王妈妈")
    response = client.post(
        "/accounts/login/", {"login": PHONE, "password": "correct-horse-battery"}, follow=True
    )
    assert "Successfully signed in as 王妈妈." in messages_of(response)
    sessions = client.get("/accounts/sessions/").content.decode()
    assert "Sessions" in sessions and "登录设备" not in sessions
    email = client.get("/accounts/email/").content.decode()
    assert "Email Addresses" in email and "我的邮箱" not in email
    anonymous = type(client)()
    anonymous.cookies["django_language"] = "en"
    response = anonymous.post("/accounts/login/code/", {"phone": PHONE, "email": ""}, follow=True)
    assert f"A sign-in code has been sent to {MASKED}." in messages_of(response)
