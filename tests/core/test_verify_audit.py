"""verify_chain and manage.py verify_audit against a real log, tampered behind the portal's back."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from accessgroups.core.audit import (
    GENESIS_HASH,
    audit_record,
    check_chain,
    event_content,
    event_hash,
    event_seal,
    verify_chain,
)
from accessgroups.models import AuditEvent


def run_verify(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def seal_line(sealed: int, fallback: int, unsealed: int) -> str:
    return (
        f"{sealed} sealed ({fallback} of them with a key from SECRET_KEY_FALLBACKS), "
        f"{unsealed} unsealed from before sealing began\n"
    )


def append_unsealed(message: str) -> AuditEvent:
    """An event linked and hashed right, with no seal: as the portal wrote them before
    sealing began, or as someone without the key appends one (inserting is allowed)."""
    last = AuditEvent.objects.order_by("-sequence").first()
    event = AuditEvent(
        sequence=last.sequence + 1 if last else 1,
        created_at=timezone.now(),
        action="test.event",
        message=message,
        data={},
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    event.hash = event_hash(event.prev_hash, event_content(event))
    event.save(force_insert=True)
    return event


def rewrite_from(events: list[AuditEvent], message: str, *, seal) -> None:
    """Edit the first of ``events`` and recompute the hash of it and of every event after
    it, so the chain is perfect again; ``seal(hash)`` gives each rewritten event's seal."""
    prev_hash = events[0].prev_hash
    for event in events:
        event.refresh_from_db()
        if event is events[0]:
            event.message = message
        event.prev_hash = prev_hash
        event.hash = event_hash(prev_hash, event_content(event))
        event.seal = seal(event.hash)
        AuditEvent.objects.filter(pk=event.pk).update(
            message=event.message, prev_hash=event.prev_hash, hash=event.hash, seal=event.seal
        )
        prev_hash = event.hash


def test_clean_chain_is_ok(chain):
    assert verify_chain() is None
    assert verify_chain(expected_head=chain[-1].hash) is None
    # A head exported earlier is still good after the log has grown.
    assert verify_chain(expected_head=chain[2].hash) is None
    assert run_verify() == f"OK 5 events, head {chain[-1].hash}\n" + seal_line(5, 0, 0)
    assert run_verify("--head", chain[-1].hash).startswith("OK 5 events")


def test_empty_log_is_ok(db):
    assert verify_chain() is None
    assert run_verify() == f"OK 0 events, head {GENESIS_HASH}\n" + seal_line(0, 0, 0)


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
    # Even resealed by someone who has the key, the event after it gives the edit away.
    forged = AuditEvent.objects.get(pk=chain[1].pk)
    forged.message = "forged"
    forged_hash = event_hash(forged.prev_hash, event_content(forged))
    with tamper():
        AuditEvent.objects.filter(pk=forged.pk).update(
            message="forged", hash=forged_hash, seal=event_seal(forged_hash)
        )
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
    """An event slipped in after the third: later ones renumbered, the forgery hashed and
    sealed right (by someone who has the key)."""
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
        forged.seal = event_seal(forged.hash)
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
    assert run_verify() == f"OK 3 events, head {chain[2].hash}\n" + seal_line(3, 0, 0)
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


# --- seals: what the chain alone cannot show -------------------------------------------------


def test_rewritten_tail_with_recomputed_hashes_is_caught_by_its_seals(chain, tamper):
    with tamper():
        # Whoever rewrites without the key keeps the old seals, or makes up a key.
        rewrite_from(chain[2:], "nothing happened", seal=lambda h: event_seal(h, "a guess"))
    problem = verify_chain()
    assert (problem.sequence, problem.kind) == (3, "bad_seal")
    assert "without the portal's key" in problem.detail
    with pytest.raises(CommandError, match="BROKEN at event 3: bad_seal"):
        run_verify()


def test_rewritten_tail_keeping_the_old_seals_is_caught(chain, tamper):
    # The old seals, left on the rewritten events, were made for other hashes.
    old_seals = iter([event.seal for event in chain[3:]])
    with tamper():
        rewrite_from(chain[3:], "nothing happened", seal=lambda h: next(old_seals))
    assert (verify_chain().sequence, verify_chain().kind) == (4, "bad_seal")


def test_event_appended_without_a_seal_after_sealed_ones_is_caught(chain):
    # No tampering needed: inserting is allowed, and link and hash are right.
    append_unsealed("appended by someone without the key")
    problem = verify_chain()
    assert (problem.sequence, problem.kind) == (6, "unsealed")
    assert "events before it" in problem.detail
    with pytest.raises(CommandError, match="BROKEN at event 6: unsealed"):
        run_verify()


def test_unsealed_events_from_before_sealing_are_accepted_and_counted(alice):
    legacy = [append_unsealed(f"before sealing {n}") for n in range(1, 4)]
    sealed = [audit_record(action="test.event", actor=alice) for _ in range(2)]
    assert sealed[0].prev_hash == legacy[-1].hash
    result = check_chain()
    assert result.problem is None
    assert (result.count, result.sealed, result.unsealed) == (5, 2, 3)
    assert run_verify() == f"OK 5 events, head {sealed[-1].hash}\n" + seal_line(2, 0, 3)
    assert run_verify("--max-unsealed", "3").startswith("OK 5 events")


def test_log_rewritten_without_any_seal_is_caught_only_against_the_unsealed_count(alice, tamper):
    for n in range(1, 3):
        append_unsealed(f"before sealing {n}")
    sealed = [audit_record(action="test.event", actor=alice) for _ in range(3)]
    with tamper():
        rewrite_from(sealed, "nothing happened", seal=lambda h: "")
    # Stripped of every seal, the log looks like one from before sealing began...
    assert verify_chain() is None
    assert check_chain().unsealed == 5
    # ...but more events are unsealed than the two a run printed once the portal sealed.
    problem = verify_chain(max_unsealed=2)
    assert (problem.sequence, problem.kind) == (3, "unsealed")
    with pytest.raises(CommandError, match="BROKEN at event 3: unsealed: more than 2 events"):
        run_verify("--max-unsealed", "2")


@pytest.mark.parametrize("value", ["-1", "two", ""])
def test_max_unsealed_must_be_a_count(db, value):
    with pytest.raises(CommandError, match="max-unsealed"):
        run_verify("--max-unsealed", value)


def test_rotated_key_verifies_while_the_old_key_is_a_fallback(alice):
    append_unsealed("before sealing")
    with override_settings(SECRET_KEY="the-old-key-of-this-test"):
        old = [audit_record(action="test.event", actor=alice) for _ in range(2)]
    with override_settings(
        SECRET_KEY="the-new-key-of-this-test", SECRET_KEY_FALLBACKS=["the-old-key-of-this-test"]
    ):
        new = [audit_record(action="test.event", actor=alice) for _ in range(2)]
        assert new[0].seal == event_seal(new[0].hash, "the-new-key-of-this-test")
        result = check_chain()
        assert result.problem is None
        assert (result.sealed, result.sealed_with_fallback, result.unsealed) == (4, 2, 1)
        assert run_verify().endswith(seal_line(4, 2, 1))
    # Dropped from the fallbacks, the old key's events stop verifying, from the first one.
    with override_settings(SECRET_KEY="the-new-key-of-this-test", SECRET_KEY_FALLBACKS=[]):
        problem = verify_chain()
        assert (problem.sequence, problem.kind) == (old[0].sequence, "bad_seal")
        with pytest.raises(CommandError, match=f"BROKEN at event {old[0].sequence}: bad_seal"):
            run_verify()
