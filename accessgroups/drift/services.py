"""Drift findings: asking for a scan, claiming the one running scan, recording what a scan
saw, resolving.

The scan itself reads Identity Center, so it lives in provisioning (provisioning.drift); it
hands what differs here as ``Observed`` values, and these functions own the rows and the
audit log (``drift.detected``, ``drift.resolved``). The API and the pages read through
accessgroups.drift.selectors and ask for a scan with ``drift_scan_request``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.core.roles import require_admin
from accessgroups.models import DriftFinding, DriftResolution, DriftScan, User

logger = logging.getLogger(__name__)

# A running scan notes that it is alive at least this often (provisioning.drift); one
# silent for this long belonged to a worker that died, and the next scan takes over.
STALE_SCAN_AFTER = timedelta(minutes=15)

Key = tuple[str, int, str, str, str, str]


@dataclass(frozen=True)
class Observed:
    """One difference a scan saw, in the words a finding records."""

    kind: str
    access_group_id: int
    detail: str
    principal_type: str = ""
    principal: str = ""
    user_id: int | None = None
    account_id: str = ""
    permission_set_arn: str = ""

    @property
    def key(self) -> Key:
        return (
            self.kind,
            self.access_group_id,
            self.principal_type,
            self.principal,
            self.account_id,
            self.permission_set_arn,
        )


def finding_key(finding: DriftFinding) -> Key:
    return (
        finding.kind,
        finding.access_group_id,
        finding.principal_type,
        finding.principal,
        finding.account_id,
        finding.permission_set_arn,
    )


@dataclass
class Recorded:
    """What one scan did to the findings: new ones, ones still seen, ones no longer seen."""

    new: list[DriftFinding] = field(default_factory=list)
    still_open: list[DriftFinding] = field(default_factory=list)
    gone: list[DriftFinding] = field(default_factory=list)

    def open_by_key(self) -> dict[Key, DriftFinding]:
        return {finding_key(f): f for f in self.new + self.still_open}


# --- scans ------------------------------------------------------------------------------------


def drift_scan_request(*, actor: User) -> None:
    """Ask a worker to scan Identity Center for drift (admins)."""
    require_admin(actor)
    with transaction.atomic():
        audit_record(action="drift.scan_requested", actor=actor)
        sync.drift_scan_on_commit(actor.pk)


def drift_scan_claim(*, policy: str, requested_by_id: int | None = None) -> DriftScan | None:
    """Start a scan, or None when another one is running in the fleet.

    A scan whose worker died (no heartbeat for STALE_SCAN_AFTER) is marked abandoned first.
    """
    now = timezone.now()
    DriftScan.objects.filter(running=True, heartbeat_at__lt=now - STALE_SCAN_AFTER).update(
        running=False,
        finished_at=now,
        error="Abandoned: the worker running it stopped answering.",
    )
    try:
        with transaction.atomic():
            return DriftScan.objects.create(
                policy=policy, requested_by_id=requested_by_id, started_at=now, heartbeat_at=now
            )
    except IntegrityError:
        return None


def drift_scan_heartbeat(*, scan: DriftScan) -> None:
    DriftScan.objects.filter(pk=scan.pk, running=True).update(heartbeat_at=timezone.now())


def drift_scan_finish(
    *, scan: DriftScan, groups_scanned: int, summary: dict[str, Any], error: str = ""
) -> None:
    DriftScan.objects.filter(pk=scan.pk).update(
        running=False,
        finished_at=timezone.now(),
        groups_scanned=groups_scanned,
        summary=summary,
        error=error,
    )


# --- findings ---------------------------------------------------------------------------------


def drift_findings_record(
    *,
    observed: Iterable[Observed],
    scanned_group_ids: Collection[int],
    compared: Callable[[DriftFinding], bool],
) -> Recorded:
    """Record one scan's differences.

    A difference with no open finding opens one (``drift.detected``); one already open
    stays open (its detail brought up to date). An open finding of a scanned group that the
    scan compared (``compared(finding)``) but no longer saw is resolved as gone; one it did
    not compare (its rows were being provisioned, say) is left for a later scan. Open
    findings of archived groups are gone: the archive removes the group's objects.
    """
    recorded = Recorded()
    seen: dict[Key, Observed] = {}
    for difference in observed:
        seen.setdefault(difference.key, difference)
    open_findings = {
        finding_key(f): f
        for f in DriftFinding.objects.open()
        .filter(access_group_id__in=scanned_group_ids)
        .select_related("access_group", "user")
    }
    for key, difference in seen.items():
        finding = open_findings.get(key)
        if finding is not None:
            if finding.detail != difference.detail:
                DriftFinding.objects.filter(pk=finding.pk).update(detail=difference.detail)
                finding.detail = difference.detail
            recorded.still_open.append(finding)
            continue
        created = _open(difference)
        if created is not None:
            recorded.new.append(created)
    for key, finding in open_findings.items():
        if (
            key not in seen
            and compared(finding)
            and drift_finding_resolve(finding=finding, resolution=DriftResolution.GONE)
        ):
            recorded.gone.append(finding)
    archived = DriftFinding.objects.open().filter(access_group__archived_at__isnull=False)
    for finding in archived.select_related("access_group", "user"):
        if drift_finding_resolve(
            finding=finding, resolution=DriftResolution.GONE, how="access group archived"
        ):
            recorded.gone.append(finding)
    return recorded


def _open(difference: Observed) -> DriftFinding | None:
    try:
        with transaction.atomic():
            finding = DriftFinding.objects.create(
                kind=difference.kind,
                access_group_id=difference.access_group_id,
                principal_type=difference.principal_type,
                principal=difference.principal,
                user_id=difference.user_id,
                account_id=difference.account_id,
                permission_set_arn=difference.permission_set_arn,
                detail=difference.detail,
            )
            audit_record(
                action="drift.detected",
                obj=finding,
                access_group=finding.access_group,
                subject=finding.user,
                message=finding.detail,
                data=_audit_data(finding),
            )
    except IntegrityError:
        # Opened meanwhile by someone else (scans are claimed one at a time, so this is
        # a manual row): the open finding stands.
        logger.warning("Drift finding %s was already open", difference.key)
        return None
    return finding


def drift_finding_resolve(*, finding: DriftFinding, resolution: str, how: str = "") -> bool:
    """Resolve an open finding (``drift.resolved``); False when it was resolved already."""
    now = timezone.now()
    with transaction.atomic():
        done = DriftFinding.objects.filter(pk=finding.pk, resolved_at__isnull=True).update(
            resolved_at=now, resolution=resolution
        )
        if not done:
            return False
        finding.resolved_at, finding.resolution = now, resolution
        audit_record(
            action="drift.resolved",
            obj=finding,
            access_group=finding.access_group,
            subject=finding.user,
            message=f"{finding.get_resolution_display()}: {finding.detail}",
            data={
                **_audit_data(finding),
                "resolution": resolution,
                **({"how": how} if how else {}),
            },
        )
    return True


def _audit_data(finding: DriftFinding) -> dict[str, str]:
    data = {"kind": finding.kind, "principal": finding.principal, "account_id": finding.account_id}
    if finding.principal_type:
        data["principal_type"] = finding.principal_type
    if finding.permission_set_arn:
        data["permission_set_arn"] = finding.permission_set_arn
    return data
