"""Rate limits per token (or signed-in user) and per client address.

Fixed one-minute windows counted in the cache (Redis in production, shared by
every web process). Going over answers 429 with ``Retry-After``: the seconds
left in the window. The limits are settings (``API_RATE_PER_TOKEN``,
``API_RATE_PER_IP``: requests per minute); docs/API.md.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from .errors import ApiError

WINDOW_SECONDS = 60


def client_ip(request) -> str:
    # Behind nginx the address is the proxy's; production sets REMOTE_ADDR from
    # X-Real-IP at the proxy (deploy/nginx.conf), never from a client header.
    return request.META.get("REMOTE_ADDR") or "unknown"


def _hit(key: str, limit: int, now: float) -> int | None:
    """Count one request; the seconds to wait if over the limit, else None."""
    window = int(now // WINDOW_SECONDS)
    cache_key = f"api:rate:{key}:{window}"
    if cache.add(cache_key, 1, WINDOW_SECONDS + 5):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, WINDOW_SECONDS + 5)
            count = 1
    if count > limit:
        return max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
    return None


def rate_limit_check(request, *, principal: str | None) -> None:
    """Raise a 429 ``ApiError`` if this request is over a limit."""
    now = time.time()
    waits = [_hit(f"ip:{client_ip(request)}", settings.API_RATE_PER_IP, now)]
    if principal is not None:
        waits.append(_hit(principal, settings.API_RATE_PER_TOKEN, now))
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise ApiError("rate_limited", status=429, headers={"Retry-After": str(wait)}, seconds=wait)
