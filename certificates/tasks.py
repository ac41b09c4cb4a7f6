"""Celery tasks of the certificates app: thin wrappers that take ids and call
certificates.services. Each is safe to run twice (acks_late): issuing is once
per key, a chunk skips what is issued, a render replaces the same file."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services
from .errors import CertificateError

logger = logging.getLogger(__name__)

#: A chunk that found the database busy tries again this many seconds later.
BUSY_RETRY_SECONDS = 10


@shared_task(acks_late=True, ignore_result=True)
def certificates_term_end() -> list[int]:
    """The beat entry (daily 05:10): start the term-end batch of every alliance
    with active rules whose term ended lately, once per alliance and term; each
    batch's first chunk is queued after its commit."""
    return services.term_end_batches()


@shared_task(acks_late=True, ignore_result=True)
def batch_run(batch_id: int) -> None:
    """One chunk of a batch; queues the next while more remains. A chunk that
    fails marks the batch failed (its transaction wrote nothing; a new batch
    skips what earlier chunks issued)."""
    try:
        more = services.batch_run_chunk(batch_id=batch_id)
    except CertificateError as error:
        if error.code != "busy":
            raise
        batch_run.apply_async((batch_id,), countdown=BUSY_RETRY_SECONDS)
        return
    except Exception as error:
        logger.exception("certificate batch %s failed", batch_id)
        services.batch_fail(batch_id=batch_id, error=f"{type(error).__name__}: {error}")
        raise
    if more:
        batch_run.delay(batch_id)


@shared_task(acks_late=True, ignore_result=True)
def certificate_render(certificate_id: int) -> None:
    """Render and store one certificate's PDF (queued after its issue commits)."""
    try:
        services.certificate_render(certificate_id=certificate_id)
    except CertificateError as error:  # deleted meanwhile
        logger.info("certificate %s not rendered: %s", certificate_id, error.code)
