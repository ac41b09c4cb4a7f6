"""The JSON API, version 1: ``/api/v1/`` (docs/API.md).

django-ninja builds the OpenAPI 3 schema (``/api/v1/schema/``) and serves the
browsable docs (``/api/v1/docs/``) from its own packaged Swagger UI files,
through the site's static files: no CDN. Endpoints live in one module per area
(``api/catalogue.py``, ``api/learning.py`` …) and call the same services and
selectors as the pages; this module only wires them up and turns every error
into the one JSON shape.
"""

from __future__ import annotations

import logging

from csp.decorators import csp_update
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as SchemaValidationError

from bookings.errors import BookingError
from courses.errors import CourseError
from events.errors import EventError
from members.errors import MembersError
from members.privacy import person_name

from .auth import anyone, device_unit_id
from .errors import MESSAGES, ApiError

logger = logging.getLogger(__name__)

# Each app's one exception base: a broken rule, with its message ready to show.
RULE_ERRORS: tuple[type[Exception], ...] = (MembersError, BookingError, CourseError, EventError)
# Rule codes that mean "no such thing (for you)": answered 404, like the pages.
NOT_FOUND_SUFFIXES = ("_missing", "_not_found")

api = NinjaAPI(
    title="协同育人门户 API",
    version="1",
    description=(
        "家校社协同育人门户的开放接口，供微信小程序、签到设备和区内其他系统使用。"
        "说明见 docs/API.md。"
    ),
    urls_namespace="api-v1",
    openapi_url="/schema/",
    docs_url="/docs/",
    # Swagger UI's stylesheet draws its icons as data: images; the site's policy
    # allows images from the portal only, so the docs page (and its schema) alone
    # also allow data: images. Its scripts are the packaged files: script-src stays.
    docs_decorator=csp_update({"img-src": ["data:"]}),
    auth=anyone,
)


def register_rule_errors(*errors: type[Exception]) -> None:
    """Feature apps' exception bases join the rule errors (their ``code`` and ``message``)."""
    global RULE_ERRORS
    RULE_ERRORS = RULE_ERRORS + tuple(e for e in errors if e not in RULE_ERRORS)


def _schema_fields(exc: SchemaValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors:
        loc = [
            str(part)
            for part in error.get("loc", ())
            if part not in ("body", "query", "path", "payload", "data")
        ]
        name = ".".join(loc) or "body"
        kind = error.get("type", "")
        message = MESSAGES["field_required"] if kind == "missing" else MESSAGES["field_invalid"]
        fields.setdefault(name, str(message))
    return fields


def error_body(request, exc: Exception) -> tuple[int, dict, dict] | None:
    """(status, body, headers) for an error the API answers itself, else None."""
    if isinstance(exc, ApiError):
        body = {"code": exc.code, "message": str(exc.message), "fields": exc.fields}
        return exc.status, body, exc.headers
    if isinstance(exc, RULE_ERRORS):
        code = exc.code
        status = 404 if code.endswith(NOT_FOUND_SUFFIXES) else 400
        headers = {}
        if code == "busy":
            status, headers = 503, {"Retry-After": "2"}
        fields = dict(getattr(exc, "fields", None) or {})
        field = getattr(exc, "field", None)  # an app's error naming its one field
        if isinstance(field, str) and field and not fields:
            fields[field] = str(exc.message)
        return status, {"code": code, "message": str(exc.message), "fields": fields}, headers
    if isinstance(exc, (MultiPartParserError, RequestDataTooBig)):
        # A broken or oversized form body (a photo upload cut off mid-way).
        return 400, {"code": "invalid", "message": str(MESSAGES["invalid"]), "fields": {}}, {}
    if isinstance(exc, SchemaValidationError):
        body = {
            "code": "invalid",
            "message": str(MESSAGES["invalid"]),
            "fields": _schema_fields(exc),
        }
        return 422, body, {}
    if isinstance(exc, ValidationError):
        if hasattr(exc, "message_dict"):
            fields = {
                name: " ".join(str(m) for m in msgs) for name, msgs in exc.message_dict.items()
            }
        else:
            fields = {}
        message = " ".join(str(m) for m in exc.messages) or str(MESSAGES["invalid"])
        return 400, {"code": "invalid", "message": message, "fields": fields}, {}
    if isinstance(exc, AuthenticationError):
        body = {
            "code": "unauthenticated",
            "message": str(MESSAGES["unauthenticated"]),
            "fields": {},
        }
        return 401, body, {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, Http404):
        return 404, {"code": "not_found", "message": str(MESSAGES["not_found"]), "fields": {}}, {}
    if isinstance(exc, PermissionDenied):
        return 403, {"code": "forbidden", "message": str(MESSAGES["forbidden"]), "fields": {}}, {}
    if isinstance(exc, HttpError):
        code = {400: "invalid", 403: "forbidden", 404: "not_found", 405: "not_allowed"}.get(
            exc.status_code, "error"
        )
        return exc.status_code, {"code": code, "message": str(exc.message), "fields": {}}, {}
    return None


@api.exception_handler(Exception)
def _every_error(request, exc: Exception):
    answer = error_body(request, exc)
    if answer is None:
        logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
        answer = (
            500,
            {"code": "server_error", "message": _(str(MESSAGES["server_error"])), "fields": {}},
            {},
        )
    status, body, headers = answer
    response = api.create_response(request, body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


# django-ninja has its own handlers for Http404, HttpError and its ValidationError,
# and the most specific handler wins: send them to the one error shape too.
for _ninja_handled in (Http404, HttpError, SchemaValidationError):
    api.add_exception_handler(_ninja_handled, _every_error)


class MeOut(Schema):
    """Who the API sees: the signed-in person (or the device) and what the credential may do."""

    signed_in: bool
    name: str | None = None
    scopes: list[str]
    token_kind: str | None = None
    device_unit_id: int | None = None


@api.get("/me", response=MeOut, tags=["auth"], summary="当前身份与权限")
def me(request):
    token = getattr(request, "api_token", None)
    user = request.user
    return MeOut(
        signed_in=user.is_authenticated,
        name=person_name(user) if user.is_authenticated else None,
        scopes=sorted(request.api_scopes),
        token_kind=token.kind if token is not None else None,
        device_unit_id=device_unit_id(request),
    )


def _mount_routers() -> None:
    # One router per area; each module's ``router`` is mounted under its prefix.
    from . import (
        catalogue,
        certificates,
        community,
        events,
        family,
        groups,
        guidance,
        handbook,
        learning,
        notifications,
        staff,
        surveys,
        tokens,
        wechat,
    )

    for prefix, module in (
        ("/catalogue", catalogue),
        ("/certificates", certificates),
        ("/community", community),
        ("/groups", groups),
        ("/guidance", guidance),
        ("/learning", learning),
        ("/events", events),
        ("/family", family),
        ("/handbook", handbook),
        ("/notifications", notifications),
        ("/staff", staff),
        ("/surveys", surveys),
        ("/tokens", tokens),
        ("/wechat", wechat),
    ):
        api.add_router(prefix, module.router)


_mount_routers()
