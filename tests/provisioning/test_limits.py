"""The fleet-wide limiters, exercised by many threads and several processes.

Every test runs against both backends: real Redis (db 15, a key prefix of its own) and the
in-process one.

A grant happens somewhere inside the ``try_acquire`` call that returned 0, on the limiter's
clock (Redis ``TIME`` or this process's). A timestamp taken after ``acquire`` returns can be
late by however long the thread waits for the GIL on a loaded machine, so counting such
stamps could blame the limiter for the scheduler. The rate tests therefore record the
interval around the granting call and count, in any window, only the grants whose whole
interval lies inside it: those certainly happened there, so a count above the rate is a
real breach, never an artefact of timing.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from django.test import override_settings

from bench.ic_timing import max_overlap
from provisioning import limits
from provisioning.limits import LimiterUnavailable, RateLimiter, Semaphore

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_fail() -> redis.Redis:
    """A client for the test Redis; skip without it locally, fail on CI (env CI set)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required on CI and is not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return client


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix unique to this test; its keys are deleted afterwards (only ours)."""
    client = redis_or_fail()
    prefix = f"test:limits:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["local", "redis"])
def backend(request) -> dict[str, str]:
    """Constructor arguments selecting one backend, with a key prefix of this test's own."""
    if request.param == "redis":
        return {"redis_url": REDIS_URL, "prefix": request.getfixturevalue("redis_prefix")}
    return {"redis_url": "", "prefix": f"test:limits:{uuid.uuid4().hex}:"}


def record_grants(limiter: RateLimiter) -> list[tuple[float, float]]:
    """Wrap ``limiter.try_acquire``: every call that grants appends (before, after) to the list."""
    grants: list[tuple[float, float]] = []
    lock = threading.Lock()
    try_acquire = limiter.try_acquire

    def recording(n: int = 1) -> float:
        before = time.monotonic()
        wait = try_acquire(n)
        after = time.monotonic()
        if wait == 0.0:
            with lock:
                grants.extend([(before, after)] * n)
        return wait

    limiter.try_acquire = recording  # acquire() looks the method up on the instance
    return grants


def max_surely_in_window(grants: list[tuple[float, float]], window: float) -> int:
    """The most grants whose (before, after) interval lies wholly inside one [t, t + window)."""
    return max(
        sum(1 for before, after in grants if start <= before and after < start + window)
        for start, _ in grants
    )


def hammer_rate(limiter: RateLimiter, threads: int, per_thread: int) -> list[tuple[float, float]]:
    """``threads`` threads each acquiring ``per_thread`` times; the interval of every grant."""
    grants = record_grants(limiter)
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            limiter.acquire()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "a thread is still waiting for the limiter"
    return grants


def hammer_semaphore(
    semaphore: Semaphore, threads: int, per_thread: int, hold: float
) -> list[tuple[float, float]]:
    """Threads taking a slot, holding it ``hold`` seconds; the intervals they held it."""
    intervals: list[tuple[float, float]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            with semaphore.slot(timeout=30):
                began = time.monotonic()
                time.sleep(hold)
                ended = time.monotonic()
            with lock:
                intervals.append((began, ended))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "a thread is still waiting for a slot"
    return intervals


# Process entry points: module-level so that a spawned interpreter can import them.
# CLOCK_MONOTONIC is system-wide on Linux, so stamps from several processes compare.


def _process_rate(args: tuple[str, str, int, float, int, int]) -> list[tuple[float, float]]:
    redis_url, prefix, rate, margin, threads, per_thread = args
    limiter = RateLimiter("shared", rate=rate, margin=margin, redis_url=redis_url, prefix=prefix)
    return hammer_rate(limiter, threads, per_thread)


def _process_semaphore(args: tuple[str, str, int, int, int, float]) -> list[tuple[float, float]]:
    redis_url, prefix, limit, threads, per_thread, hold = args
    semaphore = Semaphore("shared", limit=limit, redis_url=redis_url, prefix=prefix)
    return hammer_semaphore(semaphore, threads, per_thread, hold)


# --- RateLimiter ------------------------------------------------------------------------


def test_rate_limiter_many_threads_never_exceed_rate_in_any_window(backend):
    limiter = RateLimiter("sso", rate=20, margin=0.05, **backend)

    began = time.monotonic()
    grants = hammer_rate(limiter, threads=16, per_thread=5)
    elapsed = time.monotonic() - began

    assert len(grants) == 80
    assert max_surely_in_window(grants, 1.0) <= 20
    # The limiter really limits: 20 of the first burst happen before the first grant
    # that had to wait for the window to slide.
    assert max_surely_in_window(grants, 1.0) >= 10
    # 80 grants at 20 per 1.05 s: grant 21 comes a full 1.05 s after grant 1, so the last
    # opens at least 3 × 1.05 s after the first (a hair less allowed for Redis's clock
    # being the wall clock). The upper bound is loose (a loaded CI machine schedules
    # threads late); it still catches waiters that sleep whole windows past their turn.
    assert 3 * 1.05 - 0.01 <= elapsed <= 3 * 1.05 + 3.0


def test_rate_limiter_several_processes_share_one_budget(redis_prefix):
    rate, processes, threads, per_thread = 20, 3, 4, 5  # 60 grants
    ctx = multiprocessing.get_context("spawn")
    args = (REDIS_URL, redis_prefix, rate, 0.05, threads, per_thread)
    with ctx.Pool(processes) as pool:
        # Spawned interpreters take a while to import; the limiter's window starts with
        # the first grant, so their staggered starts only make the test harder to pass.
        results = pool.map(_process_rate, [args] * processes)

    grants = [g for result in results for g in result]
    assert len(grants) == processes * threads * per_thread
    assert max_surely_in_window(grants, 1.0) <= rate
    # Near the rate: 60 grants need at least two full windows after the first.
    span = max(after for _, after in grants) - min(before for before, _ in grants)
    assert 2 * 1.05 - 0.01 <= span <= 2 * 1.05 + 3.0


def test_rate_limiter_window_is_sliding_not_fixed(backend):
    """20 at once, then nothing for the full window: a burst cannot be followed by another."""
    limiter = RateLimiter("burst", rate=20, window=1.0, **backend)

    for _ in range(20):
        assert limiter.try_acquire() == 0.0
    wait = limiter.try_acquire()
    assert 0.9 < wait <= 1.0

    time.sleep(0.5)
    # Half the window later nothing has left it: still no capacity, at most half to wait
    # (less if the machine slept longer than asked).
    assert 0.0 < limiter.try_acquire() <= 0.5
    time.sleep(0.55)
    assert limiter.try_acquire() == 0.0


def test_rate_limiter_wait_counts_the_grants_needed(backend):
    """Asking for n waits until n of the oldest grants have left the window."""
    limiter = RateLimiter("multi", rate=4, window=1.0, **backend)
    limiter.acquire(2)
    time.sleep(0.3)
    limiter.acquire(2)

    # 4 in the window: one more must wait for the first pair (~0.7 s), three more for
    # the second pair as well (~1.0 s).
    first_pair, both_pairs = limiter.try_acquire(1), limiter.try_acquire(3)
    assert 0.0 < first_pair <= 0.7
    assert both_pairs <= 1.0
    # The pairs were granted 0.3 s apart, however late this line runs.
    assert both_pairs - first_pair == pytest.approx(0.3, abs=0.05)
    with pytest.raises(ValueError):
        limiter.try_acquire(5)


def test_rate_limiter_acquire_times_out(backend):
    limiter = RateLimiter("timeout", rate=1, window=10.0, **backend)
    limiter.acquire()
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        limiter.acquire(timeout=0.2)
    assert time.monotonic() - began < 1.0


def test_rate_limiters_with_other_names_or_prefixes_do_not_share(backend):
    first = RateLimiter("a", rate=1, window=10.0, **backend)
    first.acquire()
    assert RateLimiter("b", rate=1, window=10.0, **backend).try_acquire() == 0.0
    other_prefix = {**backend, "prefix": backend["prefix"] + "other:"}
    assert RateLimiter("a", rate=1, window=10.0, **other_prefix).try_acquire() == 0.0
    # Same name and prefix: the same budget, even through another instance.
    assert RateLimiter("a", rate=1, window=10.0, **backend).try_acquire() > 9.0
    if backend["redis_url"]:
        redis.Redis.from_url(REDIS_URL).delete(other_prefix["prefix"] + "rate:a")


# --- Semaphore --------------------------------------------------------------------------


def test_semaphore_many_threads_never_exceed_limit(backend):
    semaphore = Semaphore("creations", limit=5, **backend)

    intervals = hammer_semaphore(semaphore, threads=12, per_thread=4, hold=0.05)

    assert len(intervals) == 48
    # Never more than the limit, and the limit is reached: the slots are really used.
    assert max_overlap(intervals) == 5
    assert semaphore.held() == 0


def test_semaphore_several_processes_share_the_slots(redis_prefix):
    limit, processes = 3, 3
    ctx = multiprocessing.get_context("spawn")
    args = (REDIS_URL, redis_prefix, limit, 3, 6, 0.05)
    with ctx.Pool(processes) as pool:
        results = pool.map(_process_semaphore, [args] * processes)

    intervals = [i for result in results for i in result]
    assert len(intervals) == processes * 3 * 6
    assert max_overlap(intervals) <= limit
    assert Semaphore("shared", limit=limit, redis_url=REDIS_URL, prefix=redis_prefix).held() == 0


def test_semaphore_try_acquire_release_and_timeout(backend):
    semaphore = Semaphore("provisions", limit=2, **backend)
    first = semaphore.try_acquire()
    second = semaphore.try_acquire()
    assert first and second and first != second
    assert semaphore.try_acquire() is None
    with pytest.raises(TimeoutError):
        semaphore.acquire(timeout=0.2)

    semaphore.release(first)
    third = semaphore.acquire(timeout=1)
    assert semaphore.held() == 2

    # Releasing twice, or a token never issued, frees nothing else.
    semaphore.release(first)
    semaphore.release("not-a-token")
    assert semaphore.held() == 2
    semaphore.release(second)
    semaphore.release(third)
    assert semaphore.held() == 0


def test_semaphore_waiter_gets_a_released_slot(backend):
    semaphore = Semaphore("handover", limit=1, **backend)
    token = semaphore.acquire()
    got: list[float] = []

    def wait_for_slot() -> None:
        with semaphore.slot(timeout=5):
            got.append(time.monotonic())

    waiter = threading.Thread(target=wait_for_slot)
    waiter.start()
    time.sleep(0.3)
    assert not got
    released = time.monotonic()
    semaphore.release(token)
    waiter.join(timeout=5)
    assert got and got[0] - released < 2.0


def test_semaphore_lease_expires_when_holder_vanishes(backend):
    """A worker that dies holding a slot leaks it only until its lease runs out."""
    semaphore = Semaphore("leases", limit=1, lease_seconds=0.3, **backend)
    lost = semaphore.try_acquire()
    assert lost is not None
    assert semaphore.try_acquire() is None

    time.sleep(0.4)
    assert semaphore.held() == 0
    newcomer = semaphore.try_acquire()
    assert newcomer is not None
    # The old holder learns that its slot is gone and cannot take it back by refreshing.
    assert semaphore.refresh(lost) is False
    assert semaphore.held() == 1
    semaphore.release(newcomer)


def test_semaphore_refresh_keeps_a_long_holder(backend):
    semaphore = Semaphore("refresh", limit=1, lease_seconds=0.3, **backend)
    token = semaphore.try_acquire()
    for _ in range(3):
        time.sleep(0.2)
        assert semaphore.refresh(token) is True
    # 0.6 s after acquiring, twice the lease, the slot is still held.
    assert semaphore.try_acquire() is None
    semaphore.release(token)
    assert semaphore.try_acquire() is not None


def test_semaphore_slot_is_released_when_the_block_raises(backend):
    semaphore = Semaphore("errors", limit=1, **backend)
    with pytest.raises(RuntimeError), semaphore.slot(timeout=1):
        assert semaphore.held() == 1
        raise RuntimeError("the AWS call failed")
    assert semaphore.held() == 0


# --- Factories and failure of the store -----------------------------------------------


def test_factories_read_settings_for_the_redis_backend(redis_prefix):
    with override_settings(
        PROVISIONING_REDIS_URL=REDIS_URL,
        PROVISIONING_LIMITS_PREFIX=redis_prefix,
        SSO_ADMIN_TPS=7,
        MAX_OUTSTANDING_ASSIGNMENT_CREATIONS=4,
        MAX_CONCURRENT_PERMISSION_SET_PROVISIONS=2,
    ):
        sso = limits.sso_admin_rate_limiter()
        store = limits.identitystore_rate_limiter()
        creations = limits.assignment_creation_semaphore()
        provisions = limits.permission_set_provision_semaphore()

    assert (sso.rate, sso.window, sso.redis_url) == (7, 1.0, REDIS_URL)
    assert store.rate == 7 and store.key != sso.key
    assert creations.limit == 4 and provisions.limit == 2
    for limiter in (sso, store, creations, provisions):
        assert limiter.key.startswith(redis_prefix)

    # The budget is really the shared one: a fresh instance sees the other's grants.
    sso.acquire(7)
    with override_settings(
        PROVISIONING_REDIS_URL=REDIS_URL, PROVISIONING_LIMITS_PREFIX=redis_prefix, SSO_ADMIN_TPS=7
    ):
        assert limits.sso_admin_rate_limiter().try_acquire() > 0
        assert limits.identitystore_rate_limiter().try_acquire() == 0.0


def test_factories_use_the_in_process_backend_without_redis():
    prefix = f"test:limits:{uuid.uuid4().hex}:"
    with override_settings(
        PROVISIONING_REDIS_URL="",
        PROVISIONING_LIMITS_PREFIX=prefix,
        MAX_OUTSTANDING_ASSIGNMENT_CREATIONS=2,
    ):
        first = limits.assignment_creation_semaphore()
        second = limits.assignment_creation_semaphore()

    assert first.redis_url == ""
    # Two instances, one set of slots: the embedded worker's threads share the limit.
    assert first.try_acquire() and second.try_acquire()
    assert first.try_acquire() is None and second.try_acquire() is None


def test_unreachable_redis_is_reported_as_unavailable():
    limiter = RateLimiter("down", rate=5, redis_url="redis://127.0.0.1:1/0", prefix="test:")
    with pytest.raises(LimiterUnavailable):
        limiter.acquire()
    semaphore = Semaphore("down", limit=1, redis_url="redis://127.0.0.1:1/0", prefix="test:")
    with pytest.raises(LimiterUnavailable):
        semaphore.try_acquire()
