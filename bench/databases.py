"""A PostgreSQL database of a benchmark run's own (bench/chaos.py, bench/fleet.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def fresh_database(server_url: str, prefix: str) -> Iterator[str]:
    """A database named ``prefix`` and a random suffix on ``server_url``'s server: its URL,
    dropped afterwards whatever happened."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{server_url.rsplit('/', 1)[0]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
