"""Celery tasks: thin, idempotent, given ids only.

Each task runs one service under the claiming protocol (provisioning.identity_center) and
turns its outcome into Celery's terms: a transient error retries with exponential backoff
and jitter, up to ``MAX_RETRIES`` times, then the row fails with the last error; a row
that changed while it was being worked on is enqueued again. A removal of access retries
for as long as it takes, at most ``REMOVAL_BACKOFF_CAP_SECONDS`` apart, and so does a user
the identity provider has not created yet (``IDENTITY_PROVIDER_BACKOFF_CAP_SECONDS``).

Every send goes through the sync port's ``send_now``: a broker that is down when a task
wants to retry or run again leaves the row pending, and the dispatcher sends it later.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from celery import Task, shared_task
from celery.exceptions import Retry

from accessgroups.core import sync
from accessgroups.organizations.services import organizations_sync_failed
from provisioning.directory import group_sync
from provisioning.drift import drift_scan
from provisioning.errors import AwaitingIdentityProvider, PermanentError, TransientError
from provisioning.groups import access_group_sync
from provisioning.identity_center import Claim, Outcome, Result, give_up, plan_retry
from provisioning.memberships import membership_give_up, membership_sync
from provisioning.organizations import organizations_sync
from provisioning.users import user_sync

logger = logging.getLogger(__name__)

# 8 retries with the delays below cover about 40 minutes: longer than AWS's throttling
# or an emulator restart lasts, short enough that a real outage shows up as failed rows.
MAX_RETRIES = 8
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_CAP_SECONDS = 600.0
# Access that must end is tried again at least this often, however long AWS refuses.
REMOVAL_BACKOFF_CAP_SECONDS = 300.0
# A user the identity provider has not created yet (IDENTITY_SOURCE=external) is looked for
# again at least this often, for as long as it takes: SCIM pushes within minutes, but a
# person may be assigned to the application days after their request was approved.
IDENTITY_PROVIDER_BACKOFF_CAP_SECONDS = 300.0


def backoff(retries: int, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Seconds before retry number ``retries + 1``: exponential, capped, with full jitter."""
    ceiling = min(cap, BACKOFF_BASE_SECONDS * 2 ** min(retries, 32))
    return random.uniform(ceiling / 2, ceiling)


def _finish(
    task: Task, result: Result, pk: int, give_up_with: Callable[[Claim, str], object] = give_up
) -> str:
    if result.outcome is Outcome.CHANGED:
        sync.send_now(task, pk)
    elif result.outcome is Outcome.RETRY:
        assert result.error is not None and result.claim is not None
        retries = task.request.retries
        if result.claim.removal:
            countdown, limit = backoff(retries, REMOVAL_BACKOFF_CAP_SECONDS), None
        elif isinstance(result.error, AwaitingIdentityProvider):
            countdown, limit = backoff(retries, IDENTITY_PROVIDER_BACKOFF_CAP_SECONDS), None
        elif retries >= MAX_RETRIES:
            message = f"Gave up after {MAX_RETRIES} retries. Last error: {result.error.message}"
            give_up_with(result.claim, message)
            return Outcome.FAILED.value
        else:
            countdown, limit = backoff(retries), MAX_RETRIES
        plan_retry(result.claim, countdown)
        try:
            raise task.retry(exc=result.error, countdown=countdown, max_retries=limit)
        except Retry:
            raise
        except result.error.__class__:
            raise  # eager or direct calls: Celery re-raises the error itself
        except Exception as exc:
            # The broker could not take the retry: the row stays pending and due, and the
            # dispatcher sends it once the broker is back.
            logger.warning("Could not schedule the retry of %s(%s): %s", task.name, pk, exc)
            return Outcome.RETRY.value
    return result.outcome.value


@shared_task(bind=True, max_retries=MAX_RETRIES)
def user_onboard_task(self: Task, user_id: int) -> str:
    result = user_sync(user_id=user_id)
    return _finish(self, result, user_id)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def access_group_sync_task(self: Task, access_group_id: int) -> str:
    result = access_group_sync(access_group_id=access_group_id)
    return _finish(self, result, access_group_id)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def membership_sync_task(self: Task, membership_id: int) -> str:
    result = membership_sync(membership_id=membership_id)
    return _finish(self, result, membership_id, membership_give_up)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def accounts_sync_task(self: Task, actor_id: int | None = None) -> str:
    # The accounts, the OU tree and the links of access groups by OU (provisioning.organizations).
    try:
        summary = organizations_sync(actor_id=actor_id)
    except TransientError as exc:
        if self.request.retries >= MAX_RETRIES:
            _accounts_sync_failed(
                actor_id, f"Gave up after {MAX_RETRIES} retries. Last error: {exc.message}"
            )
            return Outcome.FAILED.value
        raise self.retry(
            exc=exc, countdown=backoff(self.request.retries), max_retries=MAX_RETRIES
        ) from exc
    except PermanentError:
        return Outcome.FAILED.value  # recorded by organizations_sync
    logger.info("Accounts synced from Organizations: %s", summary)
    return Outcome.IN_SYNC.value


def _accounts_sync_failed(actor_id: int | None, message: str) -> None:
    logger.warning("Accounts sync from Organizations failed: %s", message)
    organizations_sync_failed(message=message, actor_id=actor_id)


@shared_task
def drift_scan_task(actor_id: int | None = None) -> str:
    # Not retried: the scan runs again at its next interval, and one that cannot read a
    # group says so in its summary.
    result = drift_scan(requested_by_id=actor_id)
    if result is None:
        return Outcome.SKIPPED.value  # another scan is running
    return Outcome.FAILED.value if result.error else Outcome.IN_SYNC.value


@shared_task
def group_sync_task(actor_id: int | None = None) -> str:
    # Not retried: the refresh runs again at its next interval (GROUP_SYNC_SECONDS), and
    # one that fails keeps the previous cache and says why on the admins' page.
    result = group_sync(requested_by_id=actor_id)
    if result is None:
        return Outcome.SKIPPED.value  # another refresh is running
    return Outcome.FAILED.value if result.error else Outcome.IN_SYNC.value
