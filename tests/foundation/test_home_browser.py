import pytest

from tests.phone import fits_without_horizontal_scroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_is_chinese_and_fits_a_phone(live_server, browser):
    # given a desktop-sized page
    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    page = desktop.new_page()

    # when the home page opens
    page.goto(live_server.url + "/")

    # then it is in Chinese
    assert "协同育人门户" in page.title()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("navigation").count() >= 1
    assert page.get_by_role("main").count() == 1
    desktop.close()

    # and at a phone viewport it has no horizontal scroll
    phone = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True)
    page = phone.new_page()
    page.goto(live_server.url + "/")
    assert fits_without_horizontal_scroll(page)
    assert "协同育人门户" in page.title()
    phone.close()


def test_language_switch_shows_english(live_server, browser):
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.goto(live_server.url + "/")
    page.get_by_label("语言").select_option("en")
    page.get_by_role("button", name="切换").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Co-education Portal" in page.title()
    context.close()
