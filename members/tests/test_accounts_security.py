"""ASVS level 1 basics: rate limits (429) on sign-in and the admin login, a new
session on login, logout and disabling that end server sessions, no personal
data in URLs."""

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.urls import get_resolver

from members.services import user_deactivate
from members.tests.factories import UserFactory
from members.tests.family_support import (  # noqa: F401 - fixture
    PASSWORD,
    login,
    signup_by_phone,
    sms_outbox_fixture,
)

pytestmark = pytest.mark.django_db
User = get_user_model()
RIGHT = "correct-horse-battery"


def test_repeated_wrong_passwords_are_refused_with_429(client):
    # given an account signed in to by phone number
    UserFactory(phone="13700001111", phone_verified=True)

    # when somebody tries five wrong passwords (the per-account limit is 5 per 5 minutes)
    for _attempt in range(5):
        response = login(client, "13700001111", "wrong-password-1")
        assert response.status_code == 200
        assert "不正确" in response.content.decode() or "not correct" in response.content.decode()

    # then the sixth try is refused with 429, even with the right password
    response = login(client, "13700001111", RIGHT)
    assert response.status_code == 429
    assert "操作太频繁" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failed_phone_logins_are_counted_per_number_not_for_all_phones(client):
    # allauth keys the failed-login limit by email or username; phone logins
    # would all share one key. Ours is keyed by the number.
    UserFactory(phone="13700001111", phone_verified=True)
    UserFactory(phone="13700002222", phone_verified=True)
    for _attempt in range(5):
        login(client, "13700001111", "wrong-password-1")
    response = login(client, "13700002222", RIGHT)
    assert response.status_code == 302


def test_wrong_passwords_from_one_address_are_refused_with_429(client):
    # ten failures a minute from one IP, whichever accounts they aim at
    for n in range(10):
        login(client, f"1370000{n:04d}", "wrong-password-1")
    assert login(client, "13700009999", "wrong-password-1").status_code == 429


def test_admin_login_goes_through_allauth_and_its_rate_limits(client):
    # given a district administrator
    UserFactory(email="admin@example.cn", is_staff=True, is_superuser=True, phone=None)

    # the admin's own login page sends people to the portal's sign-in
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")

    # repeated wrong passwords are refused with 429 there too
    for _attempt in range(5):
        login(client, "admin@example.cn", "wrong-password-1")
    assert login(client, "admin@example.cn", RIGHT).status_code == 429

    # and once the limit has passed, the right password reaches the admin
    client.logout()
    from django.core.cache import cache

    cache.clear()
    assert login(client, "admin@example.cn", RIGHT).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_parent_cannot_reach_the_admin(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/admin/login/").status_code == 403
    assert client.get("/admin/").status_code == 302


def test_login_starts_a_new_session(client):
    # given a visitor with an anonymous session
    UserFactory(phone="13700001111", phone_verified=True)
    anonymous = client.session
    anonymous["seen_home"] = True
    anonymous.save()
    before = anonymous.session_key

    # when they sign in
    assert login(client, "13700001111", RIGHT).status_code == 302

    # then the session key has changed and the old session is gone from the server
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert Session.objects.filter(session_key=after).exists()


def test_logout_ends_the_session_on_the_server(client):
    UserFactory(phone="13700001111", phone_verified=True)
    login(client, "13700001111", RIGHT)
    key = client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=key).exists()

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    # a replayed cookie is no longer signed in
    client.cookies["sessionid"] = key
    assert client.get("/family/").status_code == 302


def test_logout_needs_post(client):
    UserFactory(phone="13700001111", phone_verified=True)
    login(client, "13700001111", RIGHT)
    key = client.cookies["sessionid"].value
    client.get("/accounts/logout/")
    assert Session.objects.filter(session_key=key).exists()


def _signed_in_twice(client_factory, phone):
    clients = []
    for _n in range(2):
        c = client_factory()
        assert login(c, phone, RIGHT).status_code == 302
        clients.append(c)
    return clients


def test_disabling_an_account_ends_all_its_sessions(client, django_user_model):
    from django.test import Client

    # given a parent signed in on two phones
    user = UserFactory(phone="13700001111", phone_verified=True)
    clients = _signed_in_twice(Client, "13700001111")
    keys = [c.cookies["sessionid"].value for c in clients]
    assert UserSession.objects.filter(user=user).count() == 2

    # when an administrator disables the account
    ended = user_deactivate(user=user, reason="test")

    # then both server sessions are gone and neither phone is signed in
    assert ended == 2
    assert not Session.objects.filter(session_key__in=keys).exists()
    for c in clients:
        assert c.get("/family/").status_code == 302
    user.refresh_from_db()
    assert user.is_active is False
    # and signing in again is refused
    response = login(client, "13700001111", RIGHT)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/inactive/"


def test_unticking_active_in_the_admin_also_ends_sessions(client):
    from django.test import Client

    user = UserFactory(phone="13700001111", phone_verified=True)
    clients = _signed_in_twice(Client, "13700001111")
    keys = [c.cookies["sessionid"].value for c in clients]

    # the admin's change form saves the user with is_active=False
    user.is_active = False
    user.save()

    assert not Session.objects.filter(session_key__in=keys).exists()
    assert not UserSession.objects.filter(user=user).exists()


def test_no_personal_data_in_urls(client, sms_outbox):
    # no members path takes a phone number, email or name
    for pattern in get_resolver().url_patterns:
        text = str(pattern.pattern)
        for word in ("phone", "email", "name", "mobile"):
            assert f"<{word}" not in text and f":{word}>" not in text
    members_patterns = [str(p.pattern) for p in get_resolver("members.urls").url_patterns]
    assert all("<str:token>" in p or "<int:" in p or "<" not in p for p in members_patterns)

    # and no step of signing up by phone puts the number in an address
    phone = "13812345678"
    response = signup_by_phone(client, sms_outbox, phone)
    assert phone not in response["Location"]
    page = client.get(response["Location"])
    assert phone not in page.request["PATH_INFO"] + page.request.get("QUERY_STRING", "")


def test_remember_me_keeps_the_session_otherwise_it_ends_with_the_browser(client):
    UserFactory(phone="13700001111", phone_verified=True)
    client.post("/accounts/login/", {"login": "13700001111", "password": RIGHT})
    assert client.session.get_expire_at_browser_close() is True
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"login": "13700001111", "password": RIGHT, "remember": "on"})
    assert client.session.get_expire_at_browser_close() is False


def test_a_second_code_for_the_same_number_within_30_seconds_is_429_not_500(client, sms_outbox):
    from django.test import Client

    data = {
        "phone": "13812345678",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "agree_privacy": "on",
    }
    assert client.post("/accounts/signup/", data).status_code == 302
    response = Client().post("/accounts/signup/", data)
    assert response.status_code == 429
    assert len(sms_outbox) == 1
