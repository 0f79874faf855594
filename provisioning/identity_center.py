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
to act on and retry.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import models
from django.db.models import F
from django.utils import timezone

from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.models import AccessGroup, Membership, ProvisioningStatus, User
from provisioning import aws
from provisioning.errors import NotFoundError, PermanentError, ProvisioningError, TransientError

logger = logging.getLogger(__name__)

# A claim older than this is taken to belong to a worker that died. Generous: one access
# group with 500 accounts takes about a minute at AWS's limits, and longer while other
# workers share the same limits.
STALE_CLAIM_AFTER = timedelta(minutes=30)

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


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: ProvisioningError | None = None
    claim: Claim | None = None


def claim(model: type[models.Model], pk: int) -> Claim | None:
    """Take the row for provisioning, or None when there is nothing to do or it is taken."""
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
            claimed_at__gt=now - STALE_CLAIM_AFTER,
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
    )


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
        provisioning_status=ProvisioningStatus.PENDING, last_error=message, claimed_at=None
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
) -> Result:
    """Run ``work`` for the row under the claiming protocol and say how it ended."""
    c = claim(model, pk)
    if c is None:
        return Result(Outcome.SKIPPED)
    try:
        work(c)
    except TransientError as exc:
        logger.info("%s %s: transient error, will retry: %s", model.__name__, pk, exc)
        release(c, exc.message)
        return Result(Outcome.RETRY, exc, c)
    except PermanentError as exc:
        logger.warning("%s %s: provisioning failed: %s", model.__name__, pk, exc)
        if not fail(c, exc.message):
            return Result(Outcome.CHANGED)
        if on_failure is not None:
            on_failure(c, exc.message)
        return Result(Outcome.FAILED, exc, c)
    except BaseException:
        # A bug, or the worker shutting down: never leave the row looking claimed.
        release(
            c, "The last provisioning attempt stopped on an internal error; it will be retried."
        )
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
