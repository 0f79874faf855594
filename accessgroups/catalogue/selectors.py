"""Reads of the catalogue shared by the API, the pages and the reports."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Prefetch

from accessgroups.models import AccessGroupAccount, AccessGroupPolicy, IdentityCenterGroup, User

BY_ACCOUNT_NAME = ("account__name", "account__account_id")
BY_ACCOUNT_ID = ("account__account_id",)


# What a page shows of a group's accounts (``Account.label``): ten accounts on each of 24
# cards are 480 model instances, and loading every column of both (their dates above all)
# cost more than the rest of the catalogue's queries together.
LABELS_ONLY = ("access_group", "account__account_id", "account__name", "account__ou_path")


def current_accounts_prefetch(
    prefix: str = "",
    *,
    order_by: Sequence[str] = BY_ACCOUNT_NAME,
    only: Sequence[str] | None = None,
) -> Prefetch:
    """The accounts an access group grants now, as ``<group>.current_links``, in one query.

    ``prefix`` reaches the group through a relation (``"access_group__"``). ``only``: the
    fields read (``LABELS_ONLY`` for pages that name the accounts), else all.
    """
    links = AccessGroupAccount.objects.filter(valid_to__isnull=True).select_related("account")
    if only is not None:
        links = links.only(*only)
    return Prefetch(
        f"{prefix}account_links",
        queryset=links.order_by(*order_by),
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


def card_prefetches() -> list[Prefetch]:
    """What a group's card shows (templates/accessgroups/requests/_group_grants.html), as
    lists: its accounts' labels, its policies, and its approvers' usernames and approver
    groups' names as ``approver_list`` and ``approver_group_list``.

    Lists (``to_attr``) rather than prefetched managers: Django builds a queryset for each
    instance's manager, which cost more than the queries themselves on a page of cards.
    """
    return [
        current_accounts_prefetch(only=LABELS_ONLY),
        current_policies_prefetch(),
        Prefetch(
            "approvers", queryset=User.objects.only("id", "username"), to_attr="approver_list"
        ),
        Prefetch(
            "approver_groups",
            queryset=IdentityCenterGroup.objects.only("id", "display_name"),
            to_attr="approver_group_list",
        ),
    ]
