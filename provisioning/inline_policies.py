"""What an access group's permission set's inline policy should hold.

The one answer to "what should be there", for provisioning (provisioning.permission_sets
writes it) and for the drift scan (provisioning.drift_compare compares with it): the
group's own inline policy, plus the statement that denies the sessions of people whose
access ended (accessgroups.access.sessions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from accessgroups.core.validators import REVOKED_SESSIONS_SID, inline_policy_fits
from accessgroups.models import AccessGroup, AccessGroupPolicy, PolicyKind, SessionRevocation


def parse_inline_policy(text: str) -> Any:
    """An inline policy as Identity Center holds it, in the terms of ``wanted_inline_policy``:
    None when there is none, the document, or the text itself when it is not JSON (not
    ours: it is replaced or deleted)."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


@dataclass(frozen=True)
class InlinePolicyPlan:
    """The inline policy the permission set should hold, and whose sessions it cannot deny."""

    document: dict[str, Any] | None
    # Identity store user ids with an unlifted session revocation that did not fit.
    left_out: list[str]


def wanted_inline_policy(
    group: AccessGroup, policies: list[AccessGroupPolicy] | None = None
) -> dict[str, Any] | None:
    """The inline policy the group's permission set should hold (None: no inline policy).

    The one answer to "what should be there", for provisioning and for the drift scan.
    ``policies`` are the group's current policies when the caller has them already.
    """
    return inline_policy_plan(group, policies).document


def inline_policy_plan(
    group: AccessGroup, policies: list[AccessGroupPolicy] | None = None
) -> InlinePolicyPlan:
    """The group's own inline policy, plus one statement denying everything to the sessions
    of people whose access ended and whose sessions may still be running
    (accessgroups.access.sessions).

    The deny names them by ``identitystore:userId``, the key AWS documents for revoking a
    permission set's active sessions: every role session made from the permission set
    carries it, whatever the person's name or email. Everyone shares one statement (sorted,
    once each), so each person costs the length of their id. When they do not all fit
    within the limits of an inline policy, the group's own policy is kept whole and the
    people whose revocation lifts soonest are left out (``left_out``): their sessions have
    the least time left to run.
    """
    if policies is None:
        policies = list(group.current_policies())
    own = next((p.document for p in policies if p.kind == PolicyKind.INLINE), None)
    lift_after: dict[str, Any] = {}
    for user_id, lifts in SessionRevocation.objects.unlifted().filter(
        access_group=group
    ).values_list("identity_center_user_id", "lift_after"):
        lift_after[user_id] = max(lifts, lift_after.get(user_id, lifts))
    if not lift_after:
        return InlinePolicyPlan(own, [])
    # Latest to lift first: the ones to keep when not all fit.
    ranked = sorted(lift_after, key=lambda user_id: (lift_after[user_id], user_id), reverse=True)

    def merged(count: int) -> dict[str, Any] | None:
        return _with_session_deny(own, sorted(ranked[:count])) if count else own

    # The largest count that fits, by bisection (the size grows with the count); none at
    # all always fits, since the group's own policy was held to the same limits.
    low, high = 0, len(ranked) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if inline_policy_fits(policy_text(merged(middle))):
            low = middle
        else:
            high = middle
    return InlinePolicyPlan(merged(low), sorted(ranked[low:]))


def _with_session_deny(own: dict[str, Any] | None, user_ids: list[str]) -> dict[str, Any]:
    deny = {
        "Sid": REVOKED_SESSIONS_SID,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {"identitystore:userId": user_ids}},
    }
    if own is None:
        return {"Version": "2012-10-17", "Statement": [deny]}
    statements = own["Statement"]
    # A copy: the stored document stays as the admin wrote it (one statement or a list).
    statements = list(statements) if isinstance(statements, list) else [statements]
    return {**own, "Statement": [*statements, deny]}


def policy_text(document: dict[str, Any] | None) -> str:
    """The inline policy as it is sent to Identity Center."""
    return json.dumps(document, separators=(",", ":")) if document is not None else ""
