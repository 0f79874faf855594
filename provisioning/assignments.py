"""Account assignments: one per account an access group grants (principal type GROUP).

``CreateAccountAssignment`` and ``DeleteAccountAssignment`` only start the work; AWS
answers IN_PROGRESS and the result is read later with ``Describe...Status``. AWS allows 15
creations outstanding and 20 sso-admin calls per second for the whole fleet, so bulk work
is a pipeline: up to 15 creations in flight (a fleet-wide semaphore slot each, held until
SUCCEEDED or FAILED), their status checks polled together, every call through the 20 TPS
limiter. Calls run on a small thread pool so that AWS's latency does not cap throughput;
the database is written only by the calling thread.

Status checks wait about a second after creation, then back off: polling sooner would
spend the shared budget on answers that cannot have changed, slowing the creations behind.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from accessgroups.models import AccessGroup, AccessGroupAccount, ProvisioningStatus
from provisioning import aws, limits
from provisioning.errors import NotFoundError, PermanentError, ProvisioningError, TransientError
from provisioning.identity_center import record_drift, record_write

logger = logging.getLogger(__name__)

CREATE, DELETE = "create", "delete"
IN_PROGRESS, SUCCEEDED, FAILED = "IN_PROGRESS", "SUCCEEDED", "FAILED"

# Measured with each assignment held IN_PROGRESS for 1 s: a first check after 1 s finds
# most of them done; later checks back off so that slow ones cost little.
FIRST_POLL_SECONDS = 1.0
POLL_BACKOFF = 2.0
MAX_POLL_SECONDS = 8.0
# How often to look for a free creation slot when other workers hold them all.
SLOT_WAIT_SECONDS = 0.05
# Threads making calls. They mostly wait on the rate limiter; 8 keep 20 calls per second
# going with up to ~400 ms of AWS latency per call.
CALL_THREADS = 8
# Deletions have no fleet-wide quota of their own; keep as many in flight as creations.
MAX_DELETIONS_IN_FLIGHT = 15
# Renew a creation slot's lease (limits.Semaphore) well before it could lapse.
LEASE_REFRESH_SECONDS = 60.0
# An assignment still IN_PROGRESS after this is handed to a later retry.
GIVE_UP_AFTER_SECONDS = 900.0

_STATUS_KEY = {CREATE: "AccountAssignmentCreationStatus", DELETE: "AccountAssignmentDeletionStatus"}
_WRITE_OPERATION = {CREATE: "CreateAccountAssignment", DELETE: "DeleteAccountAssignment"}
_DESCRIBE_OPERATION = {
    CREATE: "DescribeAccountAssignmentCreationStatus",
    DELETE: "DescribeAccountAssignmentDeletionStatus",
}
_REQUEST_ID_PARAM = {
    CREATE: "AccountAssignmentCreationRequestId",
    DELETE: "AccountAssignmentDeletionRequestId",
}


@dataclass
class Change:
    """One assignment to create or delete, and how it went."""

    kind: str
    account_id: str
    principal_id: str
    permission_set_arn: str
    status: str = ""
    reason: str = ""
    error: ProvisioningError | None = None
    request_id: str = ""
    token: str | None = None
    started: float = 0.0
    next_poll: float = 0.0
    interval: float = FIRST_POLL_SECONDS
    refreshed: float = 0.0
    # The portal assigns to groups only; the drift scan also removes assignments that
    # were made outside the portal to a user.
    principal_type: str = "GROUP"

    def params(self) -> dict[str, str]:
        return {
            "InstanceArn": aws.instance().arn,
            "TargetId": self.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": self.permission_set_arn,
            "PrincipalType": self.principal_type,
            "PrincipalId": self.principal_id,
        }

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status == SUCCEEDED


def _start(change: Change) -> dict[str, Any]:
    return aws.call("sso-admin", _WRITE_OPERATION[change.kind], **change.params())


def _describe(change: Change) -> dict[str, Any]:
    return aws.call(
        "sso-admin",
        _DESCRIBE_OPERATION[change.kind],
        InstanceArn=aws.instance().arn,
        **{_REQUEST_ID_PARAM[change.kind]: change.request_id},
    )


def run(
    changes: list[Change],
    *,
    on_written: Callable[[Change, dict[str, Any]], None],
    on_done: Callable[[Change], None],
) -> None:
    """Carry out the changes as a pipeline; callbacks run on this thread as results arrive.

    ``on_written(change, response)`` after each create/delete call (for the audit log),
    ``on_done(change)`` once the change SUCCEEDED, FAILED or hit an error.
    """
    if not changes:
        return
    aws.instance()  # discover once, before the threads need it
    semaphore = limits.assignment_creation_semaphore()
    creates = deque(c for c in changes if c.kind == CREATE)
    deletes = deque(c for c in changes if c.kind == DELETE)
    polling: list[Change] = []
    running: dict[Future[dict[str, Any]], tuple[Change, str]] = {}
    deleting = 0

    def finish(change: Change) -> None:
        nonlocal deleting
        if change.token is not None:
            semaphore.release(change.token)
            change.token = None
        if change.kind == DELETE:
            deleting -= 1
        on_done(change)

    try:
        with ThreadPoolExecutor(max_workers=CALL_THREADS, thread_name_prefix="assignments") as pool:
            while creates or deletes or polling or running:
                now = time.monotonic()
                # Status checks first: each finished one frees a slot for the next creation.
                for change in [c for c in polling if c.next_poll <= now]:
                    polling.remove(change)
                    running[pool.submit(_describe, change)] = (change, "describe")
                while deletes and deleting < MAX_DELETIONS_IN_FLIGHT:
                    change = deletes.popleft()
                    deleting += 1
                    change.started = now
                    running[pool.submit(_start, change)] = (change, "start")
                slots_full = False
                while creates and len(running) < CALL_THREADS:
                    token = semaphore.try_acquire()
                    if token is None:
                        slots_full = True
                        break
                    change = creates.popleft()
                    change.token, change.started, change.refreshed = token, now, now
                    running[pool.submit(_start, change)] = (change, "start")

                wake = [c.next_poll - now for c in polling]
                if slots_full:
                    wake.append(SLOT_WAIT_SECONDS)
                timeout = max(0.0, min(wake)) if wake else None
                if not running:
                    time.sleep(timeout or 0.0)
                    continue
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    change, step = running.pop(future)
                    try:
                        response = future.result()
                    except ProvisioningError as exc:
                        change.error = exc
                        finish(change)
                        continue
                    if step == "start":
                        on_written(change, response)
                    state = response[_STATUS_KEY[change.kind]]
                    change.request_id = state.get("RequestId", change.request_id)
                    change.status = state.get("Status", "")
                    change.reason = state.get("FailureReason", "")
                    if change.status != IN_PROGRESS:
                        finish(change)
                        continue
                    now = time.monotonic()
                    if now - change.started > GIVE_UP_AFTER_SECONDS:
                        change.error = TransientError(
                            f"The assignment to account {change.account_id} is still in progress; will check again."
                        )
                        finish(change)
                        continue
                    if change.token is not None and now - change.refreshed > LEASE_REFRESH_SECONDS:
                        semaphore.refresh(change.token)
                        change.refreshed = now
                    change.next_poll = now + change.interval
                    change.interval = min(change.interval * POLL_BACKOFF, MAX_POLL_SECONDS)
                    polling.append(change)
    except limits.LimiterUnavailable as exc:
        raise TransientError(f"Waiting for the limits store to manage assignments: {exc}") from exc
    finally:
        # Only on an unexpected exit are slots still held here.
        for change in changes:
            if change.token is not None:
                try:
                    semaphore.release(change.token)
                except limits.LimiterUnavailable:
                    pass  # the slot's lease runs out by itself
                change.token = None


# --- an access group's assignments ------------------------------------------------------------


@dataclass
class Report:
    """What happened to an access group's assignments in one run."""

    previously_assigned: bool = False
    attempted: int = 0
    failures: list[str] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)

    def raise_for_problems(self, group: AccessGroup) -> None:
        if self.failures:
            shown = "; ".join(self.failures[:5]) + (
                f"; and {len(self.failures) - 5} more" if len(self.failures) > 5 else ""
            )
            raise PermanentError(
                f"{len(self.failures)} of {self.attempted} account assignment changes of {group.name} failed: {shown}. "
                "Fix the cause and retry the access group."
            )
        if self.transient:
            raise TransientError(
                f"{len(self.transient)} account assignments of {group.name} must be retried: "
                + "; ".join(self.transient[:3])
            )


def assigned_accounts(
    group_id: str, permission_set_arn: str | None, **list_params: Any
) -> set[tuple[str, str]]:
    """(account id, permission set ARN) of the group's assignments of the permission set
    (of any permission set if None). ``list_params`` go to the List call (e.g. ``MaxResults``)."""
    found = aws.paginate(
        "sso-admin",
        "ListAccountAssignmentsForPrincipal",
        "AccountAssignments",
        InstanceArn=aws.instance().arn,
        PrincipalId=group_id,
        PrincipalType="GROUP",
        **list_params,
    )
    return {
        (a["AccountId"], a["PermissionSetArn"])
        for a in found
        if permission_set_arn is None or a["PermissionSetArn"] == permission_set_arn
    }


def sync_assignments(group: AccessGroup, *, group_id: str, permission_set_arn: str) -> Report:
    """Assign the permission set to the group in exactly the accounts of its current links."""
    assigned = {account for account, _ in assigned_accounts(group_id, permission_set_arn)}
    links = list(
        group.account_links.select_related("account").filter(
            Q(valid_to__isnull=True) | ~Q(provisioning_status=ProvisioningStatus.IN_SYNC)
        )
    )
    current = {link.account.account_id: link for link in links if link.valid_to is None}
    ended: dict[str, list[AccessGroupAccount]] = {}
    for link in links:
        if link.valid_to is not None:
            ended.setdefault(link.account.account_id, []).append(link)

    report = Report(previously_assigned=bool(assigned & current.keys()))
    mark_links(
        [link for account, link in current.items() if account in assigned],
        current=True,
        status=ProvisioningStatus.IN_SYNC,
    )
    mark_links(
        [
            link
            for account, ls in ended.items()
            if account not in assigned or account in current
            for link in ls
        ],
        current=False,
        status=ProvisioningStatus.IN_SYNC,
    )
    changes = [
        Change(CREATE, account, group_id, permission_set_arn)
        for account in current
        if account not in assigned
    ]
    changes += [
        Change(DELETE, account, group_id, permission_set_arn)
        for account in ended
        if account in assigned and account not in current
    ]
    # Assigned in Identity Center but never granted here (e.g. added in the console).
    for account in sorted(assigned - current.keys() - ended.keys()):
        record_drift(
            obj=group, access_group=group, what="account assignment", old_id=account, new_id=""
        )
        changes.append(Change(DELETE, account, group_id, permission_set_arn))
    apply(group, changes, current=current, ended=ended, report=report)
    return report


def apply(
    group: AccessGroup,
    changes: list[Change],
    *,
    current: dict[str, AccessGroupAccount],
    ended: dict[str, list[AccessGroupAccount]],
    report: Report,
) -> None:
    """Run the changes and record each outcome on its account link rows."""
    report.attempted += len(changes)

    def on_written(change: Change, response: dict[str, Any]) -> None:
        link = current.get(change.account_id) if change.kind == CREATE else None
        record_write(
            _WRITE_OPERATION[change.kind],
            change.params(),
            response,
            obj=link or group,
            access_group=group,
            result=lambda r: {
                "RequestId": r[_STATUS_KEY[change.kind]].get("RequestId", ""),
                "Status": r[_STATUS_KEY[change.kind]].get("Status", ""),
            },
        )

    def on_done(change: Change) -> None:
        is_create = change.kind == CREATE
        links = (
            [current[change.account_id]]
            if is_create and change.account_id in current
            else ended.get(change.account_id, [])
        )
        account_name = links[0].account.name if links else "unknown account"
        where = f"account {change.account_id} ({account_name})"
        if (
            change.error is None
            and change.status == SUCCEEDED
            or (not is_create and isinstance(change.error, NotFoundError))
        ):
            mark_links(links, current=is_create, status=ProvisioningStatus.IN_SYNC)
            return
        if isinstance(change.error, TransientError):
            report.transient.append(f"{where}: {change.error.message}")
            mark_links(
                links,
                current=is_create,
                status=ProvisioningStatus.PENDING,
                error=change.error.message,
            )
            return
        reason = (
            change.error.message
            if change.error
            else (change.reason or f"status {change.status or 'unknown'}")
        )
        verb = "Assigning" if is_create else "Removing"
        message = f"{verb} {group.name} in {where} failed: {reason}"
        report.failures.append(f"{where}: {reason}")
        mark_links(links, current=is_create, status=ProvisioningStatus.FAILED, error=message)

    run(changes, on_written=on_written, on_done=on_done)


def mark_links(
    links: list[AccessGroupAccount], *, current: bool, status: str, error: str = ""
) -> None:
    """Record an outcome on link rows, unless the link was ended or changed meanwhile."""
    pks = [
        link.pk for link in links if link.provisioning_status != status or link.last_error != error
    ]
    if pks:
        # A current link ended by an admin while we worked must keep its pending status.
        AccessGroupAccount.objects.filter(pk__in=pks, valid_to__isnull=current).update(
            provisioning_status=status, last_error=error
        )
