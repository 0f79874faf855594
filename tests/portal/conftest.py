"""Redis for the portal's operability tests: the machine's Redis (tests/conftest.py's
SHARED_CACHE_REDIS_URL, db 15), reached through a TcpProxy that a test cuts to take it away
without stopping it for anyone else. Keys go under a prefix of the test's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import redis

from tests.conftest import SHARED_CACHE_REDIS_URL
from tests.netproxy import TcpProxy


@dataclass
class ProxiedRedis:
    proxy: TcpProxy
    direct: redis.Redis  # past the proxy, to see what reached Redis
    db: int
    prefix: str

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.proxy.port}/{self.db}"

    def keys(self) -> list[str]:
        return sorted(k.decode() for k in self.direct.scan_iter(match=f"{self.prefix}*"))


@pytest.fixture
def proxied_redis() -> Iterator[ProxiedRedis]:
    """The machine's Redis behind a proxy of this test's own; skipped without Redis on a
    developer's machine, failed when CI is set (as tests/conftest.py's shared_cache)."""
    parts = urlsplit(SHARED_CACHE_REDIS_URL)
    direct = redis.Redis.from_url(SHARED_CACHE_REDIS_URL, socket_connect_timeout=2)
    try:
        direct.ping()
    except redis.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required on CI, not at {SHARED_CACHE_REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {SHARED_CACHE_REDIS_URL}")
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379).start()
    found = ProxiedRedis(
        proxy=proxy,
        direct=direct,
        db=int((parts.path or "/0").lstrip("/") or 0),
        prefix=f"test-ops-{uuid.uuid4().hex}",
    )
    yield found
    proxy.stop()
    keys = list(direct.scan_iter(match=f"{found.prefix}*"))
    if keys:
        direct.delete(*keys)
    direct.close()
