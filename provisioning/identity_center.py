"""What every Identity Center service shares: claiming a row, audited writes, drift.

The claiming protocol (see accessgroups.models.Provisioned):

1. ``claim`` takes the row with one conditional UPDATE; no row updated means another
   worker holds it, or it is already in sync for its generation: nothing to do.
2. The work runs outside any transaction (AWS calls can take minutes; a transaction held
   across them would block the workflow and, on SQLite, every writer).
3. ``complete`` marks the row in sync only if its generation is still the one read at
   claim time. Otherwise the row changed meanwhile: it goes back to pending and the task is
   enqueued again, so the newest change is never lost.

Errors: a ``TransientError`` puts the row back to pending with the message (the task
retries with backoff); a ``PermanentError`` marks it failed with the message, for an admin
to act on and retry. A removal of access (``Claim.removal``) is never failed: whatever the
error, the row goes back to pending and the task retries until Identity Center confirms
it. An unexpected exception (a bug, a database hiccup) is retried like a transient error
and logged with its traceback.

The claim is a lease: while the work runs, a thread renews ``claimed_at`` every third of
``PROVISIONING_LEASE_SECONDS``. A worker killed mid-task stops renewing, and once the lease
has run out another run (sent by accessgroups.core.dispatch) takes the row over.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models import F
from django.utils import timezone

from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.models import AccessGroup, Membership, ProvisioningStatus, User
from provisioning import aws
from provisioning.errors import NotFoundError, PermanentError, ProvisioningError, TransientError

logger = logging.getLogger(__name__)



def lease_length() -> timedelta:
    """How long a claim holds without being renewed; after that its worker counts as dead."""
    return timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)

# Parameters not worth repeating in every audit event.
_UNAUDITED_PARAMS = frozenset({"InstanceArn", "IdentityStoreId"})


class Outcome(enum.Enum):
    SKIPPED = "skipped"  # already in sync, or another worker holds the row
    IN_SYNC = "in_sync"
    CHANGED = "changed"  # the row changed while we worked: run again
    RETRY = "retry"  # transient error: retry later
    FAILED = "failed"  # permanent error, recorded on the row


@dataclass(frozen=True)
class Claim:
    model: type[models.Model]
    pk: int
    generation: int
    # The previous run did not finish cleanly (it failed, hit a transient error or its
    # worker died): work it may have left half done must be redone, not assumed.
    interrupted: bool
    # The lease this run holds: renewed by the heartbeat only while it is still this one.
    claimed_at: datetime | None = None
    # This run takes access away: it is retried until Identity Center confirms it.
    removal: bool = False


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: ProvisioningError | None = None
    claim: Claim | None = None


def claim(
    model: type[models.Model], pk: int, *, removal: Callable[[int], bool] | None = None
) -> Claim | None:
    """Take the row for provisioning, or None when there is nothing to do or it is taken.

    ``removal(pk)`` says whether the work takes access away (asked once the row is ours).
    """
    row = (
        model.objects.filter(pk=pk)
        .values("generation", "provisioning_status", "last_error")
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    taken = (
        model.objects.filter(pk=pk, generation=row["generation"])
        .exclude(provisioning_status=ProvisioningStatus.FAILED)
        .exclude(provisioning_status=ProvisioningStatus.IN_SYNC, synced_generation=F("generation"))
        .exclude(
            provisioning_status=ProvisioningStatus.PROVISIONING,
            claimed_at__gt=now - lease_length(),
        )
        .update(provisioning_status=ProvisioningStatus.PROVISIONING, claimed_at=now)
    )
    if not taken:
        # Either nothing to do, another worker's claim, or the generation moved between our
        # read and the update; in the last case the change enqueued its own run.
        return None
    return Claim(
        model=model,
        pk=pk,
        generation=row["generation"],
        interrupted=bool(row["last_error"])
        or row["provisioning_status"] == ProvisioningStatus.PROVISIONING,
        claimed_at=now,
        removal=bool(removal and removal(pk)),
    )


@contextmanager
def held(c: Claim) -> Iterator[None]:
    """Renew the claim's lease while the body runs, from a thread of its own.

    A run that takes longer than the lease (an access group with hundreds of accounts) keeps
    its row; a worker that dies stops renewing, and its row is taken over once the lease
    has run out. Renewal stops by itself if another worker took the row over meanwhile.
    """
    stop = threading.Event()
    every = max(lease_length().total_seconds() / 3, 0.05)

    def renew() -> None:
        token = c.claimed_at
        try:
            while not stop.wait(every):
                now = timezone.now()
                renewed = c.model.objects.filter(
                    pk=c.pk, provisioning_status=ProvisioningStatus.PROVISIONING, claimed_at=token
                ).update(claimed_at=now)
                if not renewed:
                    logger.warning(
                        "%s %s: the claim was lost (another worker took it over, or the row "
                        "changed); this run's result may be repeated.", c.model.__name__, c.pk
                    )
                    return
                token = now
        except Exception:
            logger.exception("%s %s: could not renew the claim", c.model.__name__, c.pk)
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=renew, name=f"lease-{c.model.__name__}-{c.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def complete(c: Claim) -> bool:
    """Mark the claimed generation in sync; False (and pending again) when the row changed."""
    now = timezone.now()
    done = c.model.objects.filter(pk=c.pk, generation=c.generation).update(
        provisioning_status=ProvisioningStatus.IN_SYNC,
        synced_generation=c.generation,
        last_error="",
        claimed_at=None,
        provisioned_at=now,
    )
    if not done:
        _back_to_pending(c, "")
    return bool(done)


def fail(c: Claim, message: str) -> bool:
    """Record a permanent error; False (and pending again) when the row changed meanwhile."""
    done = c.model.objects.filter(pk=c.pk, generation=c.generation).update(
        provisioning_status=ProvisioningStatus.FAILED, last_error=message, claimed_at=None
    )
    if not done:
        # The error was about a version of the row that is gone; try the new one.
        _back_to_pending(c, "")
    return bool(done)


def release(c: Claim, message: str) -> None:
    """Give the row back after a transient error; the message says what we wait for."""
    _back_to_pending(c, message)


def _back_to_pending(c: Claim, message: str) -> None:
    c.model.objects.filter(pk=c.pk, provisioning_status=ProvisioningStatus.PROVISIONING).update(
        provisioning_status=ProvisioningStatus.PENDING,
        last_error=message,
        claimed_at=None,
        due_at=timezone.now(),
    )


def plan_retry(c: Claim, countdown: float) -> None:
    """Record when the retry of a released row is due, so the dispatcher waits for it."""
    c.model.objects.filter(pk=c.pk, provisioning_status=ProvisioningStatus.PENDING).update(
        due_at=timezone.now() + timedelta(seconds=countdown)
    )


def give_up(c: Claim, message: str) -> bool:
    """Transient errors went on for too long: fail the row so that a person looks at it.

    Only the generation that kept failing, and only while nobody else is working on it: a
    row changed since has its own run enqueued, which a failed status would stop.
    """
    return bool(
        c.model.objects.filter(
            pk=c.pk, generation=c.generation, provisioning_status=ProvisioningStatus.PENDING
        ).update(provisioning_status=ProvisioningStatus.FAILED, last_error=message, claimed_at=None)
    )


def provision(
    model: type[models.Model],
    pk: int,
    work: Callable[[Claim], None],
    *,
    on_success: Callable[[Claim], None] | None = None,
    on_failure: Callable[[Claim, str], None] | None = None,
    removal: Callable[[int], bool] | None = None,
) -> Result:
    """Run ``work`` for the row under the claiming protocol and say how it ended.

    ``removal(pk)`` tells whether the row's work takes access away: then no error fails it.
    """
    c = claim(model, pk, removal=removal)
    if c is None:
        return Result(Outcome.SKIPPED)
    try:
        with held(c):
            work(c)
    except TransientError as exc:
        logger.info("%s %s: transient error, will retry: %s", model.__name__, pk, exc)
        release(c, exc.message)
        return Result(Outcome.RETRY, exc, c)
    except PermanentError as exc:
        if c.removal:
            # Access must end: the error may be fixed by someone (a permission granted back,
            # a quota raised) without anyone retrying, so keep trying.
            logger.warning("%s %s: removal refused, will retry: %s", model.__name__, pk, exc)
            release(c, f"{exc.message} The removal will be retried until it succeeds.")
            return Result(Outcome.RETRY, TransientError(exc.message), c)
        logger.warning("%s %s: provisioning failed: %s", model.__name__, pk, exc)
        if not fail(c, exc.message):
            return Result(Outcome.CHANGED)
        if on_failure is not None:
            on_failure(c, exc.message)
        return Result(Outcome.FAILED, exc, c)
    except Exception as exc:
        # A bug or a database hiccup: retried like a transient error, with the traceback in
        # the log for whoever fixes it. The row says what happened in words an admin can use.
        logger.exception("%s %s: provisioning stopped on an internal error", model.__name__, pk)
        message = (
            f"The last provisioning attempt stopped on an internal error ({type(exc).__name__}); "
            "it will be retried. The worker's log has the details."
        )
        release(c, message)
        return Result(Outcome.RETRY, TransientError(message), c)
    except BaseException:
        # The worker shutting down: never leave the row looking claimed. The dispatcher
        # sends it again.
        release(c, "The last provisioning attempt was interrupted; it will be retried.")
        raise
    if not complete(c):
        return Result(Outcome.CHANGED)
    if on_success is not None:
        on_success(c)
    return Result(Outcome.IN_SYNC, claim=c)


# --- audited writes --------------------------------------------------------------------------


def write(
    service: str,
    operation: str,
    *,
    obj: models.Model,
    access_group: AccessGroup | None = None,
    subject: User | None = None,
    result: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Call an Identity Center write operation and record it in the audit log."""
    response = aws.call(service, operation, **params)
    record_write(
        operation,
        params,
        response,
        obj=obj,
        access_group=access_group,
        subject=subject,
        result=result,
    )
    return response


def record_write(
    operation: str,
    params: dict[str, Any],
    response: dict[str, Any],
    *,
    obj: models.Model,
    access_group: AccessGroup | None = None,
    subject: User | None = None,
    result: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Audit a write made elsewhere (e.g. on a pipeline thread): what was asked and what came back."""
    data = {k: v for k, v in params.items() if k not in _UNAUDITED_PARAMS}
    if result is not None:
        data.update(result(response))
    audit_record(
        action=f"identity_center.{operation}",
        obj=obj,
        access_group=access_group,
        subject=subject,
        data=data,
    )


def record_drift(
    *,
    obj: models.Model,
    what: str,
    old_id: str,
    new_id: str,
    access_group: AccessGroup | None = None,
    subject: User | None = None,
) -> None:
    """A stored Identity Center id was no longer valid and was replaced (or cleared)."""
    logger.warning(
        "Drift: %s %s was not found in Identity Center; now %s", what, old_id, new_id or "(none)"
    )
    audit_record(
        action="provisioning.drift",
        obj=obj,
        access_group=access_group,
        subject=subject,
        message=f"The stored {what} id was not found in Identity Center.",
        data={"what": what, "old_id": old_id, "new_id": new_id},
    )


def lookup(service: str, operation: str, key: str, **params: Any) -> str | None:
    """A Get...Id read: the id, or None when AWS says there is no such object."""
    try:
        return aws.call(service, operation, **params)[key]
    except NotFoundError:
        return None


def refuse_archived_owner(group: AccessGroup, **stored_id: str) -> None:
    """Refuse to adopt, by name, an object that an archived group of that name still holds.

    An access group's name can be reused once the old group is archived; until the old
    group's teardown has deleted its Identity Center objects, a look-up by name finds those.
    """
    owner = AccessGroup.objects.filter(**stored_id).exclude(pk=group.pk).first()
    if owner is not None:
        raise TransientError(
            f"Identity Center still holds the objects of the archived access group {owner.name} "
            f"(#{owner.pk}); waiting for them to be deleted before {group.name} is provisioned."
        )


# --- follow-up work ---------------------------------------------------------------------------


def resync_memberships(
    memberships: models.QuerySet[Membership], *, exclude_pk: int | None = None
) -> None:
    """Make memberships provision again, e.g. after their group or user was re-created."""
    if exclude_pk is not None:
        memberships = memberships.exclude(pk=exclude_pk)
    pks = list(memberships.values_list("pk", flat=True))
    # A row another worker holds only gets a new generation: its run then ends "changed"
    # and enqueues itself again; taking it from under that worker would run it twice.
    Membership.objects.filter(
        pk__in=pks, provisioning_status=ProvisioningStatus.PROVISIONING
    ).update(generation=F("generation") + 1)
    idle = list(
        Membership.objects.filter(pk__in=pks)
        .exclude(provisioning_status=ProvisioningStatus.PROVISIONING)
        .values_list("pk", flat=True)
    )
    Membership.objects.filter(pk__in=idle).update(last_error="", **sync.pending_fields())
    for pk in idle:
        sync.sync_on_commit(Membership, pk)
