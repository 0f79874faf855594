"""Reading Identity Center's groups for approvers and eligibility by group.

One refresh at a time in the whole fleet (accessgroups.directory.services.group_sync_claim):

- identitystore ``ListGroups``: every group, for the names an admin may choose from;
- identitystore ``ListGroupMemberships`` of each group a live access group names as an
  approver or eligible group (and of one just named, whose members were never read);

each in pages of ``PAGE_SIZE`` (the largest AWS accepts), through ``aws.call`` and so within
the fleet-wide identitystore rate. Everything is read before anything is written: a refresh
that fails half-way keeps the previous cache whole and records the error for the admins.
Groups are read by a few threads, which mostly wait on the rate limiter.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from accessgroups.directory.services import (
    ListedGroup,
    group_ids_to_read,
    group_sync_claim,
    group_sync_fail,
    group_sync_heartbeat,
    group_sync_store,
)
from accessgroups.models import GroupSync
from provisioning import aws
from provisioning.errors import NotFoundError, ProvisioningError

logger = logging.getLogger(__name__)

# The largest page ListGroups and ListGroupMemberships accept.
PAGE_SIZE = 100
# Threads reading members: 4 keep 20 calls per second going with up to ~200 ms of latency.
READ_THREADS = 4
HEARTBEAT_SECONDS = 60.0


@dataclass
class Counted:
    """Calls one refresh made (every page, across threads)."""

    calls: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.calls += 1


def _pages(operation: str, result_key: str, counted: Counted, **params: object) -> list[dict]:
    items: list[dict] = []
    token: str | None = None
    while True:
        counted.add()
        page = aws.call(
            "identitystore",
            operation,
            MaxResults=PAGE_SIZE,
            **params,
            **({"NextToken": token} if token else {}),
        )
        items += page.get(result_key, [])
        token = page.get("NextToken")
        if not token:
            return items


def list_groups(store: str, counted: Counted) -> list[ListedGroup]:
    return [
        ListedGroup(
            group_id=g["GroupId"],
            display_name=g.get("DisplayName") or g["GroupId"],
            description=g.get("Description") or "",
        )
        for g in _pages("ListGroups", "Groups", counted, IdentityStoreId=store)
    ]


def group_members(store: str, group_id: str, counted: Counted) -> set[str] | None:
    """User ids in the group (other member kinds skipped); None when the group is gone."""
    try:
        found = _pages(
            "ListGroupMemberships", "GroupMemberships", counted,
            IdentityStoreId=store, GroupId=group_id,
        )
    except NotFoundError:
        return None
    return {m["MemberId"]["UserId"] for m in found if "UserId" in m.get("MemberId", {})}


def group_sync(*, requested_by_id: int | None = None) -> GroupSync | None:
    """Refresh the cache of groups and members; None when another refresh is running."""
    run = group_sync_claim(requested_by_id=requested_by_id)
    if run is None:
        return None
    counted = Counted()
    try:
        store = aws.instance().identity_store_id
        listed = list_groups(store, counted)
        present = {g.group_id for g in listed}
        wanted = [gid for gid in group_ids_to_read() if gid in present]
        members: dict[str, set[str]] = {}
        beat = time.monotonic()
        with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="groups") as pool:
            reads = pool.map(lambda gid: group_members(store, gid, counted), wanted)
            for group_id, read in zip(wanted, reads, strict=True):
                if read is None:
                    # Deleted between the two calls: treat it as not listed.
                    listed = [g for g in listed if g.group_id != group_id]
                else:
                    members[group_id] = read
                if time.monotonic() - beat > HEARTBEAT_SECONDS:
                    group_sync_heartbeat(run=run)
                    beat = time.monotonic()
    except ProvisioningError as exc:
        return group_sync_fail(run=run, error=exc.message, calls=counted.calls)
    except Exception as exc:
        # The claim must not stay running: record why, then let Celery log the traceback.
        group_sync_fail(run=run, error=f"{type(exc).__name__}: {exc}", calls=counted.calls)
        raise
    return group_sync_store(run=run, listed=listed, members=members, calls=counted.calls)
