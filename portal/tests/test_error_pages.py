"""Error pages (400, 403, 404, 500, a refused form, 429) with DEBUG=False: in the
portal layout, in Chinese, with a way back; the 500 page without the database."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.utils import translation

from members.tests.factories import GuardianFactory, UserFactory
from portal import errors

LAYOUT = ('class="site-header"', 'href="/static/css/portal.css"', 'class="site-footer"')


def _assert_portal_page(body: str) -> None:
    assert '<html lang="zh-CN">' in body
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    for part in LAYOUT:
        assert part in body, part
    assert '<a class="btn' in body and 'href="/"' in body and "回到首页" in body
    assert "Forbidden" not in body and "Not Found" not in body and "Server Error" not in body


@pytest.fixture(autouse=True)
def _production_like(settings):
    settings.DEBUG = False
    yield
    # The locale middleware leaves the last request's language active in this thread.
    translation.activate(settings.LANGUAGE_CODE)


@pytest.mark.django_db
def test_404_is_a_portal_page_with_the_way_back(client):
    # when a visitor follows a broken link from one of our pages
    response = client.get(
        "/courses/no-such-page/", headers={"referer": "http://testserver/events/"}
    )

    # then the answer is 404, in Chinese, in the layout, with 返回上一页 and 首页
    body = response.content.decode()
    assert response.status_code == 404
    assert "找不到这个页面" in body and "<title>找不到页面 · 协同育人门户</title>" in body
    _assert_portal_page(body)
    assert 'href="http://testserver/events/">返回上一页</a>' in body


@pytest.mark.django_db
def test_a_link_from_another_site_is_not_offered_as_the_way_back(client):
    response = client.get("/no-such-page/", headers={"referer": "https://evil.example/"})

    body = response.content.decode()
    assert "evil.example" not in body and "返回上一页" not in body
    _assert_portal_page(body)


@pytest.mark.django_db
def test_403_for_a_parent_on_a_staff_page(client):
    # given a signed-in parent
    client.force_login(GuardianFactory().user)

    # when they open the coordinators' session list
    response = client.get("/courses/sessions/")

    # then they are told in Chinese that the page needs a role, with the way back
    body = response.content.decode()
    assert response.status_code == 403
    assert "您没有权限打开这个页面" in body and "协调员为您的账号授权" in body
    _assert_portal_page(body)


@pytest.mark.django_db
def test_a_refused_form_says_the_page_expired_and_offers_signing_in_again():
    # given a browser whose form lost its security token (a page left open too long)
    client = Client(enforce_csrf_checks=True)

    # when it sends the sign-in form
    response = client.post(
        "/accounts/login/",
        {"login": "13800000000", "password": "x"},
        headers={"referer": "http://testserver/accounts/login/"},
    )

    # then the portal's page explains it and offers 返回上一页, 首页 and 重新登录
    body = response.content.decode()
    assert response.status_code == 403
    assert "页面已过期，请重新提交" in body and "CSRF" not in body
    _assert_portal_page(body)
    assert 'href="http://testserver/accounts/login/">返回上一页</a>' in body
    assert 'href="/accounts/login/">重新登录</a>' in body


@pytest.mark.django_db
def test_500_is_a_portal_page_and_runs_no_query(settings, django_assert_num_queries):
    # given a view with a bug
    settings.ROOT_URLCONF = "portal.tests.error_urls"
    client = Client(raise_request_exception=False)

    # when it is opened, the 500 page is rendered without a single query
    with django_assert_num_queries(0):
        response = client.get("/test-error/")

    # then it is the portal's page, in Chinese, with the stylesheet and the way home
    body = response.content.decode()
    assert response.status_code == 500
    assert "服务器出了点问题" in body and "<title>服务器出错了 · 协同育人门户</title>" in body
    _assert_portal_page(body)


def test_the_500_page_renders_without_the_database():
    # given no database access at all (this test has no django_db mark: any query fails)
    request = RequestFactory().get("/somewhere/", headers={"referer": "http://testserver/me/"})

    # when the handler renders the page
    response = errors.server_error(request)

    # then it is the portal's page with the way back
    body = response.content.decode()
    assert response.status_code == 500
    _assert_portal_page(body)
    assert 'href="http://testserver/me/">返回上一页</a>' in body


@pytest.mark.django_db
def test_400_is_a_portal_page(client):
    response = errors.bad_request(RequestFactory().get("/"), exception=None)

    assert response.status_code == 400
    body = response.content.decode()
    assert "这个请求无法处理" in body
    for part in LAYOUT:
        assert part in body


@pytest.mark.django_db
def test_429_after_repeated_wrong_passwords_is_a_portal_page(client):
    # given an account whose password was mistyped five times
    UserFactory(phone="13700002222", phone_verified=True)
    for attempt in range(5):
        client.post("/accounts/login/", {"login": "13700002222", "password": f"wrong-{attempt}"})

    # when a sixth try comes
    response = client.post("/accounts/login/", {"login": "13700002222", "password": "wrong"})

    # then the 429 page is the portal's, with the way home and the password reset
    body = response.content.decode()
    assert response.status_code == 429
    assert "操作太频繁了" in body and "找回密码" in body
    _assert_portal_page(body)


@pytest.mark.django_db
def test_the_error_pages_follow_the_chosen_language(client):
    # given a visitor who switched the portal to English
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    # when a page is missing, the page is in English's layout (lang="en")
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert '<html lang="en">' in response.content.decode()
    # and so is the 500 page, which reads the active language without the request
    with translation.override("en"):
        body = errors.server_error(RequestFactory().get("/")).content.decode()
    assert '<html lang="en">' in body


@pytest.mark.django_db
def test_the_error_pages_and_revealed_rosters_are_valid_html(tmp_path, settings):
    # given the error pages, each as it happens, and rosters with a number revealed
    from django.urls import reverse

    from tests.foundation.test_html_valid import _vnu
    from tests.pages import build_site, error_pages

    site = build_site()
    clients = {None: Client()}
    for key, user in site.users.items():
        clients[key] = Client()
        clients[key].force_login(user)
    bodies = {}
    for page, status in error_pages(site):
        response = clients[page.user].get(page.url)
        assert response.status_code == status, page.name
        bodies[page.name] = response.content
    refused = Client(enforce_csrf_checks=True).post("/accounts/login/", {"login": "x"})
    assert refused.status_code == 403
    bodies["refused form"] = refused.content
    bodies["500"] = errors.server_error(RequestFactory().get("/")).content
    bodies["400"] = errors.bad_request(RequestFactory().get("/")).content
    coordinator = clients["coordinator"]
    session_booking = site.session.offering.bookings.get()
    coordinator.post(
        reverse("courses:roster_reveal", args=[site.session.pk]), {"reveal": session_booking.pk}
    )
    event_booking = site.event.offering.bookings.get()
    coordinator.post(
        reverse("events:manage_reveal", args=[site.event.pk]), {"reveal": event_booking.pk}
    )
    for name, url in [
        ("roster revealed", reverse("courses:roster", args=[site.session.pk])),
        ("event roster revealed", reverse("events:manage_detail", args=[site.event.pk])),
    ]:
        body = coordinator.get(url).content
        assert f"tel:{site.guardian.phone}".encode() in body, name
        bodies[name] = body
    files = {}
    for number, (name, body) in enumerate(bodies.items()):
        path = tmp_path / f"{number:02d}.html"
        path.write_bytes(body)
        files[path.name] = name

    # when the Nu HTML Checker reads them
    messages = _vnu([tmp_path / name for name in files])

    # then none has an error
    found = [
        f"{files[m['url'].rsplit('/', 1)[-1]]} line {m.get('lastLine')}: {m.get('message')}"
        for m in messages
        if m.get("type") == "error"
    ]
    assert found == []
