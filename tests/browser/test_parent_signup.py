"""Done when: a new parent on a phone-sized Chromium signs up by phone (reading
the code from the SMS backend), adds a child after consenting, invites a
co-guardian, downloads their data and signs out. Each step is checked, and
each page is checked with axe-core (WCAG 2.1 AA) and for horizontal scroll."""

import json
import re

import pytest

from members.models import ConsentRecord, FamilyInvitation, Guardian, User
from members.sms import LocmemSMSBackend
from tests.phone import fits_and_is_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13812345678"
PASSWORD = "Lantern-river-42"


def _texts_to(phone: str) -> list[str]:
    return [m.text for m in LocmemSMSBackend.outbox if m.phone == phone]


@pytest.fixture
def texts(settings):
    # live_server runs in this process, so the in-memory SMS outbox is readable here.
    settings.SMS_BACKEND = "members.sms.LocmemSMSBackend"
    settings.SMS_OPTIONS = {}
    LocmemSMSBackend.reset()
    yield LocmemSMSBackend.outbox
    LocmemSMSBackend.reset()


def test_a_parent_signs_up_by_phone_adds_a_child_invites_downloads_and_signs_out(
    live_server, phone_page, texts
):
    page = phone_page
    base = live_server.url

    # 1. sign up by phone
    page.goto(base + "/")
    page.get_by_role("link", name="注册").click()
    page.wait_for_url("**/accounts/signup/")
    fits_and_is_accessible(page, "signup")
    page.get_by_label("手机号码").fill(PHONE)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.get_by_label("我已阅读并同意《隐私政策》").check()
    page.get_by_role("button", name="注册").click()

    page.wait_for_url("**/accounts/phone/verify/")
    fits_and_is_accessible(page, "verify phone")
    assert PHONE not in page.url
    code = re.search(r"\b(\d{6})\b", _texts_to(PHONE)[-1]).group(1)
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="确认").click()

    page.wait_for_url("**/family/")
    user = User.objects.get(phone=PHONE)
    assert user.phone_verified
    # the family's pages are under the 我的 tab, which is the current one
    assert page.locator('.tab-bar a[data-tab="mine"]').get_attribute("aria-current") == "true"

    # 2. set up the family
    fits_and_is_accessible(page, "family setup")
    page.get_by_label("您与孩子的关系").select_option(label="妈妈")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/family/")
    assert page.get_by_role("heading", name="我的家庭").is_visible()
    fits_and_is_accessible(page, "family")

    # 3. add a child, after agreeing to the children's-information rules
    page.get_by_role("link", name="添加孩子").click()
    page.wait_for_url("**/privacy/children/**")
    assert page.get_by_role("heading", name="儿童个人信息保护规则").is_visible()
    fits_and_is_accessible(page, "children's rules")
    page.get_by_label("我是孩子的监护人，已阅读并同意《儿童个人信息保护规则》").check()
    page.get_by_role("button", name="同意并继续").click()
    page.wait_for_url("**/family/children/add/")
    fits_and_is_accessible(page, "add child")
    page.get_by_label("孩子的昵称").fill("小雨")
    page.get_by_label("出生年份").select_option("2017")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/family/")
    assert page.get_by_text("小雨", exact=True).is_visible()
    assert ConsentRecord.objects.filter(
        user=user, document=ConsentRecord.Document.CHILDREN_INFO
    ).exists()

    # 4. invite a co-guardian by phone: grandpa gets a text with a link
    page.get_by_role("link", name="邀请家人").last.click()
    page.wait_for_url("**/family/invite/")
    fits_and_is_accessible(page, "invite")
    page.get_by_label("TA与孩子的关系").select_option(label="祖辈")
    page.get_by_label("TA的手机号码").fill("13600001111")
    page.get_by_role("button", name="发送邀请").click()
    page.wait_for_url("**/family/")
    assert page.get_by_text("邀请已发出").is_visible()
    assert page.get_by_text("136****1111").is_visible()
    invitation = FamilyInvitation.objects.get(phone="13600001111")
    assert any(f"/family/join/{invitation.token}/" in t for t in _texts_to("13600001111"))

    # 5. download the data (under 我的, with the rest of the family's pages)
    page.locator('.tab-bar a[data-tab="mine"]').click()
    page.wait_for_url("**/mine/")
    page.get_by_role("link", name="账号与数据").click()
    page.wait_for_url("**/me/data/")
    fits_and_is_accessible(page, "my data")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载 JSON 版（便于转存）").click()
    data = json.loads(open(download_info.value.path(), encoding="utf-8").read())
    models = {s["model"]: s for s in data["sections"]}
    assert models["members.Child"]["rows"][0]["nickname"] == "小雨"
    assert models["members.User"]["rows"][0]["phone"] == PHONE
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载网页版（便于阅读）").click()
    html = open(download_info.value.path(), encoding="utf-8").read()
    assert "小雨" in html

    # 6. sign out: the server session ends and family pages need signing in again
    page.get_by_role("button", name="退出").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("link", name="登录").is_visible()
    page.goto(base + "/family/")
    page.wait_for_url("**/accounts/login/**")
    fits_and_is_accessible(page, "login")
    page.get_by_role("link", name="用短信验证码登录").click()
    page.wait_for_url("**/accounts/login/code/**")
    fits_and_is_accessible(page, "request a sign-in code")
    assert Guardian.objects.filter(user=user).count() == 1
