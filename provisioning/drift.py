"""The drift scan: what Identity Center holds for the portal's access groups against the
database, with the outside changes undone when ``DRIFT_POLICY`` is ``revert``.

One scan at a time in the whole fleet (accessgroups.drift.services.drift_scan_claim). It
scans every live access group whose group and permission set exist, reading each list once,
in pages of ``PAGE_SIZE``, through ``aws.call`` and so within the fleet-wide rate limits:

- identitystore ``ListGroupMemberships`` of its group;
- sso-admin ``ListAccountAssignmentsForPrincipal`` of its group (every permission set, every
  account);
- sso-admin ``DescribePermissionSet`` (session duration: no List answers it),
  ``ListManagedPoliciesInPermissionSet``, ``ListCustomerManagedPolicyReferencesInPermissionSet``,
  ``GetInlinePolicyForPermissionSet``;
- sso-admin ``ListAccountsForProvisionedPermissionSet``, then ``ListAccountAssignments`` (every
  principal) in each of those accounts, in the accounts its links name and in those its group
  is assigned in. AWS provisions a permission set to every account it is assigned in, so on
  AWS the first list names them all; the emulator ignores assignments there (DESIGN.md), and
  the other two sources make the scan work against it, missing only an assignment of the
  permission set to another principal in an account the group has nothing to do with.

Plus one ``DescribeUser`` for each member the portal does not know, to name them.

Groups are read on a few threads (AWS's latency must not cap the rate); the database is
read after Identity Center (provisioning.drift_compare) and written by the calling thread.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from accessgroups.core import sync
from accessgroups.drift.selectors import portal_users
from accessgroups.drift.services import (
    Key,
    Recorded,
    drift_finding_resolve,
    drift_findings_record,
    drift_scan_claim,
    drift_scan_finish,
    drift_scan_heartbeat,
)
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    DriftFinding,
    DriftKind,
    DriftResolution,
    DriftScan,
    Membership,
    ProvisioningStatus,
)
from provisioning import assignments, aws
from provisioning.drift_compare import (
    Comparison,
    Drift,
    PermissionSetSeen,
    Seen,
    Target,
    compare,
    read_expected,
)
from provisioning.errors import NotFoundError, ProvisioningError
from provisioning.identity_center import record_write, resync_memberships, write
from provisioning.permission_sets import (
    attached_customer_managed_policies,
    attached_managed_policies,
    inline_policy_text,
)

logger = logging.getLogger(__name__)

REVERT, REPORT = "revert", "report"
POLICIES = (REVERT, REPORT)
# The largest page every List call used here accepts.
PAGE_SIZE = 100
# Threads reading groups. They mostly wait on the rate limiters; 4 keep 20 calls per
# second going with up to ~200 ms of AWS latency per call.
READ_THREADS = 4
# How often a running scan notes that it is alive (drift_scan_heartbeat).
HEARTBEAT_SECONDS = 60.0


@dataclass
class ScanResult:
    """What one scan found and did, per kind of drift."""

    scan: DriftScan
    policy: str
    groups: int = 0
    new: Counter = field(default_factory=Counter)
    still_open: Counter = field(default_factory=Counter)
    reverted: Counter = field(default_factory=Counter)
    gone: Counter = field(default_factory=Counter)
    revert_failures: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    error: str = ""
    beat_at: float = field(default_factory=time.monotonic)

    def alive(self) -> None:
        """Note that the scan is alive when it is due (reads and reverts can take long)."""
        if time.monotonic() - self.beat_at > HEARTBEAT_SECONDS:
            drift_scan_heartbeat(scan=self.scan)
            self.beat_at = time.monotonic()

    def summary(self) -> dict[str, Any]:
        kinds = {
            kind.value: {
                "new": self.new[kind.value],
                "still_open": self.still_open[kind.value],
                "reverted": self.reverted[kind.value],
                "gone": self.gone[kind.value],
            }
            for kind in DriftKind
        }
        return {
            "kinds": kinds,
            "revert_failures": self.revert_failures,
            "unreadable": self.unreadable,
        }


def drift_scan(
    *, policy: str | None = None, requested_by_id: int | None = None
) -> ScanResult | None:
    """Scan every live, provisioned access group; None when another scan is running."""
    policy = policy or settings.DRIFT_POLICY
    if policy not in POLICIES:
        raise ValueError(f"DRIFT_POLICY must be one of {', '.join(POLICIES)}; got {policy!r}.")
    scan = drift_scan_claim(policy=policy, requested_by_id=requested_by_id)
    if scan is None:
        logger.info("A drift scan is already running; this one is skipped.")
        return None
    result = ScanResult(scan=scan, policy=policy)
    try:
        _scan(result)
    except ProvisioningError as exc:
        result.error = exc.message
        logger.warning("Drift scan %s stopped: %s", scan.pk, exc.message)
    except BaseException:
        drift_scan_finish(
            scan=scan,
            groups_scanned=result.groups,
            summary=result.summary(),
            error="The scan stopped on an internal error; see the worker's log.",
        )
        raise
    drift_scan_finish(
        scan=scan, groups_scanned=result.groups, summary=result.summary(), error=result.error
    )
    return result


def _scan(result: ScanResult) -> None:
    scan = result.scan
    since = scan.started_at
    aws.instance()  # discovered once, before the threads need it
    targets = _targets()
    seen: list[Seen] = []
    with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="drift") as pool:
        for read in pool.map(read_group, targets):
            seen.append(read)
            result.alive()
    readable = [s for s in seen if not s.error]
    for s in seen:
        if s.error:
            result.unreadable[s.target.name] = s.error
    result.groups = len(readable)
    users = portal_users()
    user_names = _user_names(readable, users)

    expected = read_expected(readable, since=since, users_by_ic_id=users)
    drifts: dict[Key, Drift] = {}
    comparisons: dict[int, Comparison] = {}
    for s in readable:
        found, comparison = compare(s, expected, since=since, user_names=user_names)
        comparisons[s.target.pk] = comparison
        for drift in found:
            drifts.setdefault(drift.observed.key, drift)

    def compared(finding: DriftFinding) -> bool:
        comparison = comparisons.get(finding.access_group_id)
        return comparison is not None and comparison.covers(finding)

    recorded = drift_findings_record(
        observed=[d.observed for d in drifts.values()],
        scanned_group_ids=list(comparisons),
        compared=compared,
    )
    for finding in recorded.new:
        result.new[finding.kind] += 1
    for finding in recorded.still_open:
        result.still_open[finding.kind] += 1
    for finding in recorded.gone:
        result.gone[finding.kind] += 1
    if result.policy == REVERT:
        revert(recorded, drifts, result)


def _targets() -> list[Target]:
    """Live access groups whose group and permission set exist (the rest has nothing to
    compare yet), with the accounts their link rows name."""
    groups = list(
        AccessGroup.objects.live()
        .exclude(identity_center_group_id="")
        .exclude(permission_set_arn="")
        .order_by("name", "pk")
        .values_list("pk", "name", "identity_center_group_id", "permission_set_arn")
    )
    accounts: dict[int, set[str]] = {}
    for group_pk, account_id in (
        AccessGroupAccount.objects.filter(access_group_id__in=[g[0] for g in groups])
        .filter(Q(valid_to__isnull=True) | ~Q(provisioning_status=ProvisioningStatus.IN_SYNC))
        .values_list("access_group_id", "account__account_id")
    ):
        accounts.setdefault(group_pk, set()).add(account_id)
    return [
        Target(pk, name, group_id, arn, frozenset(accounts.get(pk, ())))
        for pk, name, group_id, arn in groups
    ]


# --- reading Identity Center (on the scan's threads: AWS only, no database) -----------------


def _listed(service: str, operation: str, result_key: str, **params: Any) -> Iterator[Any]:
    """Every item of a List call; none when AWS says the object listed from is gone."""
    try:
        yield from aws.paginate(service, operation, result_key, MaxResults=PAGE_SIZE, **params)
    except NotFoundError:
        return


def read_group(target: Target) -> Seen:
    """What Identity Center holds for one access group; ``error`` says why it could not be read."""
    seen = Seen(target=target)
    inst = aws.instance()
    try:
        for m in _listed(
            "identitystore",
            "ListGroupMemberships",
            "GroupMemberships",
            IdentityStoreId=inst.identity_store_id,
            GroupId=target.group_id,
        ):
            user_id = (m.get("MemberId") or {}).get("UserId")
            if user_id:
                seen.members.setdefault(user_id, []).append(m["MembershipId"])
        seen.group_assignments = {
            (a["AccountId"], a["PermissionSetArn"])
            for a in _listed(
                "sso-admin",
                "ListAccountAssignmentsForPrincipal",
                "AccountAssignments",
                InstanceArn=inst.arn,
                PrincipalId=target.group_id,
                PrincipalType="GROUP",
            )
        }
        seen.permission_set = _read_permission_set(target.arn)
        if seen.permission_set.exists:
            accounts = set(
                _listed(
                    "sso-admin",
                    "ListAccountsForProvisionedPermissionSet",
                    "AccountIds",
                    InstanceArn=inst.arn,
                    PermissionSetArn=target.arn,
                )
            )
            accounts |= target.accounts
            accounts |= {a for a, arn in seen.group_assignments if arn == target.arn}
            for account in sorted(accounts):
                for a in _listed(
                    "sso-admin",
                    "ListAccountAssignments",
                    "AccountAssignments",
                    InstanceArn=inst.arn,
                    AccountId=account,
                    PermissionSetArn=target.arn,
                ):
                    seen.permission_set_assignments.add(
                        (a["AccountId"], a["PrincipalType"], a["PrincipalId"])
                    )
    except ProvisioningError as exc:
        seen.error = exc.message
    return seen


def _read_permission_set(arn: str) -> PermissionSetSeen:
    try:
        described = aws.call(
            "sso-admin",
            "DescribePermissionSet",
            InstanceArn=aws.instance().arn,
            PermissionSetArn=arn,
        )["PermissionSet"]
    except NotFoundError:
        return PermissionSetSeen(exists=False)
    return PermissionSetSeen(
        exists=True,
        session_duration=described.get("SessionDuration", ""),
        managed=attached_managed_policies(arn, MaxResults=PAGE_SIZE),
        customer=attached_customer_managed_policies(arn, MaxResults=PAGE_SIZE),
        inline_text=inline_policy_text(arn),
    )


def _user_names(seen: list[Seen], users: dict[str, tuple[int, str]]) -> dict[str, str]:
    """UserName of each member the portal does not know (one DescribeUser each)."""
    ids = {user_id for s in seen for user_id in s.members}
    ids |= {p for s in seen for _, kind, p in s.permission_set_assignments if kind == "USER"}
    names = {}
    store = aws.instance().identity_store_id
    for user_id in sorted(ids - users.keys()):
        try:
            names[user_id] = aws.call(
                "identitystore", "DescribeUser", IdentityStoreId=store, UserId=user_id
            ).get("UserName", "")
        except ProvisioningError as exc:
            logger.info("Cannot name Identity Center user %s: %s", user_id, exc.message)
    return names


# --- undoing ------------------------------------------------------------------------------------


def revert(recorded: Recorded, drifts: dict[Key, Drift], result: ScanResult) -> None:
    """Undo what the scan saw and resolve each finding undone (``reverted``).

    Outside additions are deleted here; what is missing is handed to provisioning, which
    writes what the database says: memberships provisioned again, the access group synced
    (its assignments and its permission set). A finding whose undoing failed stays open.
    """
    open_by_key = recorded.open_by_key()
    work = [(open_by_key[key], drift) for key, drift in drifts.items() if key in open_by_key]
    _remove_members([w for w in work if w[0].kind == DriftKind.UNEXPECTED_MEMBER], result)
    _remove_assignments([w for w in work if w[0].kind == DriftKind.UNEXPECTED_ASSIGNMENT], result)
    for finding, drift in work:
        if finding.kind == DriftKind.MISSING_MEMBER:
            with transaction.atomic():
                resync_memberships(Membership.objects.filter(pk__in=drift.membership_pks))
                _resolved(finding, result, how="membership provisioned again")
    groups: dict[int, list[tuple[DriftFinding, Drift]]] = {}
    for finding, drift in work:
        if finding.kind in (DriftKind.MISSING_ASSIGNMENT, DriftKind.PERMISSION_SET_CHANGED):
            groups.setdefault(finding.access_group_id, []).append((finding, drift))
    for items in groups.values():
        with transaction.atomic():
            # Not confirmed in Identity Center any more, until the sync has made it again.
            AccessGroupAccount.objects.filter(
                pk__in=[pk for _, drift in items for pk in drift.link_pks],
                valid_to__isnull=True,
                provisioning_status=ProvisioningStatus.IN_SYNC,
            ).update(provisioning_status=ProvisioningStatus.PENDING)
            sync.request_sync(items[0][0].access_group)
            for finding, _ in items:
                _resolved(finding, result, how="access group synced")


def _resolved(finding: DriftFinding, result: ScanResult, *, how: str) -> None:
    result.alive()
    if drift_finding_resolve(finding=finding, resolution=DriftResolution.REVERTED, how=how):
        result.reverted[finding.kind] += 1


def _failed(finding: DriftFinding, result: ScanResult, message: str) -> None:
    result.alive()
    logger.warning("Could not revert drift %s: %s", finding.pk, message)
    result.revert_failures.append(f"{finding.detail} Not reverted: {message}")


def _remove_members(work: list[tuple[DriftFinding, Drift]], result: ScanResult) -> None:
    store = aws.instance().identity_store_id
    for finding, drift in work:
        if finding.user_id is not None and (
            Membership.objects.filter(
                user_id=finding.user_id, access_group_id=finding.access_group_id
            )
            .filter(Q(ended_at__isnull=True) | ~Q(provisioning_status=ProvisioningStatus.IN_SYNC))
            .exists()
        ):
            # Granted (or being changed) since the scan read the database: not ours to remove.
            continue
        try:
            for membership_id in drift.membership_ids:
                try:
                    write(
                        "identitystore",
                        "DeleteGroupMembership",
                        obj=finding.access_group,
                        access_group=finding.access_group,
                        subject=finding.user,
                        IdentityStoreId=store,
                        MembershipId=membership_id,
                    )
                except NotFoundError:
                    pass  # gone already: that is what we wanted
        except ProvisioningError as exc:
            _failed(finding, result, exc.message)
            continue
        _resolved(finding, result, how="membership deleted")


def _remove_assignments(work: list[tuple[DriftFinding, Drift]], result: ScanResult) -> None:
    """DeleteAccountAssignment for each, pipelined and polled like the portal's own."""
    by_change: dict[int, DriftFinding] = {}
    changes = []
    for finding, drift in work:
        change = assignments.Change(
            assignments.DELETE,
            finding.account_id,
            drift.principal_id,
            finding.permission_set_arn,
            principal_type=finding.principal_type,
        )
        by_change[id(change)] = finding
        changes.append(change)

    def on_written(change: assignments.Change, response: dict[str, Any]) -> None:
        finding = by_change[id(change)]
        record_write(
            "DeleteAccountAssignment",
            change.params(),
            response,
            obj=finding.access_group,
            access_group=finding.access_group,
            subject=finding.user,
            result=lambda r: {
                "RequestId": r["AccountAssignmentDeletionStatus"].get("RequestId", ""),
                "Status": r["AccountAssignmentDeletionStatus"].get("Status", ""),
            },
        )

    def on_done(change: assignments.Change) -> None:
        finding = by_change[id(change)]
        if change.succeeded or isinstance(change.error, NotFoundError):
            _resolved(finding, result, how="assignment deleted")
        else:
            reason = change.error.message if change.error else (change.reason or change.status)
            _failed(finding, result, reason or "no reason given")

    try:
        assignments.run(changes, on_written=on_written, on_done=on_done)
    except ProvisioningError as exc:
        # The limits store went away: what was not resolved stays open for the next scan.
        for change in changes:
            finding = by_change[id(change)]
            if finding.is_open:
                _failed(finding, result, exc.message)
