"""Accounts from AWS Organizations: ListAccounts, upserted into Account rows and audited.

Accounts that left the organization are kept: access groups and audit history point at
them. Accounts first entered by hand become Organizations accounts once Organizations
lists them, since from then on it is the source of their name, email and status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accessgroups.core.audit import audit_record
from accessgroups.models import Account, AccountSource, AccountStatus, User
from provisioning import aws


@dataclass(frozen=True)
class SyncSummary:
    created: int
    updated: int
    unchanged: int


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


def accounts_sync(*, actor_id: int | None = None) -> SyncSummary:
    """Read every account of the organization and bring the Account rows up to date."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    created = updated = unchanged = 0
    for listed in aws.paginate("organizations", "ListAccounts", "Accounts"):
        wanted = account_fields(listed)
        with transaction.atomic():
            row = Account.objects.select_for_update().filter(account_id=listed["Id"]).first()
            if row is None:
                row = Account.objects.create(account_id=listed["Id"], **wanted)
                audit_record(
                    action="account.created",
                    actor=actor,
                    obj=row,
                    data={"account_id": row.account_id, **wanted},
                )
                created += 1
                continue
            changes = {
                field: {"from": getattr(row, field), "to": value}
                for field, value in wanted.items()
                if getattr(row, field) != value
            }
            if not changes:
                unchanged += 1
                continue
            for field, value in wanted.items():
                setattr(row, field, value)
            row.save(update_fields=[*wanted, "updated_at"])
            audit_record(
                action="account.updated",
                actor=actor,
                obj=row,
                data={
                    "account_id": row.account_id,
                    "source": AccountSource.ORGANIZATIONS,
                    **changes,
                },
            )
            updated += 1
    return SyncSummary(created=created, updated=updated, unchanged=unchanged)
