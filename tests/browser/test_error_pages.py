"""Error pages on a phone (375×812) in Chromium: 403, 404, 500, a refused form and
429 are portal pages in Chinese that fit the screen, pass axe (WCAG 2.1 AA), break
no Content-Security-Policy rule, and lead back home."""

from __future__ import annotations

import pytest
from django.test import Client

from members.tests.factories import GuardianFactory, UserFactory
from tests.a11y import axe_violations
from tests.phone import PHONE, page_widths, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
});
"""


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    context.add_init_script(WATCH_VIOLATIONS)
    yield context
    context.close()


def _check_error_page(page, *, heading: str) -> None:
    """The page is the portal's, in Chinese, fits the phone, passes axe and the CSP."""
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == heading
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    # the stylesheet applied: the portal's header, not a bare page
    assert page.locator("header.site-header").is_visible()
    assert page.evaluate(
        "() => getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    ) not in ("rgba(0, 0, 0, 0)", "transparent")
    width, client_width = page_widths(page)
    assert width <= client_width, f"{width}px wide on a {client_width}px screen"
    assert axe_violations(page) == []
    assert page.evaluate("() => window.__csp") == []
    home = page.get_by_role("link", name="回到首页")
    assert home.is_visible()
    box = home.bounding_box()
    assert box["height"] >= 44  # a finger-sized target


def _go_home(page, live_server) -> None:
    page.get_by_role("link", name="回到首页").click()
    page.wait_for_load_state("load")
    assert page.url == live_server.url + "/"


def test_404_on_a_phone(live_server, phone):
    page = phone.new_page()

    response = page.goto(live_server.url + "/courses/no-such-page/")

    assert response.status == 404
    _check_error_page(page, heading="找不到这个页面")
    _go_home(page, live_server)


def test_403_on_a_phone_for_a_parent_on_a_staff_page(live_server, phone):
    sign_in(phone, live_server, GuardianFactory().user)
    page = phone.new_page()

    # when the parent follows a link to the coordinators' sessions from the home page
    response = page.goto(live_server.url + "/courses/sessions/", referer=live_server.url + "/")

    assert response.status == 403
    _check_error_page(page, heading="您没有权限打开这个页面")
    # 返回上一页 leads where the parent came from
    page.get_by_role("link", name="返回上一页").click()
    page.wait_for_load_state("load")
    assert page.url == live_server.url + "/"


def test_a_refused_form_on_a_phone_offers_signing_in_again(live_server, phone):
    # given the sign-in page, whose security cookie is then lost (e.g. cleared)
    page = phone.new_page()
    page.goto(live_server.url + "/accounts/login/")
    phone.clear_cookies()

    # when the form is sent
    page.locator("input[name=login]").fill("13800000000")
    page.locator("input[name=password]").fill("whatever-password")
    with page.expect_navigation() as navigation:
        page.locator("form[action='/accounts/login/'] button[type=submit]").first.click()

    # then the portal explains it and offers 重新登录, which works again
    assert navigation.value.status == 403
    _check_error_page(page, heading="页面已过期，请重新提交")
    page.get_by_role("link", name="重新登录").click()
    page.wait_for_load_state("load")
    assert page.url.startswith(live_server.url + "/accounts/login/")


def test_500_on_a_phone(live_server, phone, settings):
    settings.ROOT_URLCONF = "portal.tests.error_urls"
    page = phone.new_page()

    response = page.goto(live_server.url + "/test-error/")

    assert response.status == 500
    _check_error_page(page, heading="服务器出了点问题")
    _go_home(page, live_server)


def test_429_on_a_phone(live_server, phone):
    # given an account whose password was mistyped five times
    UserFactory(phone="13700003333", phone_verified=True)
    client = Client()
    for attempt in range(5):
        client.post("/accounts/login/", {"login": "13700003333", "password": f"wrong-{attempt}"})
    page = phone.new_page()
    page.goto(live_server.url + "/accounts/login/")

    # when the parent tries once more on the phone
    page.locator("input[name=login]").fill("13700003333")
    page.locator("input[name=password]").fill("wrong-again")
    with page.expect_navigation() as navigation:
        page.locator("form[action='/accounts/login/'] button[type=submit]").first.click()

    # then the 429 page is the portal's
    assert navigation.value.status == 429
    _check_error_page(page, heading="操作太频繁了")
    assert page.get_by_role("link", name="找回密码").is_visible()
