"""Serving a lesson's uploaded files (video, poster) from a view, with HTTP ranges.

Browsers fetch a <video> in byte ranges (``Range: bytes=…``) and cannot seek
without them. In the embedded default Django answers ranges itself (206 Partial
Content, ``Content-Range``, 416 for a range outside the file); behind nginx
(docker-compose) the view only decides who may see the file and hands it over
with ``X-Accel-Redirect`` under ``MEDIA_ACCEL_REDIRECT_PREFIX``, and nginx serves
the ranges. Either way the access check stays in Django and the media folder is
never listed.

With the media on S3-compatible storage (``MEDIA_S3_BUCKET``, the settings) the
file has no local path: after the same check the view answers a 302 to a signed
URL of the object that lives a few minutes, and the bucket serves the bytes and
the ranges; the objects themselves are private.
"""

from __future__ import annotations

import mimetypes
import os
import re
from urllib.parse import quote

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import http_date, parse_http_date_safe

CHUNK_BYTES = 64 * 1024
# Lesson files change only by uploading a new file (a new name); the page's
# access rule may change, so browsers keep them privately and for an hour.
CACHE_CONTROL = "private, max-age=3600"
_SPEC = re.compile(r"^(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The Range header asks for no byte of the file (answered with 416)."""


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte asked for, or None for the whole file.

    One range is served as asked. Several ranges (multipart answers) are allowed
    by RFC 9110 to be answered with the whole file, which is what this does. A
    unit other than bytes is ignored. A malformed or unsatisfiable byte range
    raises RangeNotSatisfiable.
    """
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    ranges = []
    for spec in specs.split(","):
        match = _SPEC.match(spec.strip())
        if match is None or match.group(1) == match.group(2) == "":
            raise RangeNotSatisfiable
        first, last = match.groups()
        if first == "":  # the last N bytes
            length = int(last)
            if length == 0 or size == 0:
                raise RangeNotSatisfiable
            ranges.append((max(size - length, 0), size - 1))
            continue
        start = int(first)
        end = int(last) if last else size - 1
        if end < start or start >= size:
            raise RangeNotSatisfiable
        ranges.append((start, min(end, size - 1)))
    return ranges[0] if len(ranges) == 1 else None


def _read(path: str, first: int, last: int):
    with open(path, "rb") as handle:
        handle.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _accel_response(
    fieldfile, content_type: str, cache_control: str, disposition: str
) -> HttpResponse:
    # nginx keeps Content-Type, Content-Disposition and Cache-Control from this
    # answer and serves the bytes and the ranges itself (it adds Accept-Ranges; a
    # second one from here would be repeated).
    response = HttpResponse(content_type=content_type)
    prefix = settings.MEDIA_ACCEL_REDIRECT_PREFIX.rstrip("/")
    response["X-Accel-Redirect"] = f"{prefix}/{quote(fieldfile.name)}"
    response["Cache-Control"] = cache_control
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _stored_remotely(fieldfile) -> bool:
    """The file lives in a storage without local files (S3): Django's
    ``Storage.path`` raises NotImplementedError there. A stand-in without a
    storage (an export's file, reports/views.py) is local."""
    storage = getattr(fieldfile, "storage", None)
    if storage is None:
        return False
    try:
        storage.path(fieldfile.name)
    except NotImplementedError:
        return True
    return False


def _signed_redirect(
    request, fieldfile, content_type: str, cache_control: str, disposition: str
) -> HttpResponse:
    # The bucket answers with the type, disposition (a download's file name) and
    # caching the local answer would have had, through S3's response-* overrides;
    # a URL signed for GET does not admit HEAD, hence the method.
    url = fieldfile.storage.url(
        fieldfile.name,
        parameters={
            "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition,
            "ResponseCacheControl": cache_control,
        },
        http_method="HEAD" if request.method == "HEAD" else "GET",
    )
    response = HttpResponseRedirect(url)
    # The signed URL is this user's for a few minutes: no cache may keep or share it.
    response["Cache-Control"] = "private, no-store"
    return response


def file_response(
    request,
    fieldfile,
    *,
    cache_control: str = CACHE_CONTROL,
    disposition: str = "inline",
) -> HttpResponse:
    """The file of a FileField as the answer to a GET or HEAD, honouring Range.
    Every protected file of the portal (lesson videos, a post's picture, a
    handbook photo, a certificate's PDF) leaves through here, after its view has
    checked who may see it; ``cache_control`` says how long a browser keeps it,
    ``disposition`` is the Content-Disposition (a download passes its
    ``attachment; filename=…``, which must be given here to survive the redirect
    to S3)."""
    if not fieldfile:
        raise Http404
    content_type = mimetypes.guess_type(fieldfile.name)[0] or "application/octet-stream"
    if _stored_remotely(fieldfile):
        return _signed_redirect(request, fieldfile, content_type, cache_control, disposition)
    if settings.MEDIA_ACCEL_REDIRECT_PREFIX:
        return _accel_response(fieldfile, content_type, cache_control, disposition)
    try:
        path = fieldfile.path
        stat = os.stat(path)
    except (NotImplementedError, ValueError, OSError) as error:
        raise Http404 from error
    size = stat.st_size
    etag = f'"{size:x}-{int(stat.st_mtime):x}"'
    last_modified = http_date(stat.st_mtime)

    def headers(response):
        response["Accept-Ranges"] = "bytes"
        response["ETag"] = etag
        response["Last-Modified"] = last_modified
        response["Cache-Control"] = cache_control
        response["Content-Disposition"] = disposition
        response["X-Content-Type-Options"] = "nosniff"
        return response

    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        return headers(HttpResponse(status=304))

    wanted = None
    header = request.headers.get("Range", "")
    if header and _if_range_holds(request.headers.get("If-Range"), etag, stat.st_mtime):
        try:
            wanted = byte_range(header, size)
        except RangeNotSatisfiable:
            response = HttpResponse(status=416, content_type="text/plain; charset=utf-8")
            response["Content-Range"] = f"bytes */{size}"
            return headers(response)

    first, last = wanted if wanted else (0, size - 1)
    length = last - first + 1 if size else 0
    if request.method == "HEAD":
        response = HttpResponse(content_type=content_type)
    else:
        response = StreamingHttpResponse(
            _read(path, first, last) if length else iter(()), content_type=content_type
        )
    if wanted:
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(length)
    return headers(response)


def _if_range_holds(if_range: str | None, etag: str, mtime: float) -> bool:
    """Without If-Range a range is always served; with it, only while the file is
    the one the browser has part of (same ETag or not modified since)."""
    if not if_range:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return if_range == etag
    since = parse_http_date_safe(if_range)
    return since is not None and int(mtime) <= since
