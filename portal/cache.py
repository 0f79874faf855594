"""The portal's Redis cache, which carries on in this process's memory while Redis is gone.

The default cache holds the sign-in limits (allauth) and the API throttles (DRF). With
Django's own RedisCache, a Redis that cannot be reached turns every sign-in and every API
call into a 500: the limits would take the portal down with them. This backend answers
such an operation from a cache in this process's memory instead, so the limits still hold
per process (a gunicorn worker counts alone) rather than not at all, and logs a warning.

After a failure it stops asking Redis for ``OUTAGE_RETRY_SECONDS`` (5 by default), so that
a request makes at most one slow attempt rather than one per cache operation; then it
tries Redis again and, once it answers, uses it as before. Counts kept in memory during
the outage are not copied back: for the length of an outage a client may get up to one
allowance per process, which is the price of staying up.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cached_property
from typing import Any

import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

DEFAULT_OUTAGE_RETRY_SECONDS = 5.0
# One warning per process per this many seconds while Redis stays away.
WARNING_INTERVAL_SECONDS = 60.0
# The memory cache is a stopgap, yet it must hold a count for every client of an outage.
FALLBACK_MAX_ENTRIES = 10_000

# Per process, shared by every thread's instance of the cache (Django makes one per thread):
# cache name -> time.monotonic() until which Redis is not asked.
_outage_until: dict[str, float] = {}
_last_warning: dict[str, float] = {}
_state_lock = threading.Lock()

_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


class FallbackRedisCache(RedisCache):
    """Django's RedisCache; on a connection error or timeout, this process's memory."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        self.outage_retry_seconds = float(
            options.pop("OUTAGE_RETRY_SECONDS", DEFAULT_OUTAGE_RETRY_SECONDS)
        )
        super().__init__(server, {**params, "OPTIONS": options})
        # The servers name the state, never the URL itself in a log line: it may hold a
        # password.
        self._name = f"{','.join(self._servers)}|{self.key_prefix}"

    @cached_property
    def _fallback(self) -> LocMemCache:
        # LocMemCache instances of one name share their storage within the process.
        return LocMemCache(
            f"portal-fallback-{self._name}",
            {
                "TIMEOUT": self.default_timeout,
                "KEY_PREFIX": self.key_prefix,
                "VERSION": self.version,
                "KEY_FUNCTION": self.key_func,
                "OPTIONS": {"MAX_ENTRIES": FALLBACK_MAX_ENTRIES},
            },
        )

    def is_degraded(self) -> bool:
        """True while this process answers from memory instead of Redis."""
        with _state_lock:
            return _outage_until.get(self._name, 0.0) > time.monotonic()

    def _either(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if not self.is_degraded():
            try:
                result = getattr(super(), name)(*args, **kwargs)
            except _UNREACHABLE as exc:
                self._went_away(exc)
            else:
                self._came_back()
                return result
        return getattr(self._fallback, name)(*args, **kwargs)

    def _went_away(self, exc: Exception) -> None:
        now = time.monotonic()
        with _state_lock:
            _outage_until[self._name] = now + self.outage_retry_seconds
            warn = now - _last_warning.get(self._name, -WARNING_INTERVAL_SECONDS) >= (
                WARNING_INTERVAL_SECONDS
            )
            if warn:
                _last_warning[self._name] = now
        if warn:
            # The error's class and words (a host and port, never a password); no URL.
            logger.warning(
                "The cache's Redis cannot be reached (%s: %s): sign-in limits and API "
                "throttles count in this process's memory until it answers again.",
                type(exc).__name__,
                str(exc)[:200],
            )

    def _came_back(self) -> None:
        if self._name not in _outage_until:
            return
        with _state_lock:
            was_down = _outage_until.pop(self._name, None) is not None
            _last_warning.pop(self._name, None)
        if was_down:
            logger.info("The cache's Redis answers again: limits are shared again.")

    # Every operation Django's cache API builds on; get_or_set, decr and the async variants
    # call these.

    def add(self, *args: Any, **kwargs: Any) -> bool:
        return self._either("add", *args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("get", *args, **kwargs)

    def set(self, *args: Any, **kwargs: Any) -> None:
        return self._either("set", *args, **kwargs)

    def touch(self, *args: Any, **kwargs: Any) -> bool:
        return self._either("touch", *args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        return self._either("delete", *args, **kwargs)

    def get_many(self, *args: Any, **kwargs: Any) -> dict:
        return self._either("get_many", *args, **kwargs)

    def has_key(self, *args: Any, **kwargs: Any) -> bool:
        return self._either("has_key", *args, **kwargs)

    def incr(self, *args: Any, **kwargs: Any) -> int:
        return self._either("incr", *args, **kwargs)

    def set_many(self, *args: Any, **kwargs: Any) -> list:
        return self._either("set_many", *args, **kwargs)

    def delete_many(self, *args: Any, **kwargs: Any) -> None:
        return self._either("delete_many", *args, **kwargs)

    def clear(self) -> Any:
        return self._either("clear")


def forget_outages() -> None:
    """Ask Redis again at the next operation (tests)."""
    with _state_lock:
        _outage_until.clear()
        _last_warning.clear()
