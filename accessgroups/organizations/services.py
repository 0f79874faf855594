"""Storing a read of AWS Organizations, and what it changes in access groups.

provisioning.organizations reads the whole tree first; ``organizations_store`` then writes
it in one transaction: organizational units and their paths, accounts (created and updated
as before, audited ``account.created`` / ``account.updated``) with their OU, and the links
of every live access group that targets OUs. A read that failed changes none of that:
``organizations_sync_failed`` only records why, for admins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.models import (
    AccessGroup,
    Account,
    AccountSource,
    OrganizationalUnit,
    OrganizationsSync,
    User,
)
from accessgroups.organizations.links import UnitTree, group_links_apply
from accessgroups.organizations.tree import ListedAccount, Tree

# AWS's patterns for an OU id and a root id.
OU_ID_PATTERN = r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$"
_OU_ID = re.compile(OU_ID_PATTERN)
# Two syncs at once would interleave their upserts; on PostgreSQL the second waits.
_ADVISORY_LOCK_KEY = 0x4F524753  # "ORGS"


@dataclass(frozen=True)
class StoreSummary:
    created: int
    updated: int
    unchanged: int
    units: int
    links_added: int
    links_removed: int
    groups_changed: int


def organizational_units_resolve(ou_ids: Iterable[str]) -> list[OrganizationalUnit]:
    """The stored units named by ``ou_ids``; ValidationError on ``organizational_units``."""
    ids = [str(i).strip() for i in ou_ids]
    field = "organizational_units"
    malformed = [i for i in ids if not _OU_ID.match(i)]
    if malformed:
        raise ValidationError({field: f"Not an OU or root id: {', '.join(malformed)} (ou-... or r-...)."})
    if len(set(ids)) != len(ids):
        raise ValidationError({field: "Each organizational unit may be listed once."})
    found = {u.ou_id: u for u in OrganizationalUnit.objects.filter(ou_id__in=ids)}
    unknown = [i for i in ids if i not in found or found[i].gone_at is not None]
    if unknown:
        raise ValidationError(
            {field: f"Unknown organizational unit(s): {', '.join(unknown)}. Sync the accounts from AWS Organizations first."}
        )
    unreadable = [found[i] for i in ids if found[i].read_error]
    if unreadable:
        raise ValidationError(
            {field: [f"The portal could not read {u.ou_id} in the last sync: {u.read_error}" for u in unreadable]}
        )
    return [found[i] for i in ids]


def _account_fields(listed: ListedAccount, unit: OrganizationalUnit | None, path: str) -> dict:
    fields = {
        "name": listed.name[:128],
        "email": listed.email,
        "status": listed.status,
        "source": AccountSource.ORGANIZATIONS,
        "ou_path": path,
    }
    return {**fields, "parent_ou": unit}


def _store_units(tree: Tree, now) -> dict[str, OrganizationalUnit]:
    paths = tree.paths()
    rows = {u.ou_id: u for u in OrganizationalUnit.objects.all()}
    for listed in tree.units:  # parents come before their children
        parent = rows.get(listed.parent_id) if listed.parent_id else None
        wanted = {
            "name": listed.name[:128],
            "parent": parent,
            "path": paths[listed.ou_id],
            "last_seen_at": now,
            "gone_at": None,
            "read_error": tree.unreadable.get(listed.ou_id, ""),
        }
        row = rows.get(listed.ou_id)
        if row is None:
            rows[listed.ou_id] = OrganizationalUnit.objects.create(ou_id=listed.ou_id, **wanted)
        else:
            for key, value in wanted.items():
                setattr(row, key, value)
            row.save()
    listed_ids = {u.ou_id for u in tree.units}
    OrganizationalUnit.objects.filter(gone_at__isnull=True).exclude(
        ou_id__in=listed_ids | _hidden(tree, rows)
    ).update(gone_at=now)
    return rows


def _hidden(tree: Tree, rows: dict[str, OrganizationalUnit]) -> set[str]:
    """Units at or under a parent that could not be read: not seen, but may still be there."""
    if not tree.unreadable:
        return set()
    unread = UnitTree().under(rows[i].pk for i in tree.unreadable if i in rows)
    return {ou_id for ou_id, row in rows.items() if row.pk in unread}


def _store_accounts(tree: Tree, units: dict[str, OrganizationalUnit], actor: User | None) -> tuple[int, int, int]:
    created = updated = unchanged = 0
    rows = {a.account_id: a for a in Account.objects.filter(account_id__in=[a.account_id for a in tree.accounts])}
    for listed in tree.accounts:
        unit = units.get(listed.parent_id)
        wanted = _account_fields(listed, unit, unit.path if unit else "")
        row = rows.get(listed.account_id)
        if row is None:
            row = Account.objects.create(account_id=listed.account_id, **wanted)
            data = {k: v for k, v in wanted.items() if k != "parent_ou"}
            audit_record(action="account.created", actor=actor, obj=row, data={"account_id": row.account_id, **data})
            created += 1
            continue
        changes = {
            key: {"from": getattr(row, key), "to": value}
            for key, value in wanted.items()
            if key != "parent_ou" and getattr(row, key) != value
        }
        if not changes and row.parent_ou_id == (unit.pk if unit else None):
            unchanged += 1
            continue
        for key, value in wanted.items():
            setattr(row, key, value)
        row.save(update_fields=[*wanted, "updated_at"])
        if changes:
            audit_record(
                action="account.updated",
                actor=actor,
                obj=row,
                data={"account_id": row.account_id, "source": AccountSource.ORGANIZATIONS, **changes},
            )
        updated += 1
    # Accounts that left the organisation are kept for history, under no OU any more (so no
    # group holds them by OU), unless they may only be hidden under an unreadable parent.
    hidden = [units[i].pk for i in _hidden(tree, units)]
    listed = {a.account_id for a in tree.accounts}
    for row in (
        Account.objects.filter(source=AccountSource.ORGANIZATIONS, parent_ou__isnull=False)
        .exclude(parent_ou__in=hidden)
        .exclude(account_id__in=listed)
    ):
        audit_record(
            action="account.updated",
            actor=actor,
            obj=row,
            data={
                "account_id": row.account_id,
                "source": AccountSource.ORGANIZATIONS,
                "ou_path": {"from": row.ou_path, "to": ""},
            },
            message="No longer in the organization.",
        )
        row.parent_ou, row.ou_path = None, ""
        row.save(update_fields=["parent_ou", "ou_path", "updated_at"])
        updated += 1
    return created, updated, unchanged


def groups_follow_tree(*, now, actor: User | None = None) -> tuple[int, int, int]:
    """Recompute the links of every live group that targets OUs or holds links from one.

    Returns (links added, links removed, groups changed); each changed group is synced.
    """
    tree = UnitTree()
    added = removed = changed = 0
    groups = (
        AccessGroup.objects.live()
        .filter(Q(organizational_units__isnull=False) | Q(account_links__valid_to__isnull=True, account_links__from_ou=True))
        .distinct()
        .values_list("pk", flat=True)
    )
    for pk in list(groups):
        group = AccessGroup.objects.select_for_update().get(pk=pk)
        changes = group_links_apply(group, now=now, actor=actor, tree=tree)
        if "accounts" in changes:
            added += len(changes["accounts"]["added"])
            removed += len(changes["accounts"]["removed"])
            changed += 1
            sync.request_sync(group)
    return added, removed, changed


def organizations_store(*, tree: Tree, actor_id: int | None = None) -> StoreSummary:
    """Write a complete read of AWS Organizations, and what it changes, in one transaction."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    now = timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        units = _store_units(tree, now)
        created, updated, unchanged = _store_accounts(tree, units, actor)
        added, removed, groups = groups_follow_tree(now=now, actor=actor)
        OrganizationsSync.objects.create(
            started_at=now,
            finished_at=timezone.now(),
            calls=tree.calls,
            accounts=len(tree.accounts),
            organizational_units=len(tree.units),
            links_added=added,
            links_removed=removed,
            # Read, but not all of it: admins see which OUs, and why.
            error="; ".join(
                f"could not list what is under {k}: {v}" for k, v in sorted(tree.unreadable.items())
            ),
        )
    return StoreSummary(created, updated, unchanged, len(tree.units), added, removed, groups)


def organizations_sync_failed(
    *, message: str, actor_id: int | None = None, audit: bool = True
) -> None:
    """Record a read that failed: nothing else changes, admins see why."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    with transaction.atomic():
        OrganizationsSync.objects.create(finished_at=timezone.now(), error=message)
        if audit:
            audit_record(action="account.sync_failed", actor=actor, message=message)
