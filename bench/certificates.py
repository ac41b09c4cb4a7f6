"""Certificates: a term-end batch worked by one real Celery worker, PDFs included,
and the public verification page's throughput against the bare view.

A synthetic alliance (its own base unit, parent school, course and a term that
ended yesterday) gives BENCH_CERTIFICATES families of the data set a credit each,
and a credits rule certifies them all. The clock runs from the batch's start
(``services.batch_start``, as the beat does) until every certificate of the batch
is issued, signed and has its PDF stored; the worker does all of it, in chunks of
BENCH_CERTIFICATES_CHUNK. Then gunicorn serves /v/<code>/ for those codes and
/bench/bare/ back to back. What issuing wrote is removed at the step's end (the synthetic alliance and its
credits stay for the next run: the credit ledger is append-only).
"""

from __future__ import annotations

import os
import time
from decimal import Decimal

from bench.catalogue import _mix_script, _server, gunicorn_rate
from bench.harness import ENV, CeleryWorkers, goal, notes, record, rss_mb

COUNT = int(os.environ.get("BENCH_CERTIFICATES", "400"))
CHUNK = int(os.environ.get("BENCH_CERTIFICATES_CHUNK", "100"))
DISTRICT = 40_000  # a district's term-end batch (the issue's figure)
TIMEOUT_S = int(os.environ.get("BENCH_CERTIFICATES_TIMEOUT", "1800"))
MARK = "bench-certificates"
SECTION = "certificates"

GOAL_RATE = "Term-end batch of a district (40,000 certificates, PDF included) ≤ 24 h on one worker"
GOAL_VERIFY = "Public verification page ≥ 25% of the bare view"
GOALS = [GOAL_RATE, GOAL_VERIFY]


def _world(count: int):
    """The synthetic alliance and its term; ``count`` families credited once each."""
    import datetime as dt

    from django.utils import timezone

    from certificates.models import CertificateRule
    from courses.models import Course, CreditEntry
    from members.models import Alliance, Family, Membership, MemberUnit, Region
    from parent_school.models import ParentSchool, Term

    today = timezone.localdate()
    term, _ = Term.objects.get_or_create(
        code=MARK[:20],
        defaults={
            "school_year": "2025–2026",
            "semester": Term.Semester.FIRST,
            "starts_on": today - dt.timedelta(days=120),
            "ends_on": today - dt.timedelta(days=1),
            "is_current": False,
        },
    )
    region = Region.objects.order_by("pk").first()
    unit, _ = MemberUnit.objects.get_or_create(
        code=MARK,
        defaults={
            "name": "压测证书发证中心",
            "kind": MemberUnit.Kind.GUIDANCE_CENTRE,
            "region": region,
        },
    )
    alliance, _ = Alliance.objects.get_or_create(
        name="压测证书联盟", defaults={"short_name": "压测", "base_unit": unit, "region": region}
    )
    Membership.objects.get_or_create(
        alliance=alliance, unit=unit, defaults={"role": Membership.Role.BASE}
    )
    school, _ = ParentSchool.objects.get_or_create(
        name="压测证书家长学校",
        host_unit=unit,
        defaults={"kind": ParentSchool.Kind.COMMUNITY, "region": region},
    )
    course, _ = Course.objects.get_or_create(
        parent_school=school,
        title="压测证书课程",
        defaults={"summary": "压测", "term": term, "credits": 1},
    )
    families = list(
        Family.objects.filter(guardians__user__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()[:count]
    )
    CreditEntry.objects.bulk_create(
        [
            CreditEntry(
                key=f"{MARK}:{family}",
                family_id=family,
                term=term,
                course=course,
                amount=Decimal("1"),
                reason=CreditEntry.Reason.ATTENDANCE,
            )
            for family in families
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    CertificateRule.objects.get_or_create(
        alliance=alliance, kind="credits", defaults={"credits_min": Decimal("1")}
    )
    return alliance, term, len(families)


def _undo() -> None:
    """Remove what issuing wrote (certificates, their PDFs and notices, batches).
    The synthetic alliance, term, course and credits stay for the next run: the
    credit ledger is append-only, by design."""
    from django.core.files.storage import default_storage

    from certificates.models import Certificate, CertificateBatch
    from events.models import Notice
    from members.models import Alliance

    alliance = Alliance.objects.filter(name="压测证书联盟").first()
    if alliance is None:
        return
    certificates = Certificate.objects.filter(alliance=alliance)
    for name in certificates.exclude(pdf="").values_list("pdf", flat=True):
        default_storage.delete(name)
    ids = list(certificates.values_list("pk", flat=True))
    Notice.objects.filter(key__in=[f"certificates.issued:{pk}" for pk in ids]).delete()
    certificates.update(superseded_by=None)
    certificates.delete()
    CertificateBatch.objects.filter(alliance=alliance).delete()


def _worker_rss(workers: CeleryWorkers) -> float:
    """The resident size of the worker's master and its one child, in MB."""
    from pathlib import Path

    total = 0.0
    for process, _name, _log in workers.processes:
        pids = [process.pid]
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        for pid in pids:
            try:
                total += rss_mb(pid)
            except (OSError, RuntimeError):
                pass
    return total


def _issue(alliance, term, count: int) -> list[str]:
    from alliance.celery import app
    from certificates import services
    from certificates.models import Certificate, CertificateBatch

    env = {**ENV, "CERTIFICATES_BATCH_CHUNK": str(CHUNK)}
    workers = CeleryWorkers(env)
    app.control.purge()
    try:
        workers.start("certs1")
        started = time.perf_counter()
        batch = services.batch_start(
            alliance=alliance, term=term, trigger=CertificateBatch.Trigger.TERM_END
        )
        peak = 0.0
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            batch.refresh_from_db()
            rendered = Certificate.objects.filter(batch=batch).exclude(pdf="").count()
            peak = max(peak, _worker_rss(workers))
            if batch.status == CertificateBatch.Status.FAILED:
                raise RuntimeError(f"the batch failed: {batch.error}")
            if batch.status == CertificateBatch.Status.DONE and rendered >= batch.issued:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"not done in {TIMEOUT_S} s: {batch.processed}/{batch.total} "
                    f"issued, {rendered} PDFs"
                )
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
    finally:
        workers.stop()
    issued_s = (batch.finished_at - batch.started_at).total_seconds()
    rows = Certificate.objects.filter(batch=batch)
    sizes = [row.pdf.size for row in rows.exclude(pdf="")[:50]]
    per_minute = batch.issued / elapsed * 60 if elapsed else 0.0
    command = (
        f"services.batch_start(term_end) → 1 celery worker (concurrency 1), "
        f"CERTIFICATES_BATCH_CHUNK={CHUNK}, until every PDF is stored (bench/certificates.py)"
    )
    record(
        SECTION,
        f"term-end batch of {batch.issued:,} certificates, issued + signed + PDF stored, "
        "one worker: wall time",
        f"{elapsed:.1f} s",
        command,
    )
    record(
        SECTION,
        "certificates per minute per worker, PDF included",
        f"{per_minute:,.0f}",
        command,
    )
    record(
        SECTION,
        f"first chunk's start to last chunk's end ({batch.total:,} candidates, chunks of "
        f"{CHUNK}; the one worker renders PDFs between chunks)",
        f"{issued_s:.1f} s",
        "CertificateBatch.finished_at − started_at",
    )
    if sizes:
        record(
            SECTION,
            "PDF size (mean of the first 50, font subset embedded)",
            f"{sum(sizes) / len(sizes) / 1024:.0f} KB",
            "Certificate.pdf.size",
        )
    record(
        SECTION,
        "worker's peak resident memory while it worked (master + child)",
        f"{peak:.0f} MB",
        "/proc/<pid>/status VmRSS, sampled every 0.5 s",
    )
    hours = DISTRICT / per_minute / 60 if per_minute else float("inf")
    record(
        SECTION,
        f"a district's {DISTRICT:,} certificates at this rate: one worker / four workers",
        f"{hours:.1f} h / {hours / 4:.1f} h",
        f"{DISTRICT:,} ÷ the per-minute figure above",
    )
    goal(GOAL_RATE, hours <= 24, f"{per_minute:,.0f} per minute: {hours:.1f} h for {DISTRICT:,}")
    if batch.issued != count:
        notes.append(f"certificates: {count:,} candidates, {batch.issued:,} issued")
    return list(rows.values_list("code", flat=True))


def _verification(codes: list[str]) -> None:
    from django.urls import reverse

    from bench.catalogue import WORKERS

    paths = [reverse("certificates:verify", args=[code]) for code in codes]
    with _server():
        bare = gunicorn_rate("bare view /bench/bare/", "/bench/bare/", section=SECTION)
        rate = gunicorn_rate(
            f"verification page /v/<code>/ ({len(paths)} codes at random)",
            paths[0],
            paths,
            _mix_script(paths),
            section=SECTION,
        )
    if not bare or not rate:
        notes.append("certificates: a throughput run had errors; the ratio is not decided")
        return
    ratio = rate / bare
    record(
        SECTION,
        f"verification page / bare view ({WORKERS} sync workers; goal ≥ 25%)",
        f"{ratio:.2%}",
        "ratio of the two runs above (the same gunicorn)",
    )
    goal(GOAL_VERIFY, ratio >= 0.25, f"{ratio:.2%} ({rate:,.1f} / {bare:,.0f} req/s)")


def bench_certificates() -> None:
    _undo()  # a run that stopped half-way
    try:
        alliance, term, count = _world(COUNT)
        if count == 0:
            notes.append("certificates: the data set has no families; not measured")
            return
        codes = _issue(alliance, term, count)
        _verification(codes)
    finally:
        _undo()
