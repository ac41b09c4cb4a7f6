"""Sign-up and sign-in by phone or email, phone verification and change, passwords."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from members.models import ConsentRecord
from members.tests.factories import GuardianFactory, UserFactory
from members.tests.family_support import (  # noqa: F401 - fixture
    PASSWORD,
    committed,
    last_code,
    login,
    signup_by_email,
    signup_by_phone,
    sms_outbox_fixture,
)

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_signup_by_phone_sends_a_code_and_verifies_the_number(client, sms_outbox):
    # given a new parent on the sign-up page
    # when they sign up with their phone number and enter the texted code
    response = signup_by_phone(client, sms_outbox, "13812345678")

    # then they are signed in, the number is verified and they land on the family page
    assert response.status_code == 302
    assert response["Location"] == "/family/"
    user = User.objects.get(phone="13812345678")
    assert user.phone_verified is True
    assert "13812345678" not in user.username  # usernames carry no personal data
    assert client.get("/family/").status_code == 200
    assert len(sms_outbox) == 1
    assert "验证码" in sms_outbox[0].text
    # and their agreement to the privacy policy is on record
    consent = ConsentRecord.objects.get(user=user)
    assert consent.document == ConsentRecord.Document.PRIVACY


def test_signup_accepts_a_number_written_with_country_code_and_spaces(client, sms_outbox):
    response = client.post(
        "/accounts/signup/",
        {
            "phone": "+86 139 1234 5678",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "agree_privacy": "on",
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(phone="13912345678").exists()


def test_wrong_code_is_refused_and_leaves_the_number_unverified(client, sms_outbox):
    client.post(
        "/accounts/signup/",
        {
            "phone": "13812345678",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "agree_privacy": "on",
        },
    )
    response = client.post("/accounts/phone/verify/", {"code": "000000"})
    assert response.status_code == 200
    assert User.objects.get(phone="13812345678").phone_verified is False
    assert "_auth_user_id" not in client.session


def test_signup_by_email_only(client, sms_outbox):
    response = signup_by_email(client, "Mother@Example.cn")
    assert response.status_code == 302
    user = User.objects.get(email="mother@example.cn")
    assert user.phone is None
    assert len(mail.outbox) == 1  # the email confirmation
    assert sms_outbox == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"phone": "", "email": ""}, "请填写手机号码或电子邮箱"),
        ({"phone": "12345"}, "请输入11位中国大陆手机号码"),
        ({"phone": "13812345678", "agree_privacy": ""}, "请阅读并同意《隐私政策》"),
    ],
)
def test_signup_explains_bad_input_in_chinese(client, sms_outbox, data, message):
    form = {
        "phone": "",
        "email": "",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "agree_privacy": "on",
        **data,
    }
    response = client.post("/accounts/signup/", form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["short1!", "password123", "12345678901"])
def test_weak_passwords_are_refused(client, sms_outbox, password):
    # ASVS L1: at least 8 characters, not a common password, not all digits
    response = client.post(
        "/accounts/signup/",
        {
            "phone": "13812345678",
            "password1": password,
            "password2": password,
            "agree_privacy": "on",
        },
    )
    assert response.status_code == 200
    assert not User.objects.exists()


def test_sign_in_by_phone_or_email_with_password(client):
    UserFactory(phone="13700001111", phone_verified=True, email="dad@example.cn")
    assert login(client, "137 0000 1111", "correct-horse-battery").status_code == 302
    client.logout()
    assert login(client, "dad@example.cn", "correct-horse-battery").status_code == 302


def test_unverified_phone_is_verified_at_sign_in(client, sms_outbox):
    UserFactory(phone="13700001111", phone_verified=False)
    response = login(client, "13700001111", "correct-horse-battery")
    assert response["Location"] == "/accounts/phone/verify/"
    code = last_code(sms_outbox, "13700001111")
    response = client.post("/accounts/phone/verify/", {"code": code})
    assert response.status_code == 302
    assert User.objects.get(phone="13700001111").phone_verified is True


def test_change_phone_verifies_the_new_number_and_updates_the_guardian(client, sms_outbox):
    # given a signed-in guardian whose contact number is their sign-in number
    guardian = GuardianFactory(user__phone="13700001111", user__phone_verified=True)
    client.force_login(guardian.user)

    # when they change to a new number and enter the code texted to it
    with committed():
        response = client.post("/accounts/phone/change/", {"phone": "13900002222"})
    assert response.status_code == 302
    code = last_code(sms_outbox, "13900002222")
    response = client.post("/accounts/phone/verify/", {"code": code})

    # then the new number is theirs, verified, and the guardian's contact follows
    assert response.status_code == 302
    guardian.refresh_from_db()
    guardian.user.refresh_from_db()
    assert guardian.user.phone == "13900002222"
    assert guardian.user.phone_verified is True
    assert guardian.phone == "13900002222"


def test_password_change_and_reset(client):
    user = UserFactory(email="mum@example.cn")
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": "correct-horse-battery", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(PASSWORD)

    client.logout()
    with committed():
        response = client.post("/accounts/password/reset/", {"email": "mum@example.cn"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
    ],
)
def test_account_pages_use_the_portal_layout_in_chinese(client, path):
    response = client.get(path)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<main id="main"' in html
    assert 'name="viewport"' in html
    assert "协同育人门户" in html


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/email/",
        "/accounts/sessions/",
        "/accounts/phone/change/",
        "/accounts/password/change/",
    ],
)
def test_account_management_pages_use_the_portal_layout(client, path):
    client.force_login(UserFactory())
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<main id="main"' in html and "协同育人门户" in html


def test_email_verification_link_confirms_the_address(client, sms_outbox):
    from allauth.account.models import EmailAddress

    signup_by_email(client, "mum@example.cn")
    link = re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", mail.outbox[0].body)
    assert client.get(link.group(1)).status_code == 200
    response = client.post(link.group(1))
    assert response.status_code == 302
    assert EmailAddress.objects.get(email="mum@example.cn").verified is True


def test_sign_in_with_a_texted_code_when_the_password_is_forgotten(client, sms_outbox):
    # given a phone-only parent who forgot the password
    UserFactory(phone="13700001111", phone_verified=True, email="")
    assert "用短信验证码登录" in client.get("/accounts/login/").content.decode()

    # when they ask for a code by phone and enter it
    with committed():
        response = client.post("/accounts/login/code/", {"phone": "13700001111", "email": ""})
    assert response["Location"].startswith("/accounts/login/code/confirm/")
    code = last_code(sms_outbox, "13700001111")
    response = client.post("/accounts/login/code/confirm/", {"code": code})

    # then they are signed in
    assert response.status_code == 302
    assert client.get("/family/").status_code == 200

    # and can set a new password without the forgotten one
    page = client.get("/accounts/password/change/").content.decode()
    assert "可以直接设置新密码" in page and 'name="oldpassword"' not in page
    response = client.post(
        "/accounts/password/change/", {"password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert User.objects.get(phone="13700001111").check_password(PASSWORD)


def test_after_a_password_sign_in_the_old_password_is_asked_for(client):
    UserFactory(phone="13700001111", phone_verified=True)
    login(client, "13700001111", "correct-horse-battery")
    page = client.get("/accounts/password/change/").content.decode()
    assert 'name="oldpassword"' in page
    response = client.post(
        "/accounts/password/change/", {"password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 200
    assert User.objects.get(phone="13700001111").check_password("correct-horse-battery")
