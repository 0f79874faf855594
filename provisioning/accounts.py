"""An account as AWS Organizations lists it, in the portal's terms.

The sync itself walks the tree (provisioning.organizations). Accounts that left the
organization are kept: access groups and audit history point at them. Accounts first
entered by hand become Organizations accounts once Organizations lists them, since from
then on it is the source of their name, email and status.
"""

from __future__ import annotations

from typing import Any

from accessgroups.models import AccountSource, AccountStatus


def _status(account: dict[str, Any]) -> str:
    # Organizations reports Status (ACTIVE, SUSPENDED, PENDING_CLOSURE) and, newer, State,
    # which adds states such as CLOSED and PENDING_ACTIVATION: neither can be signed in to.
    for value in (account.get("Status"), account.get("State")):
        if value in AccountStatus.values:
            return value
    return AccountStatus.SUSPENDED


def account_fields(listed: dict[str, Any]) -> dict[str, str]:
    """An Account row's fields from an account as Organizations lists it."""
    return {
        "name": (listed.get("Name") or listed["Id"])[:128],
        "email": listed.get("Email", ""),
        "status": _status(listed),
        "source": AccountSource.ORGANIZATIONS,
    }
