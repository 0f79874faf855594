"""The one way the domain asks for Identity Center to be brought in line: the sync port.

A row with an Identity Center side (a user, an access group, a membership) records that it
needs provisioning by bumping its ``generation`` and going back to ``pending``; once the
transaction commits, the task registered for its model is sent the row's id
(``task.delay(pk)``). ``provisioning`` registers its Celery tasks here in its
``AppConfig.ready()``, so the domain never imports it, and a rolled-back change sends
nothing.

The pending mark is written in the same transaction as the change that needs it, so it is
the durable record of the work (an outbox); the send after commit is only the fast path.
When the send fails (the broker is down) or never happens (the process died after the
commit), the change still stands and its caller gets its normal answer:
``accessgroups.core.dispatch`` sends again every row that is overdue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from accessgroups.models import ProvisioningStatus

logger = logging.getLogger(__name__)


class Task(Protocol):
    """What the port sends work to: a Celery task, or anything with ``delay``."""

    name: str

    def delay(self, *args: Any) -> Any: ...

    def apply_async(self, args: tuple[Any, ...], **options: Any) -> Any: ...


# What provisioning registered: a model -> a task taking its pk; ACCOUNTS and DRIFT_SCAN ->
# a task taking the id of the admin who asked.
_tasks: dict[object, Task] = {}
ACCOUNTS = "accounts"
DRIFT_SCAN = "drift_scan"
GROUP_SYNC = "group_sync"


def register(key: type[models.Model] | str, task: Task) -> None:
    """Called by provisioning at start-up.

    ``register(Model, task)``: ``task.delay(pk)`` brings one row of Model in line;
    ``register(ACCOUNTS, task)``: ``task.delay(actor_id)`` reads the AWS accounts;
    ``register(DRIFT_SCAN, task)``: ``task.delay(actor_id)`` compares Identity Center with
    the database;
    ``register(GROUP_SYNC, task)``: ``task.delay(actor_id)`` reads Identity Center's groups
    and the members of those access groups name.
    """
    _tasks[key] = task


def registered_tasks() -> list[Task]:
    return list(_tasks.values())


def pending_fields() -> dict[str, Any]:
    """The update that marks a row as needing provisioning, to fold into a bigger update."""
    # last_error stays: a run after a failure must know the last one may have left work half
    # done (provisioning.identity_center.claim); callers that start afresh clear it themselves.
    return {
        "generation": F("generation") + 1,
        "provisioning_status": ProvisioningStatus.PENDING,
        "due_at": timezone.now(),
    }


def request_sync(obj: models.Model) -> None:
    """Mark ``obj`` as needing provisioning and sync it once the transaction commits."""
    type(obj).objects.filter(pk=obj.pk).update(**pending_fields())
    sync_on_commit(type(obj), obj.pk)


def sync_on_commit(
    model: type[models.Model], pk: int, *, then: Callable[[], object] | None = None
) -> None:
    """Sync a row already marked pending (by ``pending_fields``) once the transaction commits.

    ``then`` runs right after the task was sent, in the same on-commit callback.
    """
    _send_on_commit(model, pk, then)


def accounts_sync_on_commit(actor_id: int | None) -> None:
    """Read the AWS accounts from Organizations once the transaction commits."""
    _send_on_commit(ACCOUNTS, actor_id)


def drift_scan_on_commit(actor_id: int | None) -> None:
    """Scan Identity Center for drift once the transaction commits."""
    _send_on_commit(DRIFT_SCAN, actor_id)


def group_sync_on_commit(actor_id: int | None) -> None:
    """Read Identity Center's groups and their members once the transaction commits."""
    _send_on_commit(GROUP_SYNC, actor_id)


def _send_on_commit(key: object, arg: Any, then: Callable[[], object] | None = None) -> None:
    task = task_for(key)  # refuse now, inside the transaction, rather than after commit

    def send() -> None:
        send_now(task, arg)
        if then is not None:
            then()

    transaction.on_commit(send)


def send_now(task: Task, *args: Any, **options: Any) -> bool:
    """Send ``task`` now; False, logged, when the broker cannot take it.

    The work is recorded in the database already (a pending row), so a broker that is down
    delays it until the dispatcher's next run; it never turns a committed change into an
    error for the person who made it. ``options`` go to ``apply_async`` (``countdown``).
    """
    try:
        if options:
            task.apply_async(args=args, **options)
        else:
            task.delay(*args)
    except Exception as exc:  # kombu's OperationalError, redis errors, a full disk...
        logger.warning(
            "Could not queue %s%r (%s: %s); the dispatcher will send it again.",
            getattr(task, "name", task), args, type(exc).__name__, exc,
        )
        return False
    return True


def task_for(key: object) -> Task:
    """The task registered for ``key`` (a model, or ``ACCOUNTS``)."""
    try:
        return _tasks[key]
    except KeyError:
        name = getattr(key, "__name__", key)
        raise ImproperlyConfigured(
            f"No sync is registered for {name}: is provisioning installed?"
        ) from None
