"""Rate limits per token (or signed-in user) and per client address.

Fixed one-minute windows counted in the cache (Redis in production, shared by
every web process; both counters of a request in one pipelined round trip). Going over answers 429 with ``Retry-After``: the seconds
left in the window. The limits are settings (``API_RATE_PER_TOKEN``,
``API_RATE_PER_IP``: requests per minute); docs/API.md. With Redis down the
limits are off (fail open), never a 500 (alliance/cache.py).
"""

from __future__ import annotations

import time

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache

from .errors import ApiError

WINDOW_SECONDS = 60


def client_ip(request) -> str | None:
    """The caller's address as the pages find it: allauth's adapter, which trusts
    X-Forwarded-For only through ALLAUTH_TRUSTED_PROXY_COUNT proxies (behind nginx
    REMOTE_ADDR is the proxy's, which would put every caller under one limit)."""
    try:
        return get_adapter(request).get_client_ip(request)
    except Exception:  # a malformed proxy header must not break the answer
        return request.META.get("REMOTE_ADDR")


def _redis_client():
    """The cache's Redis client when the cache is Redis, else None (locmem in `make run`)."""
    get_client = getattr(getattr(cache, "_cache", None), "get_client", None)
    return get_client(write=True) if get_client is not None else None


def _pipelined_counts(client, names: list[str], window: int) -> list[int]:
    pipe = client.pipeline(transaction=False)
    for name in names:
        key = cache.make_key(f"api:rate:{name}:{window}")
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 5, nx=True)
    answers = pipe.execute()
    return [int(answers[i]) for i in range(0, len(answers), 2)]


def _counts(names: list[str], window: int) -> list[int]:
    """Count one request under each name in this window: one round trip to Redis."""
    client = _redis_client()
    if client is not None:
        guarded = getattr(cache, "guarded", None)
        if guarded is None:
            return _pipelined_counts(client, names, window)
        # Redis down (or skipped by the cache's breaker, logged once per opening):
        # every count reads 0, so nobody is limited. Failing open keeps the API
        # answering; docs/OPERATIONS.md, "outages".
        return guarded("api_rate_limit", [0] * len(names), _pipelined_counts, client, names, window)
    counts = []
    for name in names:
        key = f"api:rate:{name}:{window}"
        if cache.add(key, 1, WINDOW_SECONDS + 5):
            counts.append(1)
            continue
        try:
            counts.append(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.add(key, 1, WINDOW_SECONDS + 5)
            counts.append(1)
    return counts


def rate_limit_check(request, *, principal: str | None) -> None:
    """Raise a 429 ``ApiError`` if this request is over a limit."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    limits = [(f"ip:{client_ip(request) or 'unknown'}", settings.API_RATE_PER_IP)]
    if principal is not None:
        limits.append((principal, settings.API_RATE_PER_TOKEN))
    counts = _counts([name for name, _ in limits], window)
    if any(count > limit for count, (_, limit) in zip(counts, limits, strict=True)):
        wait = max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
        raise ApiError("rate_limited", status=429, headers={"Retry-After": str(wait)}, seconds=wait)
