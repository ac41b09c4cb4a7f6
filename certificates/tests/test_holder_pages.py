"""The holder's pages (我的证书, downloads, the child-nickname choice) and the
public verification pages (/v/…): what a holder may open, and what anyone who
scans the QR code sees: the masked name, reason, term, issuer and status; never
a phone, a child, or why a certificate was revoked."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from certificates import services
from certificates.credentials import credential_verify
from certificates.models import Certificate, CertificatePreference
from certificates.tests.issuing_world import (
    build_issuing_world,
    mums_course_certificate,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_issuing_world()


@pytest.fixture
def issued(w):
    """张晓华's course certificate, with her child's nickname on it (she opted in)."""
    certificate = mums_course_certificate(w)
    assert certificate.child_nickname == "小雨点"
    return certificate


def _text(response) -> str:
    return response.content.decode()


def _private_bits(w) -> list[str]:
    phone = w.mum.user.phone
    return [phone, phone[-4:] + "", "张晓华", "小雨点", w.mum_child.nickname]


def test_my_certificates_lists_the_familys_and_downloads_the_pdf(client, w, issued):
    client.force_login(w.mum.user)
    page = client.get(reverse("certificates:mine"))
    assert page.status_code == 200
    assert issued.code_display in _text(page)

    download = client.get(reverse("certificates:pdf", args=[issued.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"%PDF")

    credential = client.get(reverse("certificates:credential", args=[issued.pk]))
    assert credential.status_code == 200
    assert credential_verify(credential.json()).ok


def test_another_familys_certificate_is_not_found(client, w, issued):
    client.force_login(w.dad.user)
    assert issued.code_display not in _text(client.get(reverse("certificates:mine")))
    for name in ("pdf", "credential"):
        assert client.get(reverse(f"certificates:{name}", args=[issued.pk])).status_code == 404


def test_the_pages_need_a_sign_in_and_a_post(client, issued):
    answer = client.get(reverse("certificates:mine"))
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
    client.force_login(issued.user)
    assert client.get(reverse("certificates:transcript")).status_code == 405
    assert client.get(reverse("certificates:preference")).status_code == 405


def test_the_verification_page_shows_valid_and_the_masked_name_only(client, w, issued):
    page = client.get(reverse("certificates:verify", args=[issued.code]))

    assert page.status_code == 200
    html = _text(page)
    assert 'data-status="valid"' in html and "有效" in html
    assert "张*华" in html
    assert "亲子沟通的艺术" in html and w.term.__str__() in html
    assert w.base.name in html or w.school.name in html
    assert w.alliance.name in html
    for private in _private_bits(w):
        assert private not in html
    assert not re.search(r"1\d{10}", html)  # no phone number at all
    assert page["X-Robots-Tag"].startswith("noindex")


def test_the_code_as_typed_from_paper_finds_the_one_address(client, issued):
    typed = issued.code_display.lower()
    answer = client.get(reverse("certificates:verify", args=[typed]))
    assert answer.status_code == 301
    assert answer["Location"] == reverse("certificates:verify", args=[issued.code])

    home = client.get(reverse("certificates:verify_home"), {"code": f" {typed} "})
    assert home.status_code == 302
    assert home["Location"] == reverse("certificates:verify", args=[issued.code])


def test_an_unknown_code_is_a_404_with_the_form_again(client, issued):
    for answer in (
        client.get(reverse("certificates:verify", args=["ZZZZZ99999"])),
        client.get(reverse("certificates:verify_home"), {"code": "ZZZZZ-99999"}),
    ):
        assert answer.status_code == 404
        html = _text(answer)
        assert "没有找到这个验证码的证书" in html and 'name="code"' in html


def test_a_revoked_certificate_shows_the_date_and_not_the_reason(client, w, issued):
    services.certificate_revoke(user=w.coordinator, certificate=issued, reason="出勤记录有误")
    revoked = Certificate.objects.get(pk=issued.pk)

    html = _text(client.get(reverse("certificates:verify", args=[issued.code])))

    assert 'data-status="revoked"' in html and "已撤销" in html
    assert revoked.revoked_at.astimezone().strftime("%Y") in html
    assert "出勤记录有误" not in html


def test_a_reissued_certificate_points_at_the_current_one_along_the_chain(client, w, issued):
    second = services.certificate_reissue(user=w.coordinator, certificate=issued)
    third = services.certificate_reissue(user=w.coordinator, certificate=second)

    html = _text(client.get(reverse("certificates:verify", args=[issued.code])))

    assert 'data-status="superseded"' in html and "已被新证书替换" in html
    assert f'data-current="{third.code}"' in html
    assert reverse("certificates:verify", args=[third.code]) in html
    current = _text(client.get(reverse("certificates:verify", args=[third.code])))
    assert 'data-status="valid"' in current


def test_the_public_credential_is_the_signed_one(client, issued):
    answer = client.get(reverse("certificates:verify_credential", args=[issued.code]))
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == "*"
    assert answer.json() == Certificate.objects.get(pk=issued.pk).credential
    assert credential_verify(answer.json()).ok
    lower = reverse("certificates:verify_credential", args=[issued.code.lower()])
    assert client.get(lower).status_code == 404


def test_the_family_chooses_whether_the_childs_nickname_is_printed(client, w):
    client.force_login(w.dad.user)
    client.post(reverse("certificates:preference"), {"child_nickname_shown": "1"})
    assert CertificatePreference.objects.get(family=w.dad.family).child_nickname_shown
    client.post(reverse("certificates:preference"), {})
    assert not CertificatePreference.objects.get(family=w.dad.family).child_nickname_shown
    assert CertificatePreference.objects.filter(family=w.dad.family).count() == 1


def test_my_learning_shows_the_newest_certificates(client, w, issued):
    client.force_login(w.mum.user)
    html = _text(client.get(reverse("portal:my_learning")))
    assert "我的证书" in html
    assert reverse("certificates:pdf", args=[issued.pk]) in html
    assert reverse("certificates:mine") in html


def test_the_list_is_a_constant_number_of_queries(client, w, issued, django_assert_max_num_queries):
    from certificates.tests.factories import CertificateFactory

    client.force_login(w.mum.user)
    client.get(reverse("certificates:mine"))  # warm the session and caches
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("certificates:mine"))
    for _ in range(15):
        CertificateFactory(guardian=w.mum, alliance=w.alliance, unit=w.base)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("certificates:mine"))
    assert _text(page).count("data-certificate=") == 16


def test_scanners_share_one_copy_until_the_status_changes(
    client, w, issued, django_assert_num_queries, django_capture_on_commit_callbacks
):
    url = reverse("certificates:verify", args=[issued.code])
    first = client.get(url)
    assert 'data-status="valid"' in _text(first)

    # a second scanner is answered from the shared copy, without the database
    with django_assert_num_queries(0):
        again = client.get(url)
    assert again.content == first.content and again["Cache-Control"].startswith("public")

    # a revocation drops it after the commit: the next scanner sees 已撤销 at once
    with django_capture_on_commit_callbacks(execute=True):
        services.certificate_revoke(user=w.coordinator, certificate=issued, reason="重复")
    assert 'data-status="revoked"' in _text(client.get(url))


def test_a_signed_in_visitor_is_never_given_the_shared_copy(client, w, issued):
    url = reverse("certificates:verify", args=[issued.code])
    client.get(url)  # anonymous: shared
    client.force_login(w.dad.user)
    page = _text(client.get(url))
    assert "退出" in page  # their own header, not the anonymous one


def test_the_mine_page_leads_parents_and_coordinators_to_their_certificate_pages(client, w):
    client.force_login(w.mum.user)
    page = _text(client.get(reverse("portal:mine")))
    assert reverse("certificates:mine") in page
    assert reverse("certificates:manage") not in page
    client.force_login(w.coordinator)
    assert reverse("certificates:manage") in _text(client.get(reverse("portal:mine")))
