"""Counters every process adds to and ``/metrics`` reads: AWS requests and task durations.

AWS calls and tasks happen in Celery workers, while ``/metrics`` is served by a web
process, so the counts live where every process sees them: in the limits store
(``settings.PROVISIONING_REDIS_URL``), as Redis hashes under the limits' key prefix,
added to with HINCRBY. With no Redis (the embedded default) they are kept in this process
and only this process's own counts can be read.

Counting never gets in the way of the work it counts: when Redis cannot be reached the
count is dropped (logged at debug), with short timeouts so that a call is not held up.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from dataclasses import dataclass, field

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from provisioning.limits import DEFAULT_PREFIX

logger = logging.getLogger(__name__)

AWS_REQUESTS = "aws_requests"
TASK_SECONDS = "task_seconds"

# Upper bounds (seconds) of the task duration buckets: most tasks take a few hundred
# milliseconds; an assignment waiting on AWS's asynchronous creation takes minutes.
TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

# A count is worth less than the call it counts.
_TIMEOUT_SECONDS = 0.5
_SEP = "|"

_local: dict[str, Counter] = {}
_local_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


class StoreUnavailable(Exception):
    """The counters' Redis cannot be read."""


# --- writing --------------------------------------------------------------------------------


def count_aws_request(*, service: str, operation: str, outcome: str) -> None:
    """One HTTP attempt to AWS and how it ended (``ok``, ``throttled``, ...)."""
    _add(AWS_REQUESTS, {_SEP.join((service, operation, outcome)): 1})


def record_task_duration(*, task: str, seconds: float) -> None:
    """One run of ``task`` that took ``seconds``."""
    bucket = next((le for le in TASK_BUCKETS if seconds <= le), math.inf)
    _add(
        TASK_SECONDS,
        {
            _SEP.join((task, "count")): 1,
            # A float always: Redis refuses HINCRBY on a field HINCRBYFLOAT wrote.
            _SEP.join((task, "sum")): float(seconds),
            # Counted in its own bucket only; the reader makes them cumulative.
            _SEP.join((task, _le(bucket))): 1,
        },
    )


def _add(name: str, amounts: dict[str, float]) -> None:
    url = _redis_url()
    if not url:
        with _local_lock:
            _local.setdefault(name, Counter()).update(amounts)
        return
    try:
        pipe = _client(url).pipeline(transaction=False)
        for key, amount in amounts.items():
            if isinstance(amount, float):
                pipe.hincrbyfloat(_key(name), key, amount)
            else:
                pipe.hincrby(_key(name), key, amount)
        pipe.execute()
    except redis.RedisError as exc:
        logger.debug("Dropped a %s count: the limits store cannot be reached (%s).", name, exc)


# --- reading --------------------------------------------------------------------------------


@dataclass
class TaskDurations:
    count: int = 0
    sum: float = 0.0
    # (upper bound, runs that took at most that long), cumulative, +Inf last.
    buckets: list[tuple[str, int]] = field(default_factory=list)


def aws_requests() -> dict[tuple[str, str, str], int]:
    """(service, operation, outcome) -> HTTP attempts, for the whole fleet."""
    found = {}
    for key, value in _read(AWS_REQUESTS).items():
        parts = tuple(key.split(_SEP))
        if len(parts) == 3:
            found[parts] = int(float(value))
    return found


def task_durations() -> dict[str, TaskDurations]:
    """Task name -> its runs' count, total seconds and cumulative buckets."""
    per_task: dict[str, dict[str, float]] = {}
    for key, value in _read(TASK_SECONDS).items():
        task, _, part = key.rpartition(_SEP)
        if task:
            per_task.setdefault(task, {})[part] = float(value)
    found = {}
    for task, parts in per_task.items():
        running = 0
        buckets = []
        for le in (*TASK_BUCKETS, math.inf):
            running += int(parts.get(_le(le), 0))
            buckets.append((_le(le), running))
        found[task] = TaskDurations(
            count=int(parts.get("count", 0)), sum=parts.get("sum", 0.0), buckets=buckets
        )
    return found


def _read(name: str) -> dict[str, float]:
    url = _redis_url()
    if not url:
        with _local_lock:
            return dict(_local.get(name, {}))
    try:
        raw = _client(url).hgetall(_key(name))
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StoreUnavailable(str(exc)) from exc
    return {k.decode(): float(v) for k, v in raw.items()}


def is_shared() -> bool:
    """True when the counts are the fleet's (Redis), False when only this process's."""
    return bool(_redis_url())


def reset() -> None:
    """Forget this process's counts (tests); the fleet's, in Redis, are left alone."""
    with _local_lock:
        _local.clear()


# --- where ----------------------------------------------------------------------------------


def _redis_url() -> str:
    return getattr(settings, "PROVISIONING_REDIS_URL", "") or ""


def _key(name: str) -> str:
    prefix = getattr(settings, "PROVISIONING_LIMITS_PREFIX", "") or DEFAULT_PREFIX
    return f"{prefix}metrics:{name}"


def _le(bound: float) -> str:
    return "+Inf" if bound == math.inf else f"{bound:g}"


def _client(url: str) -> redis.Redis:
    # One pool per URL per process, like the limits; not theirs, whose 5 s timeouts suit a
    # limiter that must get an answer, not a count that may be dropped.
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=_TIMEOUT_SECONDS,
                socket_timeout=_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
            )
            _clients[url] = client
        return client

