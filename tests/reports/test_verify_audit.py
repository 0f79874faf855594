"""verify_chain and manage.py verify_audit against a real log, tampered behind the portal's back."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accessgroups.audit import GENESIS_HASH, event_content, event_hash, verify_chain
from accessgroups.models import AuditEvent


def run_verify(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def test_clean_chain_is_ok(chain):
    assert verify_chain() is None
    assert verify_chain(expected_head=chain[-1].hash) is None
    # A head exported earlier is still good after the log has grown.
    assert verify_chain(expected_head=chain[2].hash) is None
    assert run_verify() == f"OK 5 events, head {chain[-1].hash}\n"
    assert run_verify("--head", chain[-1].hash).startswith("OK 5 events")


def test_empty_log_is_ok(db):
    assert verify_chain() is None
    assert run_verify() == f"OK 0 events, head {GENESIS_HASH}\n"


def test_edited_event_is_found(chain, tamper):
    with tamper():
        AuditEvent.objects.filter(pk=chain[2].pk).update(message="nothing happened")
    problem = verify_chain()
    assert (problem.sequence, problem.kind) == (3, "edited")
    with pytest.raises(CommandError, match="BROKEN at event 3: edited"):
        run_verify()


def test_edited_data_is_found(chain, tamper):
    with tamper():
        AuditEvent.objects.filter(pk=chain[0].pk).update(data={"n": 99})
    assert (verify_chain().sequence, verify_chain().kind) == (1, "edited")


def test_edit_with_a_recomputed_hash_breaks_the_next_link(chain, tamper):
    forged = AuditEvent.objects.get(pk=chain[1].pk)
    forged.message = "forged"
    forged_hash = event_hash(forged.prev_hash, event_content(forged))
    with tamper():
        AuditEvent.objects.filter(pk=forged.pk).update(message="forged", hash=forged_hash)
    problem = verify_chain()
    assert (problem.sequence, problem.kind) == (3, "broken_link")


def test_deleted_event_is_found(chain, tamper):
    with tamper():
        AuditEvent.objects.filter(pk=chain[1].pk).delete()
    problem = verify_chain()
    assert (problem.sequence, problem.kind) == (3, "missing")
    assert "2 are gone" in problem.detail
    with pytest.raises(CommandError, match="BROKEN at event 3: missing"):
        run_verify()


def test_deleted_first_event_is_found(chain, tamper):
    with tamper():
        AuditEvent.objects.filter(pk=chain[0].pk).delete()
    assert (verify_chain().sequence, verify_chain().kind) == (2, "missing")


def test_inserted_event_is_found(chain, tamper):
    """An event slipped in after the third: later ones renumbered, the forgery hashed right."""
    with tamper():
        for event in reversed(chain[3:]):
            AuditEvent.objects.filter(pk=event.pk).update(sequence=event.sequence + 1)
        forged = AuditEvent(
            sequence=4,
            created_at=chain[2].created_at,
            actor_username="alice",
            action="test.event",
            message="forged",
            data={},
            prev_hash=chain[2].hash,
        )
        forged.hash = event_hash(forged.prev_hash, event_content(forged))
        forged.save(force_insert=True)
    problem = verify_chain()
    # The forgery itself is well formed; the event after it no longer links to it.
    assert (problem.sequence, problem.kind) == (5, "broken_link")
    with pytest.raises(CommandError, match="BROKEN at event 5: broken_link"):
        run_verify()


def test_appended_event_with_a_guessed_link_is_found(chain):
    # No tampering needed: inserting is allowed, only the link gives the forgery away.
    forged = AuditEvent(
        sequence=6,
        created_at=chain[-1].created_at,
        action="test.event",
        message="forged",
        data={},
        prev_hash=chain[-2].hash,
    )
    forged.hash = event_hash(forged.prev_hash, event_content(forged))
    forged.save(force_insert=True)
    assert (verify_chain().sequence, verify_chain().kind) == (6, "broken_link")


def test_truncated_end_is_caught_only_against_an_exported_head(chain, tamper):
    head = chain[-1].hash
    with tamper():
        AuditEvent.objects.filter(pk__in=[e.pk for e in chain[3:]]).delete()
    # What is left is a perfect chain by itself...
    assert verify_chain() is None
    assert run_verify() == f"OK 3 events, head {chain[2].hash}\n"
    # ...but not the chain the exported head came from.
    problem = verify_chain(expected_head=head)
    assert (problem.sequence, problem.kind) == (None, "head_not_found")
    with pytest.raises(CommandError, match="head_not_found"):
        run_verify("--head", head)


def test_head_must_look_like_a_hash(chain):
    with pytest.raises(CommandError):
        run_verify("--head", "not-a-hash")


def test_command_exit_status(chain, tamper):
    """Run as a script, a broken chain exits non-zero (CommandError's status 1)."""
    from django.core.management import ManagementUtility

    with tamper():
        AuditEvent.objects.filter(pk=chain[0].pk).update(message="x")
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "verify_audit"]).execute()
    assert exited.value.code == 1
