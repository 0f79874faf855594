"""Reads of the stored AWS Organizations tree for pages and forms."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accessgroups.models import AuditEvent, OrganizationalUnit, OrganizationsSync

# A sync asked for this long ago and still without a result is not waited for any more: the
# page says so (is a worker running?) rather than polling for ever.
SYNC_WAIT = timedelta(minutes=10)


def organizations_sync_status(*, now: datetime | None = None) -> dict[str, Any]:
    """The newest sync (``last_sync``) and, if it failed, the last good one (``last_good``);
    ``sync_asked_at``, when a sync was asked for and no result has come since, and
    ``sync_running``, while that is recent enough to wait for."""
    last = OrganizationsSync.objects.first()
    good = None
    if last is not None and not last.succeeded:
        good = OrganizationsSync.objects.filter(finished_at__isnull=False, error="").first()
    # Every request is audited (catalogue.accounts_sync); the index on (action, sequence)
    # finds the newest at once.
    asked = (
        AuditEvent.objects.filter(action="account.sync_requested")
        .order_by("-sequence")
        .values_list("created_at", flat=True)
        .first()
    )
    if asked is not None and last is not None and last.finished_at and last.finished_at >= asked:
        asked = None
    running = asked is not None and asked > (now or timezone.now()) - SYNC_WAIT
    return {"last_sync": last, "last_good": good, "sync_asked_at": asked, "sync_running": running}


def organizational_unit_choices() -> list[tuple[str, str]]:
    """``(ou_id, "Root/Workloads (ou-...)")`` for every unit still in the organisation."""
    return [
        (unit.ou_id, str(unit))
        for unit in OrganizationalUnit.objects.filter(gone_at__isnull=True).order_by("path", "ou_id")
    ]
