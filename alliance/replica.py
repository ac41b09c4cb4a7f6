"""Which work reads from the read replica (issue 19, docs/OPERATIONS.md "read replica").

Only the views named in ``REPLICA_READ_VIEWS`` (coordinator dashboards and export
downloads, GET/HEAD), the exports named in ``REPLICA_READ_EXPORT_VIEWS`` (POST: each
records its audit entry on the primary, then only reads) and the Celery tasks named
in ``REPLICA_READ_TASKS`` read from it; everything else, bookings above all, reads
and writes on the primary (alliance/db_router.py). Without ``DATABASE_REPLICA_URL``
all of this does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.utils import InterfaceError, OperationalError
from django.urls import Resolver404, resolve

from alliance import db_router

SAFE_METHODS = ("GET", "HEAD")


def _replica_view(request) -> bool:
    if request.method in SAFE_METHODS:
        names = settings.REPLICA_READ_VIEWS
    elif request.method == "POST":
        names = settings.REPLICA_READ_EXPORT_VIEWS
    else:
        return False
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.view_name in names


def replica_stream(chunks: Iterable) -> Iterator:
    """A streamed body (a CSV export) produced chunk by chunk from the replica: the
    body is read after the view and the middleware have returned."""
    iterator = iter(chunks)
    while True:
        with db_router.reading_from_replica():
            try:
                chunk = next(iterator)
            except StopIteration:
                return
        yield chunk


class ReplicaReadMiddleware:
    """Last in MIDDLEWARE: the session and the signed-in user are read on the
    primary (a session saved a moment ago may not have reached the replica), then
    the view reads from the replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not db_router.replica_configured() or not _replica_view(request):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None:
            user.is_authenticated  # noqa: B018 (loads the session and the user here)
        try:
            with db_router.reading_from_replica() as used:
                response = self.get_response(request)
        except (OperationalError, InterfaceError):
            # The replica went away during a read-only page: answer it from the
            # primary. A POST export is not repeated (its audit entry is written).
            if not used or request.method not in SAFE_METHODS or db_router.replica_usable():
                raise
            return self.get_response(request)
        if used and response.streaming and not hasattr(response, "file_to_stream"):
            response.streaming_content = replica_stream(response.streaming_content)
        return response


_task_tokens: dict[str, object] = {}


def _task_prerun(sender=None, task_id=None, task=None, **kwargs):
    name = getattr(task, "name", None) or getattr(sender, "name", "")
    if task_id is None or name not in settings.REPLICA_READ_TASKS:
        return
    if not db_router.replica_configured():
        return
    manager = db_router.reading_from_replica()
    manager.__enter__()
    _task_tokens[task_id] = manager


def _task_postrun(sender=None, task_id=None, **kwargs):
    manager = _task_tokens.pop(task_id, None)
    if manager is not None:
        manager.__exit__(None, None, None)


def connect_celery_signals() -> None:
    """Tasks in ``REPLICA_READ_TASKS`` run reading from the replica (prerun to postrun
    run in the same thread, so the context variable is the task's own)."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_prerun, weak=False, dispatch_uid="alliance.replica.prerun")
    task_postrun.connect(_task_postrun, weak=False, dispatch_uid="alliance.replica.postrun")
