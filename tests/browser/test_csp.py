"""Every page is served with the Content-Security-Policy, and Chromium, with the
policy in force (no bypass), reports no violation on any of them: public pages,
a parent's, a coordinator's and the admin. axe stays clean on the same pages."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.a11y import axe_violations
from tests.pages import admin_pages, build_site, main_pages
from tests.phone import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Collects what the browser itself reports, before any page script runs (an init
# script comes through the DevTools protocol, so the policy does not block it).
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} `
                    + `(${e.sourceFile || ''}:${e.lineNumber || ''})`);
});
"""


class Watch:
    """One browser context: its responses and the console's CSP complaints."""

    def __init__(self, browser, live_server, user=None):
        self.context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        if user is not None:
            sign_in(self.context, live_server, user)
        self.context.add_init_script(WATCH_VIOLATIONS)
        self.origin = live_server.url
        self.responses = []
        self.console = []
        self.context.on("response", lambda response: self.responses.append(response))
        self.page = self.context.new_page()
        self.page.on(
            "console",
            lambda message: (
                self.console.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

    def open(self, url: str) -> list[str]:
        """Open ``url``; return the violations seen on it."""
        self.console.clear()
        response = self.page.goto(self.origin + url)
        assert response is not None and response.ok, (url, response and response.status)
        self.page.wait_for_load_state("networkidle")
        return [*self.page.evaluate("() => window.__csp"), *self.console]

    def responses_without_policy(self) -> list[str]:
        # Static files are left out: the test server serves them from its own
        # handler, outside the middleware (in production WhiteNoise serves them
        # inside it, after the CSP middleware), and a policy on a stylesheet or
        # a script file means nothing to the browser anyway.
        static = self.origin + settings.STATIC_URL
        own = [
            r
            for r in self.responses
            if r.url.startswith(self.origin) and not r.url.startswith(static)
        ]
        assert own, "no response recorded"
        return [
            f"{r.status} {r.url}" for r in own if "content-security-policy" not in r.all_headers()
        ]


def test_every_page_sends_the_policy_and_breaks_none_of_it(live_server, browser, settings):
    # given the portal's pages and their users; the anonymous catalogue shared
    # from the cache, as in production
    settings.COURSE_CATALOGUE_CACHE_SECONDS = 30
    site = build_site()
    pages = main_pages(site) + admin_pages(site)
    watches = {
        who: Watch(browser, live_server, site.users.get(who) if who else None)
        for who in {page.user for page in pages}
    }
    found, axe_found = {}, {}
    try:
        # when each page is opened by its user (the catalogue twice: the second
        # copy comes from the shared cache)
        for page in [*pages, *[p for p in pages if p.name == "catalogue"]]:
            watch = watches[page.user]
            violations = watch.open(page.url)
            if violations:
                found[page.name] = violations
            if not page.name.startswith("admin"):
                axe = axe_violations(watch.page)
                if axe:
                    axe_found[page.name] = axe

        # then nothing was blocked, every response of the portal carried the
        # policy, and axe (itself run under the policy) found nothing
        assert found == {}
        for watch in watches.values():
            assert watch.responses_without_policy() == []
        assert axe_found == {}
    finally:
        for watch in watches.values():
            watch.context.close()


def test_the_policy_is_enforced_and_a_violation_is_seen(live_server, browser, settings):
    # given an anonymous visitor on the home page (the same watch as above)
    watch = Watch(browser, live_server)
    try:
        assert watch.open("/") == []
        header = watch.responses[0].all_headers()["content-security-policy"]
        assert "script-src 'self'" in header and "unsafe-inline" not in header

        # when something injects an inline script and an inline event handler
        watch.page.evaluate(
            """() => {
                const s = document.createElement('script');
                s.textContent = 'window.__ran = true';
                document.body.appendChild(s);
                const b = document.createElement('div');
                b.setAttribute('onclick', 'window.__clicked = true');
                document.body.appendChild(b);
                b.click();
            }"""
        )
        # the reports are queued events: wait for them to arrive
        watch.page.wait_for_function("() => window.__csp.length >= 2")

        # then neither ran, and both were reported
        assert watch.page.evaluate("() => [window.__ran, window.__clicked]") == [None, None]
        reported = watch.page.evaluate("() => window.__csp")
        assert len([v for v in reported if v.startswith("script-src")]) == 2, reported
    finally:
        watch.context.close()
