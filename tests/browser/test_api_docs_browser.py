"""The API's browsable docs (/api/v1/docs/, django-ninja's packaged Swagger UI)
work under the site's Content-Security-Policy on a phone: the browser reports
no violation, and the page lists the API's operations from the served schema.
(Swagger UI is drawn for a desktop: at 375 px the page scrolls sideways.)"""

from __future__ import annotations

import pytest

from tests.browser.test_csp import WATCH_VIOLATIONS
from tests.phone import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_render_under_the_policy_at_phone_width(live_server, browser):
    # given a phone-sized browser that collects every CSP report
    context = browser.new_context(**PHONE)
    context.add_init_script(WATCH_VIOLATIONS)
    console: list[str] = []
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        # when the docs page is opened
        response = page.goto(live_server.url + "/api/v1/docs/")
        assert response is not None and response.ok
        assert "script-src 'self'" in response.headers["content-security-policy"]
        # then Swagger UI has drawn the operations from /api/v1/schema/
        page.wait_for_selector(".opblock-summary-path", timeout=15_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/api/v1/me" in paths
        assert any(path.startswith("/api/v1/catalogue/") for path in paths)
        page.wait_for_load_state("networkidle")
        # and nothing was blocked on the way
        assert [*page.evaluate("() => window.__csp"), *console] == []
        # and an operation opens (its parameters and answers drawn by Swagger UI's
        # own scripts, still under the policy)
        page.locator(".opblock-summary").first.click()
        page.wait_for_selector(".opblock-body .responses-wrapper", timeout=10_000)
        assert page.evaluate("() => window.__csp") == []
    finally:
        context.close()
