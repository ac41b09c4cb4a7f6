"""Health checks for /healthz: the database, the cache, the Celery broker and migrations."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from kombu import Connection


def check_database() -> tuple[bool, str]:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # noqa: BLE001 - any failure means "down"
        return False, type(error).__name__
    return True, connections[DEFAULT_DB_ALIAS].vendor


def check_cache() -> tuple[bool, str]:
    try:
        cache.set("healthz", "ok", timeout=10)
        if cache.get("healthz") != "ok":
            return False, "read-back failed"
    except Exception as error:  # noqa: BLE001
        return False, type(error).__name__
    from django.core.cache import caches

    return True, caches["default"].__class__.__name__


def check_broker() -> tuple[bool, str]:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        from pathlib import Path

        return (Path(folder).is_dir(), "filesystem")
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # noqa: BLE001
        return False, type(error).__name__
    return True, url.split("://", 1)[0]


def check_migrations() -> tuple[bool, str]:
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:  # noqa: BLE001
        return False, type(error).__name__
    if plan:
        return False, f"{len(plan)} pending"
    return True, "up to date"


CHECKS = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "migrations": check_migrations,
}


def health_report() -> tuple[bool, dict]:
    report = {}
    healthy = True
    for name, check in CHECKS.items():
        ok, detail = check()
        report[name] = {"ok": ok, "detail": detail}
        healthy = healthy and ok
    return healthy, report
