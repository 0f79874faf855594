"""The cache of Identity Center groups: naming them on an access group, asking for a refresh,
claiming the one running refresh and storing what it read.

The refresh itself reads AWS, so it lives in provisioning (provisioning.directory); it hands
what it read here, and these functions own the rows and the audit log. Nothing here calls
AWS: a page or an API call asks for a refresh and a worker runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.core.roles import require_admin
from accessgroups.models import (
    AccessGroup,
    GroupSync,
    IdentityCenterGroup,
    IdentityCenterGroupMember,
    User,
)

logger = logging.getLogger(__name__)

# A running refresh notes that it is alive after each group it reads; one silent this long
# belonged to a worker that died, and the next refresh takes over.
STALE_SYNC_AFTER = timedelta(minutes=10)
# Refreshes are kept this long (one every GROUP_SYNC_SECONDS would otherwise pile up).
KEEP_SYNCS_FOR = timedelta(days=30)
# Members removed per DELETE: under SQLite's oldest limit on query parameters (999).
DELETE_BATCH = 500
# The two fields of an access group that name Identity Center groups.
GROUP_FIELDS = ("approver_groups", "eligible_groups")


@dataclass(frozen=True)
class ListedGroup:
    """A group as ListGroups returns it."""

    group_id: str
    display_name: str
    description: str = ""


# --- naming groups on an access group -----------------------------------------------------


def portal_group_filter() -> Q:
    """Identity Center groups that are the portal's own access groups (by id or by name).

    Their members are the portal's own grants: letting them approve or gate another group
    would let one approval widen who decides elsewhere, so they cannot be named.
    """
    live = AccessGroup.objects.live()
    ids = live.exclude(identity_center_group_id="").values("identity_center_group_id")
    return Q(group_id__in=ids) | Q(display_name__in=live.values("name"))


def identity_center_groups_nameable():
    """Groups an access group may name: present in Identity Center, not the portal's own."""
    return IdentityCenterGroup.objects.present().exclude(portal_group_filter())


def resolve_group_names(names: Iterable[str], *, field: str) -> list[IdentityCenterGroup]:
    """The cached groups of these display names; ValidationError on ``field`` otherwise."""
    names = [str(n).strip() for n in names]
    if len(set(names)) != len(names):
        raise ValidationError({field: "Each Identity Center group may be named once."})
    present = IdentityCenterGroup.objects.present().filter(display_name__in=names)
    found = {g.display_name: g for g in present}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValidationError(
            {
                field: f"Unknown Identity Center group(s) {', '.join(map(repr, unknown))}: "
                "no such group was listed at the last refresh (names are case-sensitive; "
                "refresh the groups if it was just created)."
            }
        )
    own = set(
        IdentityCenterGroup.objects.filter(pk__in=[g.pk for g in found.values()])
        .filter(portal_group_filter())
        .values_list("display_name", flat=True)
    )
    if own:
        raise ValidationError(
            {
                field: f"{', '.join(map(repr, sorted(own)))} is an access group of this portal; "
                "name a group from the identity provider instead."
            }
        )
    return [found[n] for n in names]


def group_entitlement_changes(
    group: AccessGroup, cleaned: Mapping[str, list[IdentityCenterGroup]]
) -> dict[str, dict[str, list[str]]]:
    """Set the group fields given in ``cleaned``; returns what changed, for the audit log.

    When a newly named group's members were never read, a refresh is asked for, so that its
    members count within seconds rather than at the next interval.
    """
    changes: dict[str, dict[str, list[str]]] = {}
    unread = False
    for field in GROUP_FIELDS:
        if field not in cleaned:
            continue
        related = getattr(group, field)
        before = set(related.values_list("display_name", flat=True))
        after = {g.display_name for g in cleaned[field]}
        if before == after:
            continue
        related.set(cleaned[field])
        changes[field] = {"added": sorted(after - before), "removed": sorted(before - after)}
        unread = unread or any(g.members_synced_at is None for g in cleaned[field])
    if unread:
        sync.group_sync_on_commit(None)
    return changes


def require_an_approver(group: AccessGroup) -> None:
    """A requestable group needs someone to decide: an approver by name or by group."""
    if not group.requestable:
        return
    if group.approvers.exists() or group.approver_groups.exists():
        return
    raise ValidationError(
        {
            "approvers": "A requestable access group needs at least one approver: name one in "
            "approvers or approver_groups, or make the group not requestable."
        }
    )


# --- refreshing the cache ---------------------------------------------------------------------


def group_sync_request(*, actor: User) -> None:
    """Ask a worker to read the Identity Center groups and their members now (admins)."""
    require_admin(actor)
    with transaction.atomic():
        audit_record(action="identity_center_groups.sync_requested", actor=actor)
        sync.group_sync_on_commit(actor.pk)


def group_sync_claim(*, requested_by_id: int | None = None) -> GroupSync | None:
    """Start a refresh, or None when another one is running in the fleet."""
    now = timezone.now()
    GroupSync.objects.filter(running=True, heartbeat_at__lt=now - STALE_SYNC_AFTER).update(
        running=False, finished_at=now, error="Abandoned: the worker running it stopped answering."
    )
    GroupSync.objects.filter(running=False, started_at__lt=now - KEEP_SYNCS_FOR).delete()
    try:
        with transaction.atomic():
            return GroupSync.objects.create(
                requested_by_id=requested_by_id, started_at=now, heartbeat_at=now
            )
    except IntegrityError:
        return None


def group_sync_heartbeat(*, run: GroupSync) -> None:
    GroupSync.objects.filter(pk=run.pk, running=True).update(heartbeat_at=timezone.now())


def group_ids_to_read() -> list[str]:
    """Identity Center ids of the groups whose members the portal needs: those named by a live
    access group (the others are only listed)."""
    return list(
        IdentityCenterGroup.objects.present()
        .referenced()
        .order_by("group_id")
        .values_list("group_id", flat=True)
    )


def group_sync_store(
    *,
    run: GroupSync,
    listed: list[ListedGroup],
    members: Mapping[str, set[str]],
    calls: int,
) -> GroupSync:
    """Replace the cache with what one refresh read, in one transaction.

    ``listed`` is every group ListGroups returned; ``members`` the members of the groups
    read (group id -> user ids). A group no longer listed is marked removed and loses its
    members; a group listed but not read keeps the members it had.
    """
    now = timezone.now()
    with transaction.atomic():
        known = {g.group_id: g for g in IdentityCenterGroup.objects.select_for_update()}
        seen = {g.group_id for g in listed}
        gone = [g for gid, g in known.items() if gid not in seen and g.removed_at is None]
        if gone:
            IdentityCenterGroupMember.objects.filter(group__in=gone).delete()
            IdentityCenterGroup.objects.filter(pk__in=[g.pk for g in gone]).update(
                removed_at=now, member_count=0
            )
            for g in gone:
                audit_record(
                    action="identity_center_group.removed",
                    data={"group": g.display_name, "group_id": g.group_id},
                )
        # Names are unique among present groups: a renamed group steps out (removed for a
        # moment) so that another may take its old name before each gets its new one.
        renamed = [
            known[item.group_id].pk
            for item in listed
            if item.group_id in known and known[item.group_id].display_name != item.display_name
        ]
        IdentityCenterGroup.objects.filter(pk__in=renamed).update(removed_at=now)
        for item in listed:
            row = known.get(item.group_id)
            fields = {
                "display_name": item.display_name,
                "description": item.description,
                "synced_at": now,
                "removed_at": None,
            }
            if row is None:
                known[item.group_id] = IdentityCenterGroup.objects.create(
                    group_id=item.group_id, **fields
                )
            else:
                IdentityCenterGroup.objects.filter(pk=row.pk).update(**fields)
        total = 0
        for group_id, wanted in members.items():
            row = known[group_id]
            rows = dict(row.members.values_list("user_id", "pk"))
            have = set(rows)
            gone_rows = sorted(rows[u] for u in have - wanted)
            for start in range(0, len(gone_rows), DELETE_BATCH):
                # By primary key in batches: a group emptied in the IdP may have thousands.
                IdentityCenterGroupMember.objects.filter(
                    pk__in=gone_rows[start : start + DELETE_BATCH]
                ).delete()
            IdentityCenterGroupMember.objects.bulk_create(
                [IdentityCenterGroupMember(group=row, user_id=u) for u in sorted(wanted - have)],
                batch_size=1000,
            )
            IdentityCenterGroup.objects.filter(pk=row.pk).update(
                member_count=len(wanted), members_synced_at=now
            )
            total += len(wanted)
        GroupSync.objects.filter(pk=run.pk).update(
            running=False,
            finished_at=now,
            groups=len(listed),
            groups_read=len(members),
            members=total,
            calls=calls,
            error="",
        )
    run.refresh_from_db()
    return run


def group_sync_fail(*, run: GroupSync, error: str, calls: int) -> GroupSync:
    """The refresh could not read Identity Center: the cache stays as it was."""
    logger.warning("Identity Center groups refresh failed: %s", error)
    GroupSync.objects.filter(pk=run.pk).update(
        running=False, finished_at=timezone.now(), calls=calls, error=error
    )
    audit_record(action="identity_center_groups.sync_failed", message=error)
    run.refresh_from_db()
    return run
