"""Issue 18's Done-when without the holder's pages (the browser walk is
test_done_when.py): a family that finished a course gets its certificate from the
coordinator's batch; the QR code read from a rendering of the PDF's first page is
the verification URL; the credential inside the PDF verifies with
``certificate_verify`` against the status list fetched from the running server,
and fails with one character changed; after a revocation the command with a fresh
status list exits 2."""

from __future__ import annotations

import pypdfium2
import pytest
import zxingcpp

from certificates import services
from certificates.credentials import credential_from_pdf, verification_url
from certificates.models import Certificate, CertificateBatch

from .issuing_world import build_issuing_world, finish_course
from .verifying import fresh_status_list, verify_exit

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_pdf_verifies_offline_and_a_revocation_fails_the_status_check(
    live_server, settings, tmp_path
):
    # given a family that attended every session and finished the lesson, and the
    # coordinator's batch (the links point at this server)
    settings.PORTAL_BASE_URL = live_server.url
    w = build_issuing_world()
    finish_course(w, w.mum)
    services.rule_update(user=w.coordinator, alliance=w.alliance, kind="course")
    batch = services.batch_start(
        alliance=w.alliance,
        term=w.term,
        trigger=CertificateBatch.Trigger.MANUAL,
        user=w.coordinator,
    )
    while services.batch_run_chunk(batch_id=batch.pk):
        pass
    mine = services.certificate_pdf_ensure(Certificate.objects.get(family=w.mum.family))
    with mine.pdf.open("rb") as handle:
        pdf = handle.read()

    # when the QR code on the first page is read
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=3).to_pil()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)

    # then it is the certificate's verification URL for life
    assert [r.text for r in found] == [verification_url(mine)]
    assert verification_url(mine) == f"{live_server.url}/v/{mine.code}/"

    # and the PDF (and the credential it carries) verifies against the live list
    saved = tmp_path / "certificate.pdf"
    saved.write_bytes(pdf)
    credential = credential_from_pdf(pdf)
    assert credential == mine.credential
    listed = fresh_status_list(credential, tmp_path / "status-1.json")
    assert verify_exit(saved, "--status-list", listed) == 0
    signed = tmp_path / "credential.json"
    signed.write_bytes(_json(credential))
    assert verify_exit(signed, "--status-list", listed) == 0

    # and one character changed fails the signature
    text = signed.read_text(encoding="utf-8")
    changed = text.replace("张*华", "张*明", 1)
    assert changed != text
    tampered = tmp_path / "tampered.json"
    tampered.write_text(changed, encoding="utf-8")
    assert verify_exit(tampered, "--status-list", listed) == 1

    # when the coordinator revokes it, a fresh status list fails the status check
    services.certificate_revoke(user=w.coordinator, certificate=mine, reason="重复发放")
    fresh = fresh_status_list(credential, tmp_path / "status-2.json")
    assert verify_exit(saved, "--status-list", fresh) == 2
    assert verify_exit(signed, "--status-list", fresh) == 2
    # (the old list, saved before, still says valid: a verifier must fetch it anew)
    assert verify_exit(signed, "--status-list", listed) == 0


def _json(document: dict) -> bytes:
    import json

    return json.dumps(document, ensure_ascii=False).encode("utf-8")
