"""``Idempotency-Key``: a retried write gets the first answer, never a second effect.

Mobile networks drop answers, and clients retry. A write endpoint decorated with
``@idempotent`` and called with an ``Idempotency-Key`` header runs at most once
per (caller, key):

1. In one transaction, the row (caller, key) is inserted first. A second request
   with the same key that arrives while the first is still running waits on the
   unique index until the first commits, then reads its answer, so two
   simultaneous retries cannot both book.
2. The endpoint runs in a savepoint. Its answer, success or refusal, is stored in
   the row and committed with the change itself: either both are kept or neither.
3. A later request with the key and the same method, path and body gets the
   stored status and body (and ``Idempotent-Replayed: true``); a different
   request with the same key is refused (422, ``idempotency_key_reused``).
   The request is remembered by an HMAC under a key derived from the
   ``SECRET_KEY``, not a bare hash: a bare hash of a small body (an anonymous
   survey's five ratings) could be found by trying every body, and the row names
   its caller.

Without the header the endpoint simply runs. The decorated function returns
``(status, schema)``; the wrapper answers with the schema's JSON.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse

from .errors import ApiError
from .models import IdempotentRequest

HEADER = "Idempotency-Key"


def _owner(request) -> str:
    token = getattr(request, "api_token", None)
    if token is not None:
        return f"token:{token.pk}"
    return f"user:{request.user.pk}"


def _fingerprint(request) -> str:
    secret = hashlib.sha256(b"api.idempotency\0" + settings.SECRET_KEY.encode()).digest()
    digest = hmac.new(secret, digestmod=hashlib.sha256)
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.get_full_path().encode())
    digest.update(b"\0")
    if request.content_type == "multipart/form-data":
        # A form with a file (a handbook photo) is not kept in memory whole, and a
        # session's CSRF check may have read it already: its fields and files' bytes.
        for name, values in sorted(request.POST.lists()):
            digest.update(json.dumps([name, values], ensure_ascii=False).encode())
        for name, files in sorted(request.FILES.lists()):
            digest.update(name.encode())
            for upload in files:
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body or b"")
    return digest.hexdigest()


def _key(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 100 or not key.isprintable():
        raise ApiError("idempotency_key_bad", status=400, field=HEADER)
    return key


def _as_response(status: int, body, *, replayed: bool = False) -> JsonResponse:
    response = JsonResponse(
        body, status=status, safe=False, json_dumps_params={"ensure_ascii": False}
    )
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _dump(result) -> tuple[int, object]:
    status, data = result if isinstance(result, tuple) else (200, result)
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json", by_alias=True)
    return status, data


def idempotent(view):
    from .core import error_body  # the one error shape

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        key = _key(request)
        if key is None:
            return _as_response(*_dump(view(request, *args, **kwargs)))
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            row, created = IdempotentRequest.objects.get_or_create(
                owner=_owner(request), key=key, defaults={"fingerprint": fingerprint}
            )
            if not created:
                if row.fingerprint != fingerprint:
                    raise ApiError("idempotency_key_reused", status=422, field=HEADER)
                return _as_response(row.status, row.body, replayed=True)
            try:
                with transaction.atomic():
                    status, body = _dump(view(request, *args, **kwargs))
            except Exception as exc:  # a refusal is an answer too; anything else is not stored
                answer = error_body(request, exc)
                if answer is None:
                    raise
                status, body, _headers = answer
                if status >= 500 or status == 429:
                    raise
            row.status, row.body = status, body
            row.save(update_fields=["status", "body"])
        return _as_response(status, body)

    return wrapper
