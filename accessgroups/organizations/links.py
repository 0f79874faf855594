"""An access group's account links from its explicit accounts and its organizational units.

A link row records why it exists (``explicit``, ``from_ou``), so that taking an OU away
keeps the accounts also listed by hand, and taking an account off the list keeps it while
an OU still holds it. The stored tree answers which accounts an OU holds: nothing here
calls AWS, so a group saved with new OUs gets its accounts in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from accessgroups.core.audit import audit_record
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    Account,
    AccountStatus,
    OrganizationalUnit,
    ProvisioningStatus,
    User,
)

OU_REASON = "OU"


class UnitTree:
    """Parent -> children of every stored unit, read in one query."""

    def __init__(self) -> None:
        self.children: dict[int, list[int]] = {}
        for pk, parent in OrganizationalUnit.objects.values_list("pk", "parent_id"):
            if parent is not None:
                self.children.setdefault(parent, []).append(pk)

    def under(self, unit_pks: Iterable[int]) -> set[int]:
        """The units given and every unit below them."""
        found: set[int] = set()
        todo = list(unit_pks)
        while todo:
            pk = todo.pop()
            if pk not in found:
                found.add(pk)
                todo.extend(self.children.get(pk, ()))
        return found


def accounts_under(units: Iterable[OrganizationalUnit], tree: UnitTree | None = None) -> dict[int, Account]:
    """The ACTIVE accounts under ``units``, recursively, by primary key."""
    pks = [unit.pk for unit in units]
    if not pks:
        return {}
    below = (tree or UnitTree()).under(pks)
    return {
        a.pk: a
        for a in Account.objects.filter(parent_ou__in=below, status=AccountStatus.ACTIVE)
    }


def _audit_link(action: str, group: AccessGroup, account: Account, actor: User | None) -> None:
    audit_record(
        action=action,
        actor=actor,
        obj=account,
        access_group=group,
        data={
            "account": str(account),
            "account_id": account.account_id,
            "ou_path": account.ou_path,
            "reason": OU_REASON,
        },
    )


def group_links_apply(
    group: AccessGroup,
    *,
    now: datetime,
    actor: User | None = None,
    accounts: list[Account] | None = None,
    organizational_units: list[OrganizationalUnit] | None = None,
    tree: UnitTree | None = None,
) -> dict[str, Any]:
    """Make the group's current links explicit accounts ∪ ACTIVE accounts under its OUs.

    ``accounts`` / ``organizational_units`` None keep the group's current ones. Ends the
    links that left (back to pending, so provisioning deletes the assignment), adds the new
    ones, records each link an OU added or removed (``account_link.added`` / ``.removed``,
    reason "OU") and returns the changes for the caller's audit event. Call it inside a
    transaction holding the group's row.
    """
    changes: dict[str, Any] = {}
    links = {
        link.account_id: link
        for link in group.account_links.filter(valid_to__isnull=True).select_related("account")
    }
    if organizational_units is not None:
        before = set(group.organizational_units.values_list("ou_id", flat=True))
        after = {unit.ou_id for unit in organizational_units}
        if before != after:
            group.organizational_units.set(organizational_units)
            changes["organizational_units"] = {
                "added": sorted(after - before),
                "removed": sorted(before - after),
            }
        units = organizational_units
    else:
        units = list(group.organizational_units.all())

    if accounts is not None:
        explicit = {a.pk: a for a in accounts}
    else:
        explicit = {pk: link.account for pk, link in links.items() if link.explicit}
    from_ou = accounts_under(units, tree)
    wanted = {**from_ou, **explicit}

    gone = [link for pk, link in links.items() if pk not in wanted]
    new = [account for pk, account in wanted.items() if pk not in links]
    retagged = [
        link
        for pk, link in links.items()
        if pk in wanted and (link.explicit, link.from_ou) != (pk in explicit, pk in from_ou)
    ]
    if gone:
        AccessGroupAccount.objects.filter(pk__in=[link.pk for link in gone]).update(
            valid_to=now, provisioning_status=ProvisioningStatus.PENDING, last_error=""
        )
    AccessGroupAccount.objects.bulk_create(
        [
            AccessGroupAccount(
                access_group=group,
                account=account,
                valid_from=now,
                explicit=account.pk in explicit,
                from_ou=account.pk in from_ou,
            )
            for account in new
        ]
    )
    for link in retagged:
        link.explicit, link.from_ou = link.account_id in explicit, link.account_id in from_ou
    AccessGroupAccount.objects.bulk_update(retagged, ["explicit", "from_ou"])

    for link in gone:
        # An explicit account taken off the list is in the group's access_group.updated
        # event; a link an OU held ends because the OU no longer holds the account.
        if link.from_ou:
            _audit_link("account_link.removed", group, link.account, actor)
    for account in new:
        if account.pk not in explicit:
            _audit_link("account_link.added", group, account, actor)
    if gone or new:
        changes["accounts"] = {
            "added": sorted(a.account_id for a in new),
            "removed": sorted(link.account.account_id for link in gone),
        }
    return changes
