"""How risky a policy is, and what an access group's risk should be: pure functions.

A policy is high risk when it grants administration or identity administration across the
account (the AWS managed policies below) or when an inline statement allows every action.
The approval card and the API's ``grants`` show each policy's risk; an access group's risk
suggestion is the highest of its policies'.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from accessgroups.models import AccessGroupPolicy, PolicyKind, Risk

# AWS managed policies by name (the last part of the ARN; the partition may differ).
HIGH_RISK_MANAGED = frozenset({"AdministratorAccess", "IAMFullAccess", "PowerUserAccess"})


def managed_policy_name(arn: str) -> str:
    """``arn:aws:iam::aws:policy/job-function/Billing`` → ``Billing``."""
    return arn.rsplit("/", 1)[-1]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def document_allows_everything(document: Any) -> bool:
    """True when a statement of a policy document allows the action ``*`` (or ``*:*``)."""
    if not isinstance(document, dict):
        return False
    for statement in _as_list(document.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if any(action in ("*", "*:*") for action in _as_list(statement.get("Action", []))):
            return True
    return False


def policy_risk(policy: AccessGroupPolicy) -> Risk:
    """The risk of one policy row of an access group."""
    if (
        policy.kind == PolicyKind.AWS_MANAGED
        and managed_policy_name(policy.arn) in HIGH_RISK_MANAGED
    ):
        return Risk.HIGH
    if policy.kind == PolicyKind.INLINE and document_allows_everything(policy.document):
        return Risk.HIGH
    return Risk.NORMAL


def policies_risk(policies: Iterable[AccessGroupPolicy]) -> Risk:
    return Risk.HIGH if any(policy_risk(p) == Risk.HIGH for p in policies) else Risk.NORMAL


def risk_suggested_for(aws_managed_policies: Iterable[str], inline_policy: Any) -> Risk:
    """The risk a permission set's policies suggest, from what an admin is about to save
    (ARNs and the inline document, which may not be valid yet)."""
    if any(managed_policy_name(arn) in HIGH_RISK_MANAGED for arn in aws_managed_policies):
        return Risk.HIGH
    return Risk.HIGH if document_allows_everything(inline_policy) else Risk.NORMAL


def suggested_risk(group: Any) -> Risk:
    """The risk an access group's policies suggest: ``current_policy_rows`` when prefetched
    (accessgroups.catalogue.selectors.current_policies_prefetch), else one query."""
    rows = getattr(group, "current_policy_rows", None)
    if rows is None:
        rows = group.current_policies()
    return policies_risk(rows)
