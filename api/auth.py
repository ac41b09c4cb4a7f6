"""Who is calling: a token (``Authorization: Bearer alp_…``), else the site's
own session (with its CSRF check on writes), else nobody.

One class decides for every endpoint, so the rules stay in one place:

- a bad, expired or revoked token is refused at once (401), never treated as
  anonymous; tokens are looked up by their SHA-256 hash on every request, so a
  revocation takes effect on the next request;
- a token carries scopes (``read``, ``write``, ``checkin``); a session has all
  of them, as the pages do;
- a *device* token acts only for check-in, for its own unit
  (``require_device_unit``);
- every request counts towards the rate limits (api/ratelimit.py).

Endpoints then ask ``require_scope(request, "write")``; what the user may see
or change is decided by ``members/access.py`` and the services, as for pages.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from ninja.security import HttpBearer
from ninja.utils import check_csrf

from members.models import ApiToken
from members.selectors import api_token_for_key
from members.services import api_token_touch

from .errors import ApiError
from .ratelimit import rate_limit_check

SESSION_SCOPES = frozenset(ApiToken.Scope.values)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class PortalAuth(HttpBearer):
    """Token or session; with ``required=False`` anonymous callers pass as well."""

    openapi_scheme = "bearer"

    def __init__(self, *, required: bool = True):
        self.required = required
        super().__init__()

    def __call__(self, request):
        request.api_token = None
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, raw = header.partition(" ")
            if scheme.lower() != "bearer" or not raw.strip():
                raise ApiError("token_invalid", status=401, headers={"WWW-Authenticate": "Bearer"})
            token = api_token_for_key(raw.strip())
            if token is None:
                rate_limit_check(request, principal=None)
                raise ApiError("token_invalid", status=401, headers={"WWW-Authenticate": "Bearer"})
            rate_limit_check(request, principal=f"token:{token.pk}")
            api_token_touch(token=token)
            request.api_token = token
            request.user = token.user
            request.api_scopes = frozenset(token.scope_list)
            return token
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            rate_limit_check(request, principal=f"user:{user.pk}")
            if request.method not in SAFE_METHODS:
                csrf_failure = check_csrf(request)
                if csrf_failure:
                    raise ApiError("forbidden", status=403)
            request.api_scopes = SESSION_SCOPES
            return user
        rate_limit_check(request, principal=None)
        request.user = AnonymousUser()
        request.api_scopes = frozenset()
        if self.required:
            raise ApiError("unauthenticated", status=401, headers={"WWW-Authenticate": "Bearer"})
        return True

    def authenticate(self, request, token):  # pragma: no cover - __call__ decides
        return None


signed_in = PortalAuth(required=True)
anyone = PortalAuth(required=False)


def require_scope(request, scope: str) -> None:
    """Refuse (403) a token without ``scope``; device tokens only ever check in."""
    token = getattr(request, "api_token", None)
    if token is not None and token.kind == ApiToken.Kind.DEVICE and scope != "checkin":
        raise ApiError("device_forbidden", status=403)
    if scope not in getattr(request, "api_scopes", frozenset()):
        label = dict(ApiToken.Scope.choices).get(scope, scope)
        raise ApiError("scope_missing", status=403, scope=label)


def device_unit_id(request) -> int | None:
    """The unit a device token is bound to, or None for a person's token or session."""
    token = getattr(request, "api_token", None)
    if token is not None and token.kind == ApiToken.Kind.DEVICE:
        return token.unit_id
    return None


def require_device_unit(request, unit_id: int | None) -> None:
    """A device token may act only for its own unit's sessions and events."""
    bound = device_unit_id(request)
    if bound is not None and bound != unit_id:
        raise ApiError("device_other_unit", status=403)
