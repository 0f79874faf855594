"""AWS's limits for IAM Identity Center, enforced for the whole fleet.

AWS counts calls per account, not per worker: 20 transactions per second for sso-admin
(one budget shared by all its operations), at most 15 account-assignment creations
outstanding and at most 3 concurrent ``ProvisionPermissionSet``. However many Celery
workers run, they must stay inside those numbers together, so the state lives in Redis
(``settings.PROVISIONING_REDIS_URL``). With no Redis (the embedded default: one process
tree, one worker) the same classes keep their state in this process.

Two primitives:

- ``RateLimiter``: a sliding-window log. A token bucket is not enough: a full bucket of 20
  at t=0 plus its refills could let 40 calls through within one second, which AWS would
  throttle. The log keeps the time of every grant in the window and lets a call go only
  when fewer than ``rate`` grants are younger than ``window``.
- ``Semaphore``: slots with leases. A worker that dies while holding a slot would leak it
  for ever, so every slot carries a deadline; expired slots are reclaimed by the next
  caller. A holder that needs longer calls ``refresh``.

In Redis each operation is one Lua script, so it is atomic across the fleet, and it reads
the time with Redis ``TIME``: one clock for every worker, whatever their own clocks say.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings

DEFAULT_PREFIX = "portal:limits:"

# AWS counts requests as they arrive, on its clock; ours leave a few milliseconds after
# the grant, with jitter (thread scheduling, connection set-up). Spacing windows by this
# margin keeps "at most rate in any window" true at the receiving end, for about 5% of
# throughput at 20 TPS.
DEFAULT_RATE_MARGIN_SECONDS = 0.05

# Longest a slot is held without ``refresh``: a crashed worker's slot comes back after this.
DEFAULT_LEASE_SECONDS = 300.0

# Polling interval bounds for ``Semaphore.acquire``: short enough that a freed slot is
# reused within a fraction of an assignment's typical second, long enough not to load Redis.
_SEMAPHORE_POLL_MIN = 0.01
_SEMAPHORE_POLL_MAX = 0.1


class LimiterUnavailable(Exception):
    """The shared store of the limits (Redis) cannot be reached: a transient condition."""


# --- Lua scripts ------------------------------------------------------------------------

# KEYS[1] sorted set of grant-id -> grant time (µs, Redis clock)
# ARGV: rate, window (µs), n, unique grant-id prefix
# Returns 0 when the n grants were recorded, else microseconds to wait before asking again.
_RATE_SCRIPT = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count + n <= rate then
  for i = 1, n do
    redis.call('ZADD', key, now, ARGV[4] .. ':' .. i)
  end
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
  return 0
end
-- The call may go once enough of the oldest grants have left the window.
local e = redis.call('ZRANGE', key, count + n - rate - 1, count + n - rate - 1, 'WITHSCORES')
local wait = tonumber(e[2]) + window - now
if wait < 1 then wait = 1 end
return wait
"""

# KEYS[1] sorted set of token -> lease deadline (µs, Redis clock)
# ARGV: limit, lease (µs), token
# Returns 1 when the token now holds a slot, else 0.
_SEMAPHORE_ACQUIRE_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now + lease, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(lease / 1000) + 1000)
  return 1
end
return 0
"""

# KEYS[1] as above; ARGV: lease (µs), token. Returns 1 when the lease was extended,
# 0 when the token no longer holds a slot (released, or its lease ran out).
_SEMAPHORE_REFRESH_SCRIPT = """
local key = KEYS[1]
local lease = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZSCORE', key, ARGV[2]) then
  redis.call('ZADD', key, 'XX', now + lease, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(lease / 1000) + 1000)
  return 1
end
return 0
"""

# KEYS[1] as above. Returns the number of slots held (expired leases cleaned first).
_SEMAPHORE_COUNT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""

_US = 1_000_000

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _redis_client(url: str) -> redis.Redis:
    # One pool per URL per process; redis-py's pool notices a fork and reconnects, so a
    # Celery prefork child does not share sockets with its parent.
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
            _clients[url] = client
        return client


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise LimiterUnavailable(f"the limits store (Redis) cannot be reached: {exc}") from exc


# --- In-process state -------------------------------------------------------------------
# Shared by every RateLimiter/Semaphore of the same key in this process, so that threads
# of the embedded worker that build their own instances still share one budget.


class _LocalWindow:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.grants: deque[float] = deque()


class _LocalSlots:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.leases: dict[str, float] = {}

    def clean(self, now: float) -> None:
        for token in [t for t, deadline in self.leases.items() if deadline <= now]:
            del self.leases[token]


_local_windows: dict[str, _LocalWindow] = {}
_local_slots: dict[str, _LocalSlots] = {}
_local_lock = threading.Lock()


def _local_window(key: str) -> _LocalWindow:
    with _local_lock:
        return _local_windows.setdefault(key, _LocalWindow())


def _local_slot_state(key: str) -> _LocalSlots:
    with _local_lock:
        return _local_slots.setdefault(key, _LocalSlots())


# --- RateLimiter ------------------------------------------------------------------------


class RateLimiter:
    """At most ``rate`` acquisitions in any sliding window of ``window`` seconds.

    With ``redis_url`` the limit holds across every process using the same Redis and key;
    without it, across the threads of this process.
    """

    def __init__(
        self,
        name: str,
        *,
        rate: int,
        window: float = 1.0,
        margin: float = 0.0,
        redis_url: str = "",
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        if rate < 1:
            raise ValueError("rate must be at least 1")
        if window <= 0 or margin < 0:
            raise ValueError("window must be positive and margin not negative")
        self.name = name
        self.rate = rate
        self.window = window
        self.margin = margin
        self.key = f"{prefix}rate:{name}"
        self.redis_url = redis_url
        # The window actually enforced: the stated one plus the safety margin.
        self._span = window + margin
        if redis_url:
            self._redis = _redis_client(redis_url)
            self._script = self._redis.register_script(_RATE_SCRIPT)
        else:
            self._local = _local_window(self.key)

    def __repr__(self) -> str:
        backend = "redis" if self.redis_url else "local"
        return f"<RateLimiter {self.name} {self.rate}/{self.window}s {backend}>"

    def try_acquire(self, n: int = 1) -> float:
        """Take ``n`` grants now if the window allows; return 0.0, or seconds to wait."""
        if not 1 <= n <= self.rate:
            raise ValueError(f"n must be between 1 and the rate ({self.rate})")
        if self.redis_url:
            with _redis_errors():
                wait_us = self._script(
                    keys=[self.key],
                    args=[self.rate, int(self._span * _US), n, uuid.uuid4().hex],
                )
            return int(wait_us) / _US
        state = self._local
        with state.lock:
            now = time.monotonic()
            while state.grants and state.grants[0] <= now - self._span:
                state.grants.popleft()
            count = len(state.grants)
            if count + n <= self.rate:
                state.grants.extend([now] * n)
                return 0.0
            return max(state.grants[count + n - self.rate - 1] + self._span - now, 1e-6)

    def acquire(self, n: int = 1, *, timeout: float | None = None) -> None:
        """Block until ``n`` calls may go; raise ``TimeoutError`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = self.try_acquire(n)
            if wait == 0.0:
                return
            # A little jitter so that waiters released by the same expiry do not all ask
            # at the same instant and lose together.
            wait += random.uniform(0, 0.005)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"rate limiter {self.name}: no capacity within {timeout}s")
                wait = min(wait, left)
            time.sleep(wait)

    def reset(self) -> None:
        """Forget every grant (tests and operators only)."""
        if self.redis_url:
            with _redis_errors():
                self._redis.delete(self.key)
        else:
            with self._local.lock:
                self._local.grants.clear()


# --- Semaphore --------------------------------------------------------------------------


class Semaphore:
    """At most ``limit`` slots held at once; each slot is a lease of ``lease_seconds``.

    With ``redis_url`` the limit holds across every process using the same Redis and key;
    without it, across the threads of this process.
    """

    def __init__(
        self,
        name: str,
        *,
        limit: int,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        redis_url: str = "",
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.name = name
        self.limit = limit
        self.lease_seconds = lease_seconds
        self.key = f"{prefix}semaphore:{name}"
        self.redis_url = redis_url
        if redis_url:
            self._redis = _redis_client(redis_url)
            self._acquire_script = self._redis.register_script(_SEMAPHORE_ACQUIRE_SCRIPT)
            self._refresh_script = self._redis.register_script(_SEMAPHORE_REFRESH_SCRIPT)
            self._count_script = self._redis.register_script(_SEMAPHORE_COUNT_SCRIPT)
        else:
            self._local = _local_slot_state(self.key)

    def __repr__(self) -> str:
        backend = "redis" if self.redis_url else "local"
        return f"<Semaphore {self.name} {self.limit} {backend}>"

    def try_acquire(self) -> str | None:
        """A token for a free slot, or None when every slot is held."""
        token = uuid.uuid4().hex
        if self.redis_url:
            with _redis_errors():
                got = self._acquire_script(
                    keys=[self.key], args=[self.limit, int(self.lease_seconds * _US), token]
                )
            return token if int(got) == 1 else None
        state = self._local
        with state.cond:
            now = time.monotonic()
            state.clean(now)
            if len(state.leases) < self.limit:
                state.leases[token] = now + self.lease_seconds
                return token
            return None

    def acquire(self, timeout: float | None = None) -> str:
        """Wait for a slot and return its token; ``TimeoutError`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = _SEMAPHORE_POLL_MIN
        while True:
            token = self.try_acquire()
            if token is not None:
                return token
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"semaphore {self.name}: no slot free within {timeout}s")
            wait = pause * random.uniform(0.5, 1.5)
            if left is not None:
                wait = min(wait, left)
            if self.redis_url:
                # Slots are freed by other processes: poll, backing off to a short ceiling.
                time.sleep(wait)
            else:
                with self._local.cond:
                    # Woken by a release here; leases that expire have no one to wake us.
                    self._local.cond.wait(wait)
            pause = min(pause * 2, _SEMAPHORE_POLL_MAX)

    def release(self, token: str) -> None:
        """Give the slot back; releasing an expired or unknown token does nothing."""
        if self.redis_url:
            with _redis_errors():
                self._redis.zrem(self.key, token)
            return
        with self._local.cond:
            if self._local.leases.pop(token, None) is not None:
                self._local.cond.notify()

    def refresh(self, token: str) -> bool:
        """Extend the lease by ``lease_seconds`` from now; False when the slot was lost."""
        if self.redis_url:
            with _redis_errors():
                kept = self._refresh_script(
                    keys=[self.key], args=[int(self.lease_seconds * _US), token]
                )
            return int(kept) == 1
        state = self._local
        with state.cond:
            now = time.monotonic()
            state.clean(now)
            if token not in state.leases:
                return False
            state.leases[token] = now + self.lease_seconds
            return True

    def held(self) -> int:
        """Slots held now (expired leases not counted)."""
        if self.redis_url:
            with _redis_errors():
                return int(self._count_script(keys=[self.key]))
        with self._local.cond:
            self._local.clean(time.monotonic())
            return len(self._local.leases)

    @contextmanager
    def slot(self, timeout: float | None = None) -> Iterator[str]:
        """``with semaphore.slot(timeout=...) as token:`` holds a slot for the block."""
        token = self.acquire(timeout)
        try:
            yield token
        finally:
            self.release(token)

    def reset(self) -> None:
        """Free every slot (tests and operators only)."""
        if self.redis_url:
            with _redis_errors():
                self._redis.delete(self.key)
        else:
            with self._local.cond:
                self._local.leases.clear()
                self._local.cond.notify_all()


# --- Factories reading settings ---------------------------------------------------------


def _redis_url() -> str:
    return getattr(settings, "PROVISIONING_REDIS_URL", "") or ""


def _prefix() -> str:
    return getattr(settings, "PROVISIONING_LIMITS_PREFIX", "") or DEFAULT_PREFIX


def _margin() -> float:
    return float(getattr(settings, "PROVISIONING_RATE_MARGIN_SECONDS", DEFAULT_RATE_MARGIN_SECONDS))


def sso_admin_rate_limiter() -> RateLimiter:
    """sso-admin's budget: one for all its operations, ``settings.SSO_ADMIN_TPS`` per second."""
    return RateLimiter(
        "sso-admin",
        rate=settings.SSO_ADMIN_TPS,
        window=1.0,
        margin=_margin(),
        redis_url=_redis_url(),
        prefix=_prefix(),
    )


def identitystore_rate_limiter() -> RateLimiter:
    """identitystore's own budget (AWS's default is 20 per second as well)."""
    return RateLimiter(
        "identitystore",
        rate=getattr(settings, "IDENTITYSTORE_TPS", settings.SSO_ADMIN_TPS),
        window=1.0,
        margin=_margin(),
        redis_url=_redis_url(),
        prefix=_prefix(),
    )


def organizations_rate_limiter() -> RateLimiter:
    """Organizations' budget, ``settings.ORGANIZATIONS_TPS`` per second (docs/operations.md)."""
    return RateLimiter(
        "organizations",
        rate=settings.ORGANIZATIONS_TPS,
        window=1.0,
        margin=_margin(),
        redis_url=_redis_url(),
        prefix=_prefix(),
    )


def assignment_creation_semaphore() -> Semaphore:
    """Account-assignment creations outstanding (created, not yet SUCCEEDED or FAILED)."""
    return Semaphore(
        "assignment-creations",
        limit=settings.MAX_OUTSTANDING_ASSIGNMENT_CREATIONS,
        redis_url=_redis_url(),
        prefix=_prefix(),
    )


def permission_set_provision_semaphore() -> Semaphore:
    """``ProvisionPermissionSet`` calls running at once."""
    return Semaphore(
        "permission-set-provisions",
        limit=settings.MAX_CONCURRENT_PERMISSION_SET_PROVISIONS,
        redis_url=_redis_url(),
        prefix=_prefix(),
    )
