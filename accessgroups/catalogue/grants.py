"""What an access request grants, in full, for the approval card and the API's ``grants``.

Reads only what the caller prefetched on the access group (``current_links`` and
``current_policy_rows``, accessgroups.catalogue.selectors) and the requester's current
memberships, read for a whole page at once (``current_memberships``): no query per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db.models import QuerySet

from accessgroups.catalogue.risk import managed_policy_name, policies_risk, policy_risk
from accessgroups.core import compiled
from accessgroups.models import AccessGroup, AccessRequest, Membership, PolicyKind

# An inline policy longer than this many lines starts collapsed on a page.
INLINE_COLLAPSE_LINES = 12


def hours_label(hours: int | None, *, none: str = "no expiry") -> str:
    """``4`` → ``4 hours``; the one way pages say a duration in hours."""
    if hours is None:
        return none
    return f"{hours} hour{'s' if hours != 1 else ''}"


def account_row(account: Any) -> dict[str, str]:
    return {
        "account_id": account.account_id,
        "name": account.name,
        "ou_path": account.ou_path,
        "label": account.label,
    }


def group_grants(group: AccessGroup) -> dict[str, Any]:
    """The accounts, policies (each with its risk) and session duration of a group."""
    # An empty prefetched list is an answer too: a group with no policies costs no query.
    policies = getattr(group, "current_policy_rows", None)
    if policies is None:
        policies = list(group.current_policies())
    links = getattr(group, "current_links", None)
    accounts = [link.account for link in links] if links is not None else group.current_accounts()
    inline = next((p for p in policies if p.kind == PolicyKind.INLINE), None)
    return {
        "accounts": [account_row(a) for a in accounts],
        "aws_managed_policies": [
            {"arn": p.arn, "name": managed_policy_name(p.arn), "risk": policy_risk(p)}
            for p in policies
            if p.kind == PolicyKind.AWS_MANAGED
        ],
        "customer_managed_policies": [
            {"name": p.name, "path": p.path}
            for p in policies
            if p.kind == PolicyKind.CUSTOMER_MANAGED
        ],
        "inline_policy": inline.document if inline is not None else None,
        "inline_policy_risk": policy_risk(inline) if inline is not None else None,
        "session_duration": group.session_duration,
        "session_duration_label": group.session_duration_label,
        "risk": policies_risk(policies),
    }


def _active_memberships(users: int, *ids: int) -> QuerySet[Membership]:
    """Active memberships of the first ``users`` ids (users) in the rest (access groups)."""
    return Membership.objects.active().filter(
        user_id__in=ids[:users], access_group_id__in=ids[users:]
    )


def _padded(ids: set[int]) -> list[int]:
    """``ids`` in order, the last repeated up to 5, 10, 20 or a multiple of 20 of them: a
    page's lists come in a few lengths, so their SQL in a few shapes (an id twice in an IN
    list finds what it finds once)."""
    ordered = sorted(ids)
    size = next((n for n in (5, 10, 20) if n >= len(ordered)), -(-len(ordered) // 20) * 20)
    return ordered + ordered[-1:] * (size - len(ordered))


def current_memberships(requests: Iterable[AccessRequest]) -> dict[tuple[int, int], Membership]:
    """The active membership of each request's requester in its group, in one query (its
    SQL built once per process for each length of the lists: ``accessgroups.core.compiled``)."""
    requests = list(requests)
    if not requests:
        return {}
    users = _padded({r.requester_id for r in requests})
    groups = _padded({r.access_group_id for r in requests})
    found = compiled.instances(
        ("current memberships", len(users), len(groups)),
        partial(_active_memberships, len(users)),
        (*users, *groups),
    )
    return {(m.user_id, m.access_group_id): m for m in found}


def membership_row(membership: Membership | None) -> dict[str, Any] | None:
    if membership is None:
        return None
    return {
        "id": membership.pk,
        "source": membership.source,
        "granted_at": membership.granted_at,
        "activated_at": membership.activated_at,
        "expires_at": membership.expires_at,
        "duration_hours": membership.duration_hours,
    }


def request_grants(
    access_request: AccessRequest, memberships: dict[tuple[int, int], Membership]
) -> dict[str, Any]:
    """What approving ``access_request`` grants: the group's grants, for how long, and what
    the requester holds in that group already (an extension moves that expiry)."""
    held = memberships.get((access_request.requester_id, access_request.access_group_id))
    # The membership this request made, once approved; else the one it would extend.
    made = access_request.membership if access_request.membership_id else None
    return {
        **group_grants(access_request.access_group),
        "duration_hours": access_request.duration_hours,
        "duration_label": hours_label(access_request.duration_hours),
        # A delayed start (decision 0017): approving now, access from then. Null: at once.
        "starts_at": access_request.starts_at,
        "expires_at": made.expires_at if made is not None else None,
        "is_extension": access_request.is_extension,
        "current_membership": membership_row(held),
    }


def inline_policy_text(document: Any) -> str:
    """An inline policy as people read it: indented JSON, in the order it was written."""
    return json.dumps(document, indent=2)
