"""Reads of the stored AWS Organizations tree for pages and forms."""

from __future__ import annotations

from typing import Any

from accessgroups.models import OrganizationalUnit, OrganizationsSync


def organizations_sync_status() -> dict[str, Any]:
    """The newest sync (``last_sync``) and, if it failed, the last good one (``last_good``)."""
    last = OrganizationsSync.objects.first()
    good = None
    if last is not None and not last.succeeded:
        good = OrganizationsSync.objects.filter(finished_at__isnull=False, error="").first()
    return {"last_sync": last, "last_good": good}


def organizational_unit_choices() -> list[tuple[str, str]]:
    """``(ou_id, "Root/Workloads (ou-...)")`` for every unit still in the organisation."""
    return [
        (unit.ou_id, str(unit))
        for unit in OrganizationalUnit.objects.filter(gone_at__isnull=True).order_by("path", "ou_id")
    ]
