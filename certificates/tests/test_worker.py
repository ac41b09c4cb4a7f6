"""A coordinator's batch run by a real Celery worker on the real Redis broker and
the test database: chunks re-enqueued until done, progress on the batch row,
every certificate signed and its PDF rendered by its own task."""

from __future__ import annotations

import pytest

from certificates import services
from certificates.models import Certificate, CertificateBatch, Kind
from certificates.tests.factories import CertificateRuleFactory
from certificates.tests.issuing_world import attend, build_issuing_world, guardian
from tests.helpers import wait_for


@pytest.fixture
def chunks_of_two(monkeypatch, settings):
    # Before the worker starts: it reads its settings from the environment.
    monkeypatch.setenv("CERTIFICATES_BATCH_CHUNK", "2")
    settings.CERTIFICATES_BATCH_CHUNK = 2


@pytest.mark.celery_worker
def test_the_worker_runs_a_manual_batch_to_done_and_renders_the_pdfs(
    chunks_of_two, celery_worker_process
):
    # given five families who attended both sessions of the course
    w = build_issuing_world()
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, lessons_required=False)
    families = [w.mum, w.dad] + [guardian("陈", f"{i}号", "", None)[0] for i in range(3)]
    for g in families:
        for session in w.sessions:
            attend(g, session)

    # when the coordinator starts a batch (chunks of two: three tasks, one after another)
    batch = services.batch_start(
        alliance=w.alliance,
        term=w.term,
        trigger=CertificateBatch.Trigger.MANUAL,
        user=w.coordinator,
    )

    # then the worker works it to done, and renders every PDF
    rows = CertificateBatch.objects.filter(pk=batch.pk)
    wait_for(lambda: rows.get().status == "done", timeout=120)
    batch.refresh_from_db()
    assert (batch.total, batch.processed, batch.issued, batch.skipped) == (5, 5, 5, 0)
    issued = Certificate.objects.filter(batch=batch)
    wait_for(lambda: not issued.filter(pdf="").exists(), timeout=120)
    assert issued.count() == 5
    for certificate in issued:
        assert certificate.credential
        assert certificate.pdf.name == f"certificates/pdf/{certificate.uuid}.pdf"
        with certificate.pdf.open("rb") as handle:
            assert handle.read(5) == b"%PDF-"
