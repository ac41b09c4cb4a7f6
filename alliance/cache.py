"""A Redis cache that keeps the portal serving while Redis is down.

Django's ``RedisCache`` raises on a refused or timed-out connection, and every
page that touches the cache (the shared catalogue, allauth's sign-in rate
limits through ``cache.add``, the API's rate limits) would answer 500.
:class:`TolerantRedisCache` treats an unreachable Redis as an empty cache that
forgets what it is given:

* ``get`` / ``get_many`` / ``has_key``: a miss (the default, ``{}``, False);
* ``set`` / ``delete`` / ``touch`` / ``clear``: nothing happens;
* ``add``: **True**. allauth and this portal use ``add`` as "first in this
  window" (rate limits, one-at-a-time kicks). Answering False would lock every
  caller out of sign-in for the whole outage; answering True lets requests
  through unthrottled. Availability wins: the limits are a brake on guessing,
  and the database-backed checks (passwords, codes held in the DB session,
  handbook limits) still apply. docs/OPERATIONS.md, "outages".
* ``incr`` / ``decr``: ``ValueError``, what Django raises for a missing key.

A per-process circuit breaker keeps a dead Redis from costing every request a
connect timeout: after a failure the cache is skipped for ``BREAKER_SECONDS``
(``OPTIONS["breaker_seconds"]``, default 5), then the next call tries again and
either closes the breaker (logged once) or opens it for another period. One
warning is logged per opening, naming the operation and the error class, never
a key, a value or the URL's password.

Writers that must know their write landed (a texted code whose content waits
in the cache) call :func:`cache_set_or_raise`, which raises
:class:`CacheUnavailable` instead of forgetting.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import structlog
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

logger = structlog.get_logger("alliance.cache")

BREAKER_SECONDS = 5.0


class CacheUnavailable(Exception):
    """The cache cannot be reached (Redis down or the breaker open)."""


def _connection_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    # BusyLoadingError (Redis loading its dump after a restart) is a ConnectionError.
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class _Breaker:
    """Open/closed state per Redis location, shared by the process's threads
    (Django makes one cache object per thread, so the state cannot live on it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until: dict[str, float] = {}

    def is_open(self, location: str) -> bool:
        until = self._open_until.get(location)
        return until is not None and time.monotonic() < until

    def was_tripped(self, location: str) -> bool:
        return location in self._open_until

    def trip(self, location: str, seconds: float) -> bool:
        """Open the breaker; True when it was closed (the caller logs then)."""
        with self._lock:
            first = location not in self._open_until
            self._open_until[location] = time.monotonic() + seconds
            return first

    def close(self, location: str) -> bool:
        """Close it; True when it was open or half-open (the caller logs then)."""
        with self._lock:
            return self._open_until.pop(location, None) is not None

    def reset(self) -> None:
        """Forget every state (tests)."""
        with self._lock:
            self._open_until.clear()


breaker = _Breaker()


def _server_name(location) -> str:
    """host:port/db of the first server, without user or password, for logs."""
    first = location[0] if isinstance(location, list | tuple) else str(location).split(",")[0]
    parts = urlsplit(first)
    return f"{parts.hostname or ''}:{parts.port or ''}{parts.path or ''}"


class TolerantRedisCache(RedisCache):
    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        self.breaker_seconds = float(options.pop("breaker_seconds", BREAKER_SECONDS))
        params["OPTIONS"] = options
        super().__init__(server, params)
        self._location = _server_name(server)
        self._errors = _connection_errors()

    # --- the breaker ---------------------------------------------------------

    def available(self) -> bool:
        """False while the breaker is open; otherwise one PING decides."""
        if breaker.is_open(self._location):
            return False
        try:
            self._cache.get_client(write=True).ping()
        except self._errors as error:
            self._failed("ping", error)
            return False
        self._succeeded()
        return True

    def _failed(self, operation: str, error: BaseException) -> None:
        if breaker.trip(self._location, self.breaker_seconds):
            logger.warning(
                "cache_unavailable",
                operation=operation,
                error=type(error).__name__,
                server=self._location,
                retry_in_seconds=self.breaker_seconds,
            )

    def _succeeded(self) -> None:
        if breaker.was_tripped(self._location) and breaker.close(self._location):
            logger.info("cache_recovered", server=self._location)

    def guarded(self, operation: str, missing, function, *args, **kwargs):
        """``function(*args, **kwargs)`` under the breaker: ``missing`` when Redis
        is down or skipped (for callers that use the raw client, api.ratelimit)."""
        return self._call(operation, missing, function, *args, **kwargs)

    def _call(self, operation: str, missing, function, *args, **kwargs):
        if breaker.is_open(self._location):
            return missing
        try:
            answer = function(*args, **kwargs)
        except self._errors as error:
            self._failed(operation, error)
            return missing
        self._succeeded()
        return answer

    # --- the cache API -----------------------------------------------------

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", True, super().add, key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # Django's contract: the keys that were not stored.
        return self._call("set_many", list(data), super().set_many, data, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, super().has_key, key, version)

    def delete(self, key, version=None):
        return self._call("delete", False, super().delete, key, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", None, super().delete_many, keys, version)

    def touch(self, key, timeout=None, version=None):
        return self._call("touch", False, super().touch, key, timeout, version)

    def clear(self):
        return self._call("clear", False, super().clear)

    def incr(self, key, delta=1, version=None):
        answer = self._call("incr", _MISSING, super().incr, key, delta, version)
        if answer is _MISSING:
            raise ValueError("Key not found (the cache is unavailable).")
        return answer

    # ``decr`` is ``incr(-delta)`` in BaseCache; ``get_or_set`` is get + add + get.

    def set_strict(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> None:
        """``set`` that raises :class:`CacheUnavailable` instead of forgetting."""
        if breaker.is_open(self._location):
            raise CacheUnavailable("the cache is unavailable")
        try:
            super().set(key, value, timeout, version)
        except self._errors as error:
            self._failed("set", error)
            raise CacheUnavailable("the cache is unavailable") from error
        self._succeeded()


_MISSING = object()


def cache_set_or_raise(key, value, timeout, *, alias: str = "default") -> None:
    """Store ``value`` or raise :class:`CacheUnavailable`: for a caller whose
    reader would otherwise find nothing (members.adapters, texted codes).
    Any other backend (local memory in ``make run``) is a plain ``set``."""
    from django.core.cache import caches

    backend = caches[alias]
    if isinstance(backend, TolerantRedisCache):
        backend.set_strict(key, value, timeout)
    else:
        backend.set(key, value, timeout)


def cache_available(*, alias: str = "default") -> bool:
    """Whether the cache answers now (always True for a non-Redis backend)."""
    from django.core.cache import caches

    backend = caches[alias]
    return backend.available() if isinstance(backend, TolerantRedisCache) else True
