"""Reading AWS Organizations: the whole tree, walked from the roots, then stored at once.

``ListRoots``, then for every parent ``ListOrganizationalUnitsForParent`` and
``ListAccountsForParent`` at the largest page AWS allows (20), so a sync costs the fewest
pages that can describe the organisation: about one call per parent plus one per 20
accounts. Everything is read before anything is written; a read that fails leaves the
stored tree and accounts as they were (accessgroups.organizations.services).

A parent the portal may not list (access denied, e.g. by a service control policy on a
delegated administrator) is recorded on its OU instead of failing the whole sync: what
was under it stays where the last sync put it, and an access group cannot target it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from typing import Any

from accessgroups.organizations.services import (
    StoreSummary,
    organizations_store,
    organizations_sync_failed,
)
from accessgroups.organizations.tree import ListedAccount, ListedUnit, Tree
from provisioning import aws
from provisioning.accounts import account_fields
from provisioning.errors import NotFoundError, PermanentError, ProvisioningError

logger = logging.getLogger(__name__)

# Organizations' List calls return at most 20 items a page (MaxResults 1-20).
PAGE_SIZE = 20


def _pages(tree: Tree, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = aws.call(
            "organizations",
            operation,
            MaxResults=PAGE_SIZE,
            **params,
            **({"NextToken": token} if token else {}),
        )
        tree.calls += 1
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def _unreadable(error: PermanentError) -> bool:
    # Denied, or gone between the listing of its parent and its own.
    return (
        isinstance(error, NotFoundError)
        or error.code in aws.ACCESS_DENIED_CODES
        or error.code.endswith("NotFoundException")
    )


def organizations_read() -> Tree:
    """Every root, OU and account, parents before children. Raises ProvisioningError."""
    tree = Tree()
    todo: deque[str] = deque()
    for root in _pages(tree, "ListRoots", "Roots"):
        tree.units.append(ListedUnit(root["Id"], root.get("Name") or "Root", None))
        todo.append(root["Id"])
    while todo:
        parent = todo.popleft()  # breadth first: a unit's parent is always listed before it
        try:
            units = list(_pages(tree, "ListOrganizationalUnitsForParent", "OrganizationalUnits", ParentId=parent))
            accounts = list(_pages(tree, "ListAccountsForParent", "Accounts", ParentId=parent))
        except PermanentError as exc:
            if not _unreadable(exc):
                raise
            tree.unreadable[parent] = exc.message
            continue
        for unit in units:
            tree.units.append(ListedUnit(unit["Id"], unit.get("Name") or unit["Id"], parent))
            todo.append(unit["Id"])
        for listed in accounts:
            fields = account_fields(listed)
            tree.accounts.append(
                ListedAccount(
                    account_id=listed["Id"],
                    name=fields["name"],
                    email=fields["email"],
                    status=fields["status"],
                    parent_id=parent,
                )
            )
    return tree


def organizations_sync(*, actor_id: int | None = None) -> StoreSummary:
    """Read the organisation and store it; a failed read is recorded, then raised.

    Admins see every failure at once (the newest OrganizationsSync row); the audit log gets
    the permanent ones, and transient ones once the task gives up retrying.
    """
    try:
        tree = organizations_read()
    except ProvisioningError as exc:
        organizations_sync_failed(
            message=exc.message, actor_id=actor_id, audit=isinstance(exc, PermanentError)
        )
        raise
    summary = organizations_store(tree=tree, actor_id=actor_id)
    logger.info("Organizations synced in %d calls: %s", tree.calls, summary)
    return summary
