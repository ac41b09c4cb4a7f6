"""The coordinators' certificate pages (certificates.staff_views): scoped lists with
filters, the batch button and its progress, revoking and re-issuing; families are
refused, foreign ids are 404, a POST for another alliance writes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certificates.models import Certificate, CertificateBatch, Kind
from certificates.tests.factories import (
    CertificateBatchFactory,
    CertificateFactory,
    CertificateRuleFactory,
)
from certificates.tests.issuing_world import build_issuing_world
from members.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_issuing_world()


def _cert(w, *, unit=None, alliance=None, guardian=None, **extra) -> Certificate:
    guardian = guardian or w.mum
    return CertificateFactory(
        alliance=alliance or w.alliance,
        unit=unit or w.school,
        term=w.term,
        guardian=guardian,
        holder_name=f"{guardian.user.last_name}{guardian.user.first_name}",
        **extra,
    )


def _urls(certificate_id: int, batch_id: int) -> list[str]:
    return [
        reverse("certificates:manage"),
        reverse("certificates:batch_start"),
        reverse("certificates:batch", args=[batch_id]),
        reverse("certificates:revoke", args=[certificate_id]),
        reverse("certificates:reissue", args=[certificate_id]),
    ]


def test_families_are_refused_and_visitors_sent_to_sign_in(client, w):
    certificate = _cert(w)
    batch = CertificateBatchFactory(alliance=w.alliance, term=w.term)
    for url in _urls(certificate.pk, batch.pk):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    client.force_login(w.mum.user)
    for url in _urls(certificate.pk, batch.pk):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"reason": "x", "alliance": w.alliance.pk}).status_code == 403
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.VALID
    assert CertificateBatch.objects.count() == 1


def test_the_list_shows_the_coordinators_certificates_without_phones(
    client, w, django_assert_max_num_queries
):
    mine = _cert(w)
    theirs = _cert(w, alliance=w.other_alliance, unit=w.other_school, guardian=w.dad)
    client.force_login(w.coordinator)

    body = client.get(reverse("certificates:manage")).content.decode()

    assert mine.code_display in body and "张晓华" in body
    assert theirs.code_display not in body and "李建国" not in body
    for phone in w.phones():
        assert phone not in body
    assert "开始发放" in body  # an alliance coordinator issues

    # a page of twenty costs what a page of one does
    for _ in range(25):
        _cert(w)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("certificates:manage"))
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == 20


def test_filters_and_the_code_as_typed_from_paper(client, w):
    course = _cert(w)
    credits = _cert(w, kind=Kind.CREDITS, subject_title="学分达标", guardian=w.dad)
    client.force_login(w.coordinator)
    url = reverse("certificates:manage")

    def codes(query):
        response = client.get(url, query)
        assert response.status_code == 200
        return {c.code for c in response.context["page_obj"].object_list}

    assert codes({"kind": "credits"}) == {credits.code}
    assert codes({"code": course.code_display.lower()}) == {course.code}
    assert codes({"code": f" {course.code[:5]} "}) == {course.code}
    assert codes({"status": "revoked"}) == set()
    assert codes({"alliance": w.alliance.pk, "term": w.term.pk}) == {course.code, credits.code}
    # a value that is not a choice is left out, never an error page
    assert codes({"alliance": "99999999999999999999", "term": "x", "kind": "<b>"}) == {
        course.code,
        credits.code,
    }


def test_a_unit_coordinator_sees_the_units_certificates_and_has_no_batch_button(client, w):
    school_cert = _cert(w)
    base_cert = _cert(w, unit=w.base, guardian=w.dad)
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    client.force_login(w.unit_coordinator)

    body = client.get(reverse("certificates:manage")).content.decode()

    assert school_cert.code_display in body and base_cert.code_display not in body
    assert "开始发放" not in body
    response = client.post(
        reverse("certificates:batch_start"), {"alliance": w.alliance.pk, "term": w.term.pk}
    )
    assert response.status_code == 403
    assert client.get(reverse("certificates:revoke", args=[base_cert.pk])).status_code == 404
    assert client.get(reverse("certificates:revoke", args=[school_cert.pk])).status_code == 200
    assert not CertificateBatch.objects.exists()


def test_the_button_starts_one_manual_batch_and_shows_its_progress(client, w):
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    client.force_login(w.coordinator)
    data = {"alliance": w.alliance.pk, "term": w.term.pk}

    response = client.post(reverse("certificates:batch_start"), data)

    batch = CertificateBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("certificates:batch", args=[batch.pk])
    assert (batch.trigger, batch.status, batch.requested_by) == ("manual", "queued", w.coordinator)
    assert AuditLog.objects.filter(action="certificates.batch.start", actor=w.coordinator).exists()
    # pressed again while it is open: the same batch
    again = client.post(reverse("certificates:batch_start"), data)
    assert again["Location"] == response["Location"] and CertificateBatch.objects.count() == 1

    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "排队中" in body and 'http-equiv="refresh"' in body
    as_json = client.get(response["Location"], {"format": "json"}).json()
    assert as_json == {"status": "queued", "total": 0, "processed": 0, "issued": 0, "skipped": 0}

    batch.status, batch.total, batch.processed, batch.issued = "done", 4, 4, 3
    batch.skipped = 1
    batch.save()
    body = client.get(response["Location"]).content.decode()
    assert "已完成" in body and 'http-equiv="refresh"' not in body and "100%" in body


def test_a_post_for_another_alliance_or_without_rules_writes_nothing(client, w):
    CertificateRuleFactory(alliance=w.other_alliance, kind=Kind.COURSE)
    client.force_login(w.coordinator)

    foreign = client.post(
        reverse("certificates:batch_start"), {"alliance": w.other_alliance.pk, "term": w.term.pk}
    )
    assert foreign.status_code == 400
    assert "请从列表中选择联盟" in foreign.content.decode()

    no_rules = client.post(
        reverse("certificates:batch_start"), {"alliance": w.alliance.pk, "term": w.term.pk}
    )
    assert no_rules.status_code == 400
    assert "还没有启用的证书规则" in no_rules.content.decode()
    bad = client.post(reverse("certificates:batch_start"), {"alliance": "x", "term": ""})
    assert bad.status_code == 400
    assert not CertificateBatch.objects.exists()


def test_another_alliances_batch_and_certificate_are_not_found(client, w):
    batch = CertificateBatchFactory(alliance=w.other_alliance, term=w.term)
    certificate = _cert(w, alliance=w.other_alliance, unit=w.other_school)
    client.force_login(w.coordinator)
    assert client.get(reverse("certificates:batch", args=[batch.pk])).status_code == 404
    for name in ("certificates:revoke", "certificates:reissue"):
        url = reverse(name, args=[certificate.pk])
        assert client.get(url).status_code == 404
        assert client.post(url, {"reason": "错发"}).status_code == 404
    certificate.refresh_from_db()
    assert certificate.status == "valid"
    assert not Certificate.objects.filter(key=certificate.key, revision=2).exists()


def test_revoking_needs_a_reason_and_then_the_list_shows_it_revoked(client, w):
    certificate = _cert(w)
    client.force_login(w.coordinator)
    url = reverse("certificates:revoke", args=[certificate.pk])

    empty = client.post(url, {"reason": "  "})
    assert empty.status_code == 400 and "请填写原因" in empty.content.decode()
    too_long = client.post(url, {"reason": "错" * 201})
    assert too_long.status_code == 400 and "原因最多 200 个字" in too_long.content.decode()
    certificate.refresh_from_db()
    assert certificate.status == "valid"

    done = client.post(url, {"reason": "课程出勤记录有误"})

    assert done.status_code == 302
    certificate.refresh_from_db()
    assert certificate.status == "revoked" and certificate.revoked_by == w.coordinator
    body = client.get(done["Location"]).content.decode()
    assert "已撤销" in body and certificate.code_display in body
    # once revoked, neither can be done again
    again = client.post(url, {"reason": "再撤一次"})
    assert again.status_code == 400 and "只有有效的证书" in again.content.decode()
    reissue = client.post(reverse("certificates:reissue", args=[certificate.pk]), {})
    assert reissue.status_code == 400
    assert Certificate.objects.filter(key=certificate.key).count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_starts_a_batch_and_revokes_on_a_phone(live_server, browser):
    from tests.phone import fits_and_is_accessible, signed_in_phone

    w = build_issuing_world()
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.CREDITS, credits_min=50)
    certificate = _cert(w)
    context, page = signed_in_phone(browser, live_server, w.coordinator)
    try:
        page.goto(f"{live_server.url}{reverse('certificates:manage')}")
        fits_and_is_accessible(page, "manage")
        assert certificate.code_display in page.content()

        # the batch (nobody reaches 50 credits): its progress page, done
        page.locator("#id_term").select_option(str(w.term.pk))
        page.get_by_role("button", name="开始发放").click()
        page.wait_for_url("**/certificates/manage/batches/*/")
        fits_and_is_accessible(page, "batch")
        page.wait_for_function("() => document.body.innerText.includes('已完成')", timeout=15000)

        # revoke the certificate with a reason
        page.goto(f"{live_server.url}{reverse('certificates:revoke', args=[certificate.pk])}")
        fits_and_is_accessible(page, "revoke")
        page.get_by_label("原因").fill("课程出勤记录有误")
        page.get_by_role("button", name="确认撤销").click()
        page.wait_for_url("**/certificates/manage/?code=*")
        fits_and_is_accessible(page, "after revoke")
        assert "已撤销" in page.content()
    finally:
        context.close()
    certificate.refresh_from_db()
    assert certificate.status == "revoked"
    assert CertificateBatch.objects.get().status == "done"
