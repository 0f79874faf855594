"""Upgrading a portal that used DRF's tokens: migration 0010 drops their table of keys kept in
clear (nothing accepts them any more) and forgets DRF's token migrations."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

BEFORE_TOKENS = [("accessgroups", "0009_accessgroup_version")]

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets: list[tuple[str, str]] | None = None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def test_drf_tokens_left_from_before_are_dropped(alice):
    migrate(BEFORE_TOKENS)
    try:
        # What DRF's authtoken app left in a database it was installed in.
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
                "created timestamp NOT NULL, user_id bigint NOT NULL UNIQUE)"
            )
            cursor.execute(
                "INSERT INTO authtoken_token VALUES (%s, CURRENT_TIMESTAMP, %s)",
                ["0123456789abcdef0123456789abcdef01234567", alice.pk],
            )
        recorder = MigrationRecorder(connection)
        for name in ("0001_initial", "0002_auto_20160226_1747"):
            recorder.record_applied("authtoken", name)
    finally:
        migrate()

    assert "authtoken_token" not in connection.introspection.table_names()
    assert not MigrationRecorder(connection).migration_qs.filter(app="authtoken").exists()


def test_a_database_that_never_had_them_migrates_as_well():
    migrate(BEFORE_TOKENS)
    migrate()
    assert "accessgroups_apitoken" in connection.introspection.table_names()
