"""Adding the seal leaves the events already written as they were: unsealed, still verifying."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accessgroups.core.audit import (
    GENESIS_HASH,
    audit_record,
    check_chain,
    event_content,
    event_hash,
)
from accessgroups.models import AuditEvent

BEFORE_SEALS = [("accessgroups", "0007_mail_delivery")]

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets: list[tuple[str, str]] | None = None) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


def test_events_from_before_the_seal_stay_unsealed_and_verify(alice):
    executor = migrate(BEFORE_SEALS)
    try:
        # Written as the portal wrote them before: the model of that time has no seal.
        old_model = executor.loader.project_state(BEFORE_SEALS).apps.get_model(
            "accessgroups", "AuditEvent"
        )
        prev_hash = GENESIS_HASH
        for sequence in (1, 2):
            event = old_model(
                sequence=sequence,
                created_at=timezone.now(),
                actor_username="alice",
                action="test.event",
                message=f"before sealing {sequence}",
                data={},
                prev_hash=prev_hash,
            )
            event.hash = prev_hash = event_hash(prev_hash, event_content(event))
            event.save(force_insert=True)
    finally:
        migrate()

    assert list(AuditEvent.objects.values_list("seal", flat=True)) == ["", ""]
    sealed = audit_record(action="test.event", actor=alice)
    assert sealed.prev_hash == prev_hash and sealed.seal
    result = check_chain()
    assert result.problem is None
    assert (result.count, result.sealed, result.unsealed) == (3, 1, 2)
    # The migration kept the log append-only (SQLite rebuilds the table to add a column).
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(sequence=1).update(seal="made up later")
