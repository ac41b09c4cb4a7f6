"""The preferences page as a phone-only parent and an email-only parent see it:
valid HTML (Nu checker), WCAG 2.1 AA (axe in Chromium at 375×812), no
horizontal scroll, and a saved choice from the phone."""

import pytest
from django.test import Client
from django.urls import reverse

from members.tests.factories import UserFactory
from notifications.models import NotificationPreference
from tests.a11y import axe_violations
from tests.foundation.test_html_valid import _vnu
from tests.phone import fits_without_horizontal_scroll, signed_in_phone


def _phone_only():
    return UserFactory(email="", phone="13812341234", phone_verified=True)


def _email_only():
    return UserFactory(email="ma@example.cn", phone=None)


@pytest.mark.django_db
def test_both_variants_are_valid_html(tmp_path):
    files = []
    for name, user in (("phone-only", _phone_only()), ("email-only", _email_only())):
        client = Client()
        client.force_login(user)
        response = client.get(reverse("notifications:preferences"))
        assert response.status_code == 200
        path = tmp_path / f"preferences-{name}.html"
        path.write_text(response.content.decode(), encoding="utf-8")
        files.append(path)

    errors = [m for m in _vnu(files) if m.get("type") == "error"]

    assert errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_phone_only_parent_reads_and_saves_her_settings_on_a_phone(live_server, browser):
    user = _phone_only()
    context, page = signed_in_phone(browser, live_server, user)
    try:
        page.goto(live_server.url + reverse("notifications:preferences"))

        # the SMS box is ticked and described; email is off and cannot be ticked
        sms = page.get_by_role("checkbox", name="短信")
        email = page.get_by_role("checkbox", name="邮件")
        assert sms.is_checked() and not email.is_checked() and email.is_disabled()
        assert "发到 138****1234" in page.locator("#id_by_sms_helptext").inner_text()
        assert fits_without_horizontal_scroll(page)
        assert axe_violations(page) == []

        # when she turns the in-site notices off and saves
        page.get_by_role("checkbox", name="站内通知").uncheck()
        page.get_by_role("button", name="保存").click()
        page.wait_for_load_state()

        assert page.get_by_text("通知设置已保存。").is_visible()
        assert axe_violations(page) == []
    finally:
        context.close()
    saved = NotificationPreference.objects.get(user=user)
    assert (saved.in_site, saved.by_email, saved.by_sms) == (False, False, True)
