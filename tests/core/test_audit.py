import hashlib
import hmac

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from accessgroups.core.audit import (
    GENESIS_HASH,
    audit_record,
    event_content,
    event_hash,
    event_seal,
)
from accessgroups.models import AuditEvent


def test_events_are_chained_in_sequence(alice):
    first = audit_record(action="test.one", actor=alice, data={"n": 1})
    second = audit_record(action="test.two", actor=alice)

    assert (first.sequence, second.sequence) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert second.hash == event_hash(first.hash, event_content(second))


def test_events_are_sealed_with_a_key_derived_from_secret_key(alice):
    event = audit_record(action="test.one", actor=alice)
    stored = AuditEvent.objects.get(pk=event.pk)

    assert stored.seal == event_seal(stored.hash, settings.SECRET_KEY)
    assert len(stored.seal) == 64
    # A key of its own, not SECRET_KEY itself...
    raw = hmac.new(settings.SECRET_KEY.encode(), stored.hash.encode(), hashlib.sha256)
    assert stored.seal != raw.hexdigest()
    # ...over the hash only: the hashed content has no seal in it.
    assert "seal" not in event_content(stored)
    assert stored.hash == event_hash(stored.prev_hash, event_content(stored))


def test_database_refuses_edits(alice):
    event = audit_record(action="test.one", actor=alice)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="test.forged")
    event.refresh_from_db()
    assert event.action == "test.one"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite test databases are emptied with DELETE")
def test_database_refuses_deletes(alice):
    event = audit_record(action="test.one", actor=alice)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()
