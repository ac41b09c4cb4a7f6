"""Phone-sized browser contexts for the Playwright tests: the portal's target
screen (375×812, Chinese, Shanghai time, touch), signed in without the login
form, and the checks every phone page must pass."""

from django.conf import settings
from django.test import Client

from tests.a11y import axe_violations

PHONE = {
    "viewport": {"width": 375, "height": 812},
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "is_mobile": True,
    "has_touch": True,
}


def sign_in(context, live_server, user) -> None:
    """Give the browser context a signed-in session for ``user``.

    The session is made by Django's test client (``force_login``) and its cookie
    copied into the context, so a test starts on the page it is about rather
    than on the sign-in form.
    """
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def signed_in_phone(browser, live_server, user, **context_options):
    """A phone-sized browser context carrying a signed-in session for ``user``,
    and a page in it. ``context_options`` add to (or override) PHONE, e.g.
    ``accept_downloads=True``."""
    context = browser.new_context(**{**PHONE, **context_options})
    sign_in(context, live_server, user)
    return context, context.new_page()


def page_widths(page) -> list[int]:
    """[the document's scroll width, the viewport's width], in CSS pixels."""
    return page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


def fits_without_horizontal_scroll(page) -> bool:
    width, client_width = page_widths(page)
    return width <= client_width


def fits_and_is_accessible(page, label: str) -> None:
    """The page does not scroll sideways and axe finds no WCAG 2.1 AA violation;
    ``label`` names the step in the failure message."""
    widths = page_widths(page)
    assert widths[0] <= widths[1], f"{label}: horizontal scroll {widths}"
    violations = axe_violations(page)
    assert violations == [], f"{label}: {violations}"
