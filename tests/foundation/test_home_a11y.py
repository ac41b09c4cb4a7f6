import pytest

from tests.a11y import axe_violations

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_home_page_meets_wcag_21_aa_on_a_phone(live_server, phone_page):
    phone_page.goto(live_server.url + "/")
    assert axe_violations(phone_page) == []


def test_the_checker_finds_a_missing_label(phone_page):
    # The check must be able to fail: an unlabeled input and low contrast are caught.
    phone_page.set_content(
        '<html lang="zh-CN"><head><title>t</title></head><body><main>'
        '<input type="text"><p style="color:#bbb;background:#fff">浅色文字</p></main></body></html>'
    )
    found = {violation["id"] for violation in axe_violations(phone_page)}
    assert {"label", "color-contrast"} <= found
