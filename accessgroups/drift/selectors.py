"""Reading drift findings and scans, for the API and the pages (auditors and admins).

A page of findings is one query whatever its length: the access group is joined.
"""

from __future__ import annotations

from django.db.models import QuerySet

from accessgroups.models import DriftFinding, DriftScan


def drift_findings(*, open: bool | None = None) -> QuerySet[DriftFinding]:
    """Newest first; ``open`` True: only open ones, False: only resolved ones, None: all."""
    findings = DriftFinding.objects.select_related("access_group").order_by("-detected_at", "-id")
    if open is True:
        return findings.open()
    if open is False:
        return findings.resolved()
    return findings


def last_drift_scan() -> DriftScan | None:
    """The scan that started last, running or finished."""
    return DriftScan.objects.order_by("-started_at", "-id").first()
