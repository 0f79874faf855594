"""Fixtures for the audit-log tests: stepping around the append-only triggers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

SQLITE_TRIGGER = """
CREATE TRIGGER accessgroups_auditevent_append_only
BEFORE UPDATE ON accessgroups_auditevent
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)');
END;
"""


@contextmanager
def _triggers_off() -> Iterator[None]:
    """Let the test tamper with audit events as someone with database access could.

    The append-only triggers stand in the way, so the test steps around them the way an
    attacker with owner rights would, and puts them back afterwards.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
            try:
                yield
            finally:
                cursor.execute("SET session_replication_role = origin")
        else:
            cursor.execute("DROP TRIGGER accessgroups_auditevent_append_only")
            try:
                yield
            finally:
                cursor.execute(SQLITE_TRIGGER)


@pytest.fixture
def tamper() -> Callable[[], object]:
    return _triggers_off

