"""Reads of the catalogue shared by the API, the pages and the reports."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Prefetch

from accessgroups.models import AccessGroupAccount, AccessGroupPolicy

BY_ACCOUNT_NAME = ("account__name", "account__account_id")
BY_ACCOUNT_ID = ("account__account_id",)


def current_accounts_prefetch(
    prefix: str = "", *, order_by: Sequence[str] = BY_ACCOUNT_NAME
) -> Prefetch:
    """The accounts an access group grants now, as ``<group>.current_links``, in one query.

    ``prefix`` reaches the group through a relation (``"access_group__"``).
    """
    return Prefetch(
        f"{prefix}account_links",
        queryset=AccessGroupAccount.objects.filter(valid_to__isnull=True)
        .select_related("account")
        .order_by(*order_by),
        to_attr="current_links",
    )


def current_policies_prefetch(prefix: str = "") -> Prefetch:
    """The policies an access group grants now, as ``<group>.current_policy_rows``."""
    return Prefetch(
        f"{prefix}policies",
        queryset=AccessGroupPolicy.objects.filter(valid_to__isnull=True).order_by(
            "kind", "arn", "path", "name"
        ),
        to_attr="current_policy_rows",
    )
