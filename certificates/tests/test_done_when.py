"""Issue 18's Done-when in a phone-sized Chromium: a parent who finished a course,
signing in through the sign-in form as anyone would, goes 我的 → 我的学习 and
downloads the certificate's PDF (「下载 PDF」), then opens 我的证书; the QR code
read from a rendering of the PDF's first page opens, in a browser that never
signed in, the verification page showing 有效, with no phone number and no child
on it; the credential carried in the PDF verifies with ``certificate_verify``
and fails with one character changed. The coordinator then revokes it on the
staff pages (the page shows 已撤销, the command with a freshly fetched status
list exits 2) and re-issues another family's (the old page shows 已被新证书替换
and links to the new one, which shows 有效). Every page is checked with axe-core
(WCAG 2.1 AA) and for horizontal scroll.

The QR and command part without a browser: test_done_when_offline.py."""

from __future__ import annotations

import json
import re

import pypdfium2
import pytest
import zxingcpp
from django.urls import reverse
from django.utils import timezone

from certificates import services
from certificates.credentials import credential_from_pdf, verification_url
from certificates.models import Certificate, CertificateBatch
from tests.phone import PHONE, fits_and_is_accessible

from .issuing_world import build_issuing_world, finish_course
from .verifying import fresh_status_list, verify_exit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Lantern-river-42"
COORDINATOR_PASSWORD = "Harbour-bell-97"
#: The phone of the walk: 390×844, in Chinese, Shanghai time, touch.
PHONE_390 = {**PHONE, "viewport": {"width": 390, "height": 844}}
PHONE_NUMBER = re.compile(r"1[3-9]\d{9}")


# --- helpers ----------------------------------------------------------------------------


def _sign_in(page, login: str, password: str) -> None:
    """The portal's sign-in form, as a person types into it."""
    page.wait_for_selector("form[action='/accounts/login/'] input[name=login]")
    fits_and_is_accessible(page, "sign in")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(password)
    page.locator("form[action='/accounts/login/'] button[type=submit]").first.click()


def _public_page(browser, url: str):
    """``url`` opened as anyone who scans the code: a new browser, never signed in
    (no cookie, nothing cached from an earlier visit)."""
    context = browser.new_context(**PHONE_390)
    page = context.new_page()
    answer = page.goto(url)
    assert answer.status == 200, (url, answer.status)
    page.wait_for_selector("h2[data-status]")
    return context, page


def _status_shown(page) -> tuple[str, str]:
    heading = page.locator("h2[data-status]")
    return heading.get_attribute("data-status"), heading.inner_text().strip()


def _assert_nothing_private(text: str, w, *, where: str) -> None:
    assert not PHONE_NUMBER.search(text), f"{where}: a phone number"
    for phone in w.phones():
        assert phone not in text and f"{phone[:3]}****{phone[-4:]}" not in text, where
    for child in (w.mum_child, w.dad_child):
        assert child.nickname not in text, f"{where}: the child {child.nickname}"


def _pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    return "".join(page.get_textpage().get_text_range() for page in document)


# --- the walk ---------------------------------------------------------------------------


def test_a_parent_downloads_scans_and_verifies_and_the_coordinator_revokes_and_reissues(
    live_server, browser, settings, tmp_path
):
    # given a term's course that 张晓华 and 李建国 both finished (every session
    # attended, the lesson watched, the credits earned), passwords they know, and
    # the coordinator's batch (the links on the certificates point at this server)
    settings.PORTAL_BASE_URL = live_server.url
    base = live_server.url
    w = build_issuing_world()
    finish_course(w, w.mum)
    finish_course(w, w.dad)
    mum_user = w.mum.user
    mum_user.set_password(PASSWORD)
    mum_user.save(update_fields=["password"])
    coordinator = w.coordinator
    coordinator.phone_verified = True
    coordinator.set_password(COORDINATOR_PASSWORD)
    coordinator.save(update_fields=["phone_verified", "password"])
    services.rule_update(user=coordinator, alliance=w.alliance, kind="course")
    batch = services.batch_start(
        alliance=w.alliance, term=w.term, trigger=CertificateBatch.Trigger.MANUAL, user=coordinator
    )
    while services.batch_run_chunk(batch_id=batch.pk):
        pass
    mine = Certificate.objects.get(family=w.mum.family)
    theirs = Certificate.objects.get(family=w.dad.family)
    assert mine.status == theirs.status == Certificate.Status.VALID

    # 1. the parent opens the home page on a phone and signs in with the form
    parent = browser.new_context(**PHONE_390, accept_downloads=True)
    page = parent.new_page()
    page.goto(base + "/")
    fits_and_is_accessible(page, "home")
    page.locator("header").get_by_role("link", name="登录").click()
    page.wait_for_url("**/accounts/login/**")
    _sign_in(page, mum_user.phone, PASSWORD)
    page.wait_for_url(base + "/")
    page.wait_for_selector('.tab-bar a[data-tab="mine"]')
    fits_and_is_accessible(page, "home, signed in")

    # 2. 我的 → 我的学习: the certificate is listed, valid, with 「下载 PDF」
    page.locator('.tab-bar a[data-tab="mine"]').click()
    page.wait_for_url("**" + reverse("portal:mine"))
    fits_and_is_accessible(page, "我的")
    page.get_by_role("link", name="我的学习", exact=True).click()
    page.wait_for_url("**" + reverse("portal:my_learning"))
    fits_and_is_accessible(page, "我的学习")
    block = page.locator("section", has=page.locator("#certificates-title"))
    assert block.locator("[data-status]").first.get_attribute("data-status") == "valid"
    with page.expect_download() as download_info:
        block.get_by_role("link", name=re.compile(r"^下载 PDF")).first.click()
    download = download_info.value
    assert download.suggested_filename.endswith(f"{mine.code}.pdf")
    pdf = open(download.path(), "rb").read()
    assert pdf.startswith(b"%PDF")

    # 3. 我的证书 lists it with its code and the offline file (the same credential)
    page.get_by_role("link", name="全部证书和学分银行成绩单").click()
    page.wait_for_url("**" + reverse("certificates:mine"))
    fits_and_is_accessible(page, "我的证书")
    card = page.locator(f'[data-certificate="{mine.code}"]')
    assert card.locator("[data-code]").inner_text() == mine.code_display
    assert card.locator("[data-status]").get_attribute("data-status") == "valid"
    with page.expect_download() as download_info:
        card.get_by_role("link", name=re.compile(r"^离线验证文件")).click()
    offered = json.loads(open(download_info.value.path(), encoding="utf-8").read())

    # 4. the certificate names the guardian, never a phone or a child
    _assert_nothing_private(_pdf_text(pdf), w, where="the PDF")

    # 5. the QR code read from a rendering of the first page is the verification URL
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=3).to_pil()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == [verification_url(mine)]
    scanned = found[0].text
    assert scanned == f"{base}/v/{mine.code}/"

    # 6. which opens on a phone that never signed in: 有效, masked, nothing private
    public, verify_page = _public_page(browser, scanned)
    assert _status_shown(verify_page) == ("valid", "有效")
    fits_and_is_accessible(verify_page, "verification, valid")
    assert verify_page.locator("[data-holder]").inner_text() == "张*华"
    shown = verify_page.locator("body").inner_text()
    _assert_nothing_private(shown, w, where="the verification page")
    assert "张晓华" not in shown
    public.close()

    # 7. the credential in the PDF verifies with the command, and not with one
    # character changed
    credential = credential_from_pdf(pdf)
    assert credential == offered
    saved = tmp_path / "certificate.pdf"
    saved.write_bytes(pdf)
    listed = fresh_status_list(credential, tmp_path / "status-before.json")
    assert verify_exit(saved, "--status-list", listed) == 0
    signed = tmp_path / "credential.json"
    signed.write_text(json.dumps(credential, ensure_ascii=False), encoding="utf-8")
    assert verify_exit(signed, "--status-list", listed) == 0
    text = signed.read_text(encoding="utf-8")
    changed = text.replace("张*华", "张*明", 1)
    assert changed != text and len(changed) == len(text)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(changed, encoding="utf-8")
    assert verify_exit(tampered, "--status-list", listed) == 1
    parent.close()

    # 8. the coordinator signs in and revokes it: 证书管理 → 撤销 → reason → 确认撤销
    staff = browser.new_context(**PHONE_390)
    desk = staff.new_page()
    desk.goto(base + reverse("certificates:manage"))
    desk.wait_for_url("**/accounts/login/**")
    _sign_in(desk, coordinator.phone, COORDINATOR_PASSWORD)
    desk.wait_for_url("**" + reverse("certificates:manage"))
    desk.wait_for_selector("#list-title")
    fits_and_is_accessible(desk, "证书管理")
    row = desk.locator("li.card", has_text=mine.code_display)
    row.get_by_role("link", name=re.compile(r"^撤销")).click()
    desk.wait_for_url("**" + reverse("certificates:revoke", args=[mine.pk]))
    fits_and_is_accessible(desk, "撤销证书")
    desk.get_by_label("原因").fill("课程出勤记录有误，经核实后撤销")
    desk.get_by_role("button", name="确认撤销").click()
    desk.wait_for_url(f"**{reverse('certificates:manage')}?code={mine.code}")
    desk.wait_for_selector(f"text=证书 {mine.code_display} 已撤销")
    fits_and_is_accessible(desk, "证书管理, revoked")
    row = desk.locator("li.card", has_text=mine.code_display)
    assert row.locator("[data-status]").get_attribute("data-status") == "revoked"

    # then the verification page (opened anew) shows 已撤销 with the date, not the reason
    public, verify_page = _public_page(browser, scanned)
    assert _status_shown(verify_page) == ("revoked", "已撤销")
    fits_and_is_accessible(verify_page, "verification, revoked")
    shown = verify_page.locator("body").inner_text()
    revoked_on = timezone.localdate(Certificate.objects.get(pk=mine.pk).revoked_at)
    assert f"{revoked_on:%Y-%m-%d}" in shown
    assert "出勤记录" not in shown
    public.close()
    # and the command with a freshly fetched status list fails the status check
    fresh = fresh_status_list(credential, tmp_path / "status-after.json")
    assert verify_exit(saved, "--status-list", fresh) == 2
    assert verify_exit(signed, "--status-list", fresh) == 2

    # 9. the coordinator finds 李建国's by its code as typed from paper and re-issues it
    desk.locator("details.filters").evaluate("(d) => { d.open = true; }")
    desk.get_by_label("验证码").fill(theirs.code_display.lower())
    desk.get_by_role("button", name="筛选").click()
    desk.wait_for_url(re.compile(rf"[?&]code={re.escape(theirs.code_display.lower())}(&|$)"))
    row = desk.locator("li.card", has_text=theirs.code_display)
    row.get_by_role("link", name=re.compile(r"^重新发放")).click()
    desk.wait_for_url("**" + reverse("certificates:reissue", args=[theirs.pk]))
    fits_and_is_accessible(desk, "重新发放证书")
    desk.get_by_label("原因（选填）").fill("更正发证日期")
    desk.get_by_role("button", name="确认重新发放").click()
    theirs.refresh_from_db()
    assert theirs.status == Certificate.Status.SUPERSEDED
    new = theirs.superseded_by
    desk.wait_for_url(f"**{reverse('certificates:manage')}?code={new.code}")
    desk.wait_for_selector(f"text=新验证码 {new.code_display}")
    fits_and_is_accessible(desk, "证书管理, re-issued")
    staff.close()

    # then the old certificate's page says it was replaced and links to the new one
    public, verify_page = _public_page(browser, verification_url(theirs))
    assert _status_shown(verify_page) == ("superseded", "已被新证书替换")
    fits_and_is_accessible(verify_page, "verification, superseded")
    _assert_nothing_private(verify_page.locator("body").inner_text(), w, where="superseded")
    verify_page.locator(f'a[data-current="{new.code}"]').click()
    verify_page.wait_for_url(f"**/v/{new.code}/")
    verify_page.wait_for_selector("h2[data-status]")
    assert _status_shown(verify_page) == ("valid", "有效")
    fits_and_is_accessible(verify_page, "verification, the new one")
    assert verify_page.locator("[data-holder]").inner_text() == "李*国"
    _assert_nothing_private(verify_page.locator("body").inner_text(), w, where="the new one")
    public.close()
