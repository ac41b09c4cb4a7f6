"""The coordinators' dashboards, read from the snapshots."""

from __future__ import annotations

import time

from bench.harness import (
    notes,
    record,
)

# --- 1b. the coordinators' dashboards on the snapshots ------------------------------------


def bench_dashboards() -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from members.models import RoleAssignment
    from reports.models import ParticipationSnapshot

    admin = RoleAssignment.objects.filter(role="district_admin").select_related("user").first()
    alliance = (
        RoleAssignment.objects.filter(role="alliance_coordinator").select_related("user").first()
    )
    snapshot = ParticipationSnapshot.objects.filter(parent_school__isnull=False).first()
    if admin is None or snapshot is None:
        notes.append("dashboards: no coordinator or no snapshot yet; not measured.")
        return
    pages = [
        (admin.user, "district admin", "/reports/"),
        (alliance.user if alliance else admin.user, "alliance coordinator", "/reports/"),
        (admin.user, "district admin", f"/reports/units/{snapshot.unit_id}/"),
        (admin.user, "district admin", f"/reports/parent-schools/{snapshot.parent_school_id}/"),
    ]
    for user, role, url in pages:
        client = Client()
        client.force_login(user)
        client.get(url)  # warm
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            status = client.get(url).status_code
        record(
            "dashboards",
            f"GET {url} as {role} (status {status}): queries / time",
            f"{len(ctx.captured_queries)} / {(time.perf_counter() - started) * 1000:.0f} ms",
            "django.test.Client + CaptureQueriesContext (scripts/bench.py)",
        )

    # The freshness line: with a change waiting for its pass, the page says so in
    # the same number of queries (the figures' one aggregate answers both).
    from django.utils import timezone

    from reports.models import SnapshotMark

    mark = SnapshotMark.objects.create(
        term_id=snapshot.term_id,
        unit_id=snapshot.unit_id,
        parent_school_key=snapshot.parent_school_key,
        period=snapshot.period if snapshot.period != "term" else "2000-01",
        marked_at=timezone.now(),
    )
    try:
        client = Client()
        client.force_login(admin.user)
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/reports/")
        elapsed = time.perf_counter() - started
        pending = "刚才的变化正在计入" in response.content.decode()
    finally:
        mark.delete()
    record(
        "dashboards",
        f"GET /reports/ as district admin with a change waiting for its pass "
        f"(says so: {'yes' if pending else 'NO'}): queries / time",
        f"{len(ctx.captured_queries)} / {elapsed * 1000:.0f} ms",
        "same as above, one SnapshotMark of a shown unit present",
    )
