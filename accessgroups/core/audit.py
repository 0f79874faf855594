"""Writing the audit log: append-only, gap-free sequence, each event chained by hash and
sealed with a key only the portal holds.

Every writer takes the same lock for the length of its transaction (a PostgreSQL
advisory lock; SQLite transactions are IMMEDIATE and already serialised), so the next
sequence number and the previous hash are read and written as one step.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accessgroups.models import AccessGroup, AuditEvent, User

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same for every writer of the log.
_ADVISORY_LOCK_KEY = 0x41554449  # "AUDI"
# salted_hmac derives the sealing key from this salt and SECRET_KEY, so the key is used for
# nothing else (sessions, signed values and password reset tokens get other keys).
_SEAL_SALT = "accessgroups.audit.event_seal"


def event_content(event: AuditEvent) -> dict[str, Any]:
    """The fields an event's hash covers, in a stable shape."""
    return {
        "sequence": event.sequence,
        "created_at": event.created_at.isoformat(),
        "actor": event.actor_username,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "access_group_id": event.access_group_id,
        "subject_id": event.subject_id,
        "message": event.message,
        "data": event.data,
    }


def event_hash(prev_hash: str, content: dict[str, Any]) -> str:
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def event_seal(chain_hash: str, secret: str | bytes | None = None) -> str:
    """HMAC-SHA256 of an event's hash, keyed from ``secret`` (default: SECRET_KEY).

    The hash covers the content and, through ``prev_hash``, everything before it, so the
    seal does too; whoever recomputes a chain without the key cannot seal it.
    """
    return salted_hmac(_SEAL_SALT, chain_hash, secret=secret, algorithm="sha256").hexdigest()


def _seal_key_index(event: AuditEvent, secrets: list[str | bytes]) -> int | None:
    """Which of ``secrets`` sealed the event (0: SECRET_KEY), or None when none did."""
    for index, secret in enumerate(secrets):
        if constant_time_compare(event.seal, event_seal(event.hash, secret)):
            return index
    return None


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    obj: models.Model | None = None,
    access_group: AccessGroup | None = None,
    subject: User | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log (inside the caller's transaction, if any)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
        event = AuditEvent(
            sequence=(last["sequence"] + 1) if last else 1,
            created_at=timezone.now(),
            actor=actor,
            actor_username=actor.username if actor else "",
            action=action,
            object_type=obj._meta.model_name if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            access_group=access_group,
            subject=subject,
            message=message,
            data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder)),
            prev_hash=last["hash"] if last else GENESIS_HASH,
        )
        event.hash = event_hash(event.prev_hash, event_content(event))
        event.seal = event_seal(event.hash)
        event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainProblem:
    """The first place where the stored log stops being the log that was written."""

    sequence: int | None  # the event at which the walk stopped; None: after the last one
    kind: str  # "edited", "missing", "broken_link", "bad_seal", "unsealed", "head_not_found"
    detail: str

    def __str__(self) -> str:
        where = f"event {self.sequence}" if self.sequence is not None else "end of the log"
        return f"{where}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class ChainCheck:
    count: int  # events walked without a problem: sealed + unsealed
    head: str  # hash of the last event walked (GENESIS_HASH for an empty log)
    problem: ChainProblem | None
    sealed: int
    sealed_with_fallback: int  # of ``sealed``: only a key in SECRET_KEY_FALLBACKS matches
    unsealed: int  # written before sealing began: they can only open the log


def check_chain(expected_head: str | None = None, *, max_unsealed: int | None = None) -> ChainCheck:
    """Walk the whole log in sequence order and stop at the first problem.

    An edited event no longer matches its own hash; a deleted one leaves a gap in the
    sequence (and a link that points past it); an inserted one does not link to the event
    before it, or the event after it does not link to it. A tail rewritten with fresh
    hashes is well linked, but its seals match neither SECRET_KEY nor any of
    SECRET_KEY_FALLBACKS, unless whoever rewrote it had the key.

    Events written before sealing began have no seal: they may open the log, but an
    unsealed event after a sealed one was written without the key. A log rewritten entirely
    without seals looks like one from before sealing: ``max_unsealed`` (the count of
    unsealed events, which never grows once the portal seals) catches that. Events cut from
    the end need a head hash kept elsewhere (``expected_head``), which must be the hash of
    some event in the log — the log may have grown since that head was taken.
    """
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    count = sealed = sealed_with_fallback = unsealed = 0
    expected_sequence = 1
    prev_hash = GENESIS_HASH
    head_seen = expected_head is None or expected_head == GENESIS_HASH

    def result(problem: ChainProblem | None) -> ChainCheck:
        return ChainCheck(
            count=count,
            head=prev_hash,
            problem=problem,
            sealed=sealed,
            sealed_with_fallback=sealed_with_fallback,
            unsealed=unsealed,
        )

    # .iterator(): events are read in chunks from a cursor, so memory stays flat however
    # long the log is; 2,000 events of a few hundred bytes per fetch keep round trips few.
    for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000):
        problem = None
        key_index = None
        if event.sequence != expected_sequence:
            if event.sequence > expected_sequence:
                missing = f"{expected_sequence}" + (
                    f"-{event.sequence - 1}" if event.sequence - 1 > expected_sequence else ""
                )
                problem = ChainProblem(
                    event.sequence, "missing", f"event(s) {missing} are gone (deleted)"
                )
            else:
                problem = ChainProblem(
                    event.sequence, "broken_link", f"expected sequence {expected_sequence}"
                )
        elif event.prev_hash != prev_hash:
            problem = ChainProblem(
                event.sequence,
                "broken_link",
                "does not link to the event before it (an event was inserted or deleted here)",
            )
        elif event.hash != event_hash(event.prev_hash, event_content(event)):
            problem = ChainProblem(
                event.sequence, "edited", "its content no longer matches its hash"
            )
        elif event.seal:
            key_index = _seal_key_index(event, secrets)
            if key_index is None:
                problem = ChainProblem(
                    event.sequence,
                    "bad_seal",
                    "its seal does not match: the event was written or rewritten without "
                    "the portal's key (or with a key no longer in SECRET_KEY_FALLBACKS)",
                )
        elif sealed:
            problem = ChainProblem(
                event.sequence,
                "unsealed",
                "it has no seal though events before it have: it was written without the "
                "portal's key",
            )
        elif max_unsealed is not None and unsealed >= max_unsealed:
            problem = ChainProblem(
                event.sequence,
                "unsealed",
                f"more than {max_unsealed} events have no seal: the log was rewritten "
                "without the portal's key",
            )
        if problem is not None:
            return result(problem)
        count += 1
        if key_index is None:
            unsealed += 1
        else:
            sealed += 1
            sealed_with_fallback += key_index > 0
        expected_sequence = event.sequence + 1
        prev_hash = event.hash
        if not head_seen and event.hash == expected_head:
            head_seen = True
    if not head_seen:
        return result(
            ChainProblem(
                None,
                "head_not_found",
                f"no event has the hash {expected_head}: events were removed from the end "
                "or the log was rewritten since that head was taken",
            )
        )
    return result(None)


def verify_chain(
    expected_head: str | None = None, *, max_unsealed: int | None = None
) -> ChainProblem | None:
    """The first problem in the audit log's hash chain and seals, or None when it is intact."""
    return check_chain(expected_head, max_unsealed=max_unsealed).problem
