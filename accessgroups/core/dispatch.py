"""The dispatcher: what the sync port sent and nobody received is sent again.

The sync port marks a row pending in the transaction that changes it, then sends its task
after commit. That send can be lost: the broker was down, the web process died between the
commit and the send, a worker was killed mid-task, a retry could not be scheduled. The row
still says what must happen, so a periodic run (``provisioning_reconcile_task``, every
``RECONCILE_INTERVAL_SECONDS``) finds it and sends it again, removals of access first:

- a pending row whose due time (``due_at``) passed more than ``DISPATCH_GRACE`` ago (or
  one interval, if shorter);
- a claimed row whose lease ran out (its worker died); a lease that will run out before the
  next run is sent with a countdown to that moment, so a dead worker's row is taken over
  within one interval rather than two;
- a failed removal: ending access is never left failed (rows from before that rule, or
  failed by an older worker).

Sending twice is harmless: a task claims its row with a conditional update, and a row
already in sync or claimed by a live worker is skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from accessgroups.core import sync
from accessgroups.models import AccessGroup, AccessGroupAccount, Membership, ProvisioningStatus, User

logger = logging.getLogger(__name__)

# A pending row is given this long after its due time (or one interval, when the dispatcher
# runs more often) before it counts as lost: its task is normally picked up within seconds,
# and sending it again early would only duplicate it.
DISPATCH_GRACE = timedelta(seconds=60)
# Rows sent per model and run: a backlog larger than this is sent over the next runs.
BATCH = 5000

# The models the dispatcher looks at, removals first within each.
MODELS: tuple[type[models.Model], ...] = (Membership, AccessGroup, User)


def removal_q(model: type[models.Model]) -> Q | None:
    """Rows of ``model`` whose provisioning takes access away (None: no such rows)."""
    if model is Membership:
        return Q(ended_at__isnull=False)
    if model is AccessGroup:
        ended_links = AccessGroupAccount.objects.filter(
            access_group=OuterRef("pk"), valid_to__isnull=False
        ).exclude(provisioning_status=ProvisioningStatus.IN_SYNC)
        return Q(archived_at__isnull=False) | Q(Exists(ended_links))
    return None


def in_scope(model: type[models.Model]) -> Q:
    """Rows of ``model`` that provisioning looks after at all.

    A user is provisioned once onboarding was asked for (or they already have an Identity
    Center user); the others (a superuser made on the command line, someone who only signed
    in) wait, pending, until then, and nobody should send them.
    """
    if model is User:
        return Q(onboarding_requested=True) | ~Q(identity_center_user_id="")
    return Q()


def is_removal(model: type[models.Model], pk: int) -> bool:
    condition = removal_q(model)
    return condition is not None and model.objects.filter(condition, pk=pk).exists()


def lease_length() -> timedelta:
    return timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)


@dataclass
class Dispatched:
    """What one run sent: row ids per model, and how many were removals."""

    sent: dict[str, list[int]] = field(default_factory=dict)
    removals: int = 0
    taken_over: int = 0
    unsent: int = 0

    @property
    def total(self) -> int:
        return sum(len(pks) for pks in self.sent.values())


def dispatch_overdue(*, now: datetime, interval: timedelta) -> Dispatched:
    """Send again every row whose task was lost or whose worker died; removals first."""
    result = Dispatched()
    lease = lease_length()
    grace = min(DISPATCH_GRACE, interval)
    plans: list[tuple[bool, type[models.Model], int, float | None]] = []
    for model in MODELS:
        removal = removal_q(model)
        if removal is not None:
            # Ending access is never left failed: the worker retries it until it is done.
            # No due time: sent in this run.
            model.objects.filter(removal, provisioning_status=ProvisioningStatus.FAILED).update(
                provisioning_status=ProvisioningStatus.PENDING, due_at=None
            )
        rows = model.objects.filter(in_scope(model)).filter(
            Q(
                provisioning_status=ProvisioningStatus.PENDING,
                due_at__lte=now - grace,
            )
            | Q(provisioning_status=ProvisioningStatus.PENDING, due_at__isnull=True)
            | Q(provisioning_status=ProvisioningStatus.PROVISIONING, claimed_at__isnull=True)
            # Leases that ran out, or will before the next run.
            | Q(
                provisioning_status=ProvisioningStatus.PROVISIONING,
                claimed_at__lte=now + interval - lease,
            )
        )
        if removal is not None:
            rows = rows.annotate(is_removal=models.ExpressionWrapper(removal, output_field=models.BooleanField()))
            order = ["-is_removal", "due_at", "pk"]
        else:
            rows = rows.annotate(is_removal=models.Value(False))
            order = ["due_at", "pk"]
        for pk, status, claimed_at, removing in rows.order_by(*order).values_list(
            "pk", "provisioning_status", "claimed_at", "is_removal"
        )[:BATCH]:
            countdown = None
            if status == ProvisioningStatus.PROVISIONING and claimed_at is not None:
                expires = claimed_at + lease
                if expires > now:
                    countdown = (expires - now).total_seconds() + 1
                else:
                    result.taken_over += 1
            plans.append((bool(removing), model, pk, countdown))
    # Removals of every kind before anything else: access that must end goes first in the queue.
    plans.sort(key=lambda plan: not plan[0])
    resent: dict[type[models.Model], list[int]] = {}
    for removing, model, pk, countdown in plans:
        task = sync.task_for(model)
        sent = (
            sync.send_now(task, pk, countdown=countdown)
            if countdown is not None
            else sync.send_now(task, pk)
        )
        if not sent:
            result.unsent += 1
            continue
        result.sent.setdefault(model.__name__, []).append(pk)
        result.removals += removing
        if countdown is None:
            resent.setdefault(model, []).append(pk)
    for model, pks in resent.items():
        # Sent again now: due again, so the next run leaves them alone for a while.
        model.objects.filter(pk__in=pks, provisioning_status=ProvisioningStatus.PENDING).update(
            due_at=now
        )
    if result.total or result.unsent:
        logger.warning(
            "Dispatcher sent %d provisioning task(s) again (%d removals, %d taken over from "
            "dead workers); %d could not be sent.",
            result.total, result.removals, result.taken_over, result.unsent,
        )
    return result


@dataclass(frozen=True)
class Backlog:
    """Provisioning work of one kind of row, as the admin page and the metrics show it."""

    kind: str
    pending: int
    provisioning: int
    failed: int
    oldest_pending_at: datetime | None

    @property
    def label(self) -> str:
        return self.kind.replace("_", " ").capitalize()


KINDS: dict[str, type[models.Model]] = {
    "user": User,
    "access_group": AccessGroup,
    "membership": Membership,
}


def provisioning_backlog() -> list[Backlog]:
    """Per kind: rows pending, being worked on and failed, and since when the oldest waits.

    One aggregate query per kind. "Waiting since" is the due time of a pending row, or the
    claim of one being worked on: the age of the oldest is how far behind provisioning is.
    """
    found = []
    for kind, model in KINDS.items():
        counts = model.objects.filter(in_scope(model)).aggregate(
            pending=models.Count("pk", filter=Q(provisioning_status=ProvisioningStatus.PENDING)),
            provisioning=models.Count(
                "pk", filter=Q(provisioning_status=ProvisioningStatus.PROVISIONING)
            ),
            failed=models.Count("pk", filter=Q(provisioning_status=ProvisioningStatus.FAILED)),
            oldest_due=models.Min(
                "due_at", filter=Q(provisioning_status=ProvisioningStatus.PENDING)
            ),
            oldest_claim=models.Min(
                "claimed_at", filter=Q(provisioning_status=ProvisioningStatus.PROVISIONING)
            ),
        )
        waiting = [t for t in (counts["oldest_due"], counts["oldest_claim"]) if t is not None]
        found.append(
            Backlog(
                kind=kind,
                pending=counts["pending"],
                provisioning=counts["provisioning"],
                failed=counts["failed"],
                oldest_pending_at=min(waiting) if waiting else None,
            )
        )
    return found
