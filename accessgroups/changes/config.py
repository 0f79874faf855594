"""An access group's configuration as plain values, and what a proposed change changes.

The configuration is what an admin decides about a group, in the names the REST API takes
(``AccessGroupIn``): accounts by id, approvers by username, Identity Center groups by
display name. Change requests diff it, the plan reads it, and the YAML export writes it;
everything Identity Center assigns (ARNs of our own, ids, statuses) stays out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Prefetch, QuerySet

from accessgroups.catalogue.selectors import (
    BY_ACCOUNT_ID,
    current_accounts_prefetch,
    current_policies_prefetch,
)
from accessgroups.core.validators import parse_session_duration
from accessgroups.models import (
    AccessGroup,
    IdentityCenterGroup,
    OrganizationalUnit,
    PolicyKind,
    User,
)

# In the order the export writes them.
CONFIG_FIELDS = (
    "name",
    "description",
    "session_duration",
    "accounts",
    "organizational_units",
    "aws_managed_policies",
    "customer_managed_policies",
    "inline_policy",
    "approvers",
    "approver_groups",
    "eligible_groups",
    "requestable",
    "max_duration_hours",
    "applications_note",
    "approvals_required",
    "auto_approve",
    "break_glass",
    "risk",
)

# What a new group has for each field the proposal leaves out (access_group_clean_new).
DEFAULTS: dict[str, Any] = {
    "description": "",
    "session_duration": "PT1H",
    "accounts": [],
    "organizational_units": [],
    "aws_managed_policies": [],
    "customer_managed_policies": [],
    "inline_policy": None,
    "approvers": [],
    "approver_groups": [],
    "eligible_groups": [],
    "requestable": True,
    "max_duration_hours": None,
    "applications_note": "",
    "approvals_required": 1,
    "auto_approve": False,
    "break_glass": False,
    # risk: the portal's suggestion from the policies (accessgroups.catalogue.risk)
}

# Lists whose order means nothing: compared and written sorted.
_NAME_LISTS = (
    "accounts",
    "organizational_units",
    "aws_managed_policies",
    "approvers",
    "approver_groups",
    "eligible_groups",
)


def configs_queryset(queryset: QuerySet | None = None) -> QuerySet:
    """Access groups with everything group_config reads, in a fixed number of queries."""
    queryset = AccessGroup.objects.all() if queryset is None else queryset
    return queryset.prefetch_related(
        current_accounts_prefetch(order_by=BY_ACCOUNT_ID),
        current_policies_prefetch(),
        Prefetch("approvers", queryset=User.objects.order_by("username")),
        Prefetch("organizational_units", queryset=OrganizationalUnit.objects.order_by("ou_id")),
        *(
            Prefetch(field, queryset=IdentityCenterGroup.objects.order_by("display_name"))
            for field in ("approver_groups", "eligible_groups")
        ),
    )


def _customer_key(policy: dict[str, str]) -> tuple[str, str]:
    return (policy.get("path") or "/", policy.get("name", ""))


def group_config(group: AccessGroup) -> dict[str, Any]:
    """The configuration of a group read through configs_queryset (else one query per relation)."""
    links = getattr(group, "current_links", None)
    if links is None:
        group = configs_queryset(AccessGroup.objects.filter(pk=group.pk)).get()
        links = group.current_links
    policies = group.current_policy_rows
    inline = [p.document for p in policies if p.kind == PolicyKind.INLINE]
    return normalise(
        {
            "name": group.name,
            "description": group.description,
            "session_duration": group.session_duration,
            "accounts": [link.account.account_id for link in links if link.explicit],
            "organizational_units": [ou.ou_id for ou in group.organizational_units.all()],
            "aws_managed_policies": [
                p.arn for p in policies if p.kind == PolicyKind.AWS_MANAGED
            ],
            "customer_managed_policies": [
                {"name": p.name, "path": p.path or "/"}
                for p in policies
                if p.kind == PolicyKind.CUSTOMER_MANAGED
            ],
            "inline_policy": inline[0] if inline else None,
            "approvers": [u.username for u in group.approvers.all()],
            "approver_groups": [g.display_name for g in group.approver_groups.all()],
            "eligible_groups": [g.display_name for g in group.eligible_groups.all()],
            "requestable": group.requestable,
            "max_duration_hours": group.max_duration_hours,
            "applications_note": group.applications_note,
            "approvals_required": group.approvals_required,
            "auto_approve": group.auto_approve,
            "break_glass": group.break_glass,
            "risk": group.risk,
        }
    )


def group_configs(queryset: QuerySet | None = None) -> Iterator[tuple[AccessGroup, dict[str, Any]]]:
    """Each group of ``queryset`` (default: the live ones, by name) with its configuration."""
    if queryset is None:
        queryset = AccessGroup.objects.live().order_by("name", "id")
    for group in configs_queryset(queryset):
        yield group, group_config(group)


def normalise(config: dict[str, Any]) -> dict[str, Any]:
    """Sorted lists and stripped texts, so that equal configurations compare equal."""
    out = dict(config)
    for field in _NAME_LISTS:
        if isinstance(out.get(field), list):
            out[field] = sorted(out[field], key=str)
    if isinstance(out.get("customer_managed_policies"), list):
        out["customer_managed_policies"] = sorted(
            (
                {"name": p.get("name", ""), "path": p.get("path") or "/"}
                for p in out["customer_managed_policies"]
                if isinstance(p, dict)
            ),
            key=_customer_key,
        )
    for field in ("description", "applications_note"):
        if isinstance(out.get(field), str):
            out[field] = out[field].strip()
    return out


def proposed_config(current: dict[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
    """The configuration after a proposal: ``fields`` over ``current`` (None: a new group).

    ``fields`` are as the API takes them, already checked; a new group gets the defaults
    create gives (its risk is the caller's to fill in when not sent).
    """
    base = dict(DEFAULTS) if current is None else dict(current)
    base.update({k: v for k, v in fields.items() if k in CONFIG_FIELDS})
    return normalise(base)


def _same(field: str, before: Any, after: Any) -> bool:
    if field == "session_duration" and isinstance(before, str) and isinstance(after, str):
        return parse_session_duration(before) == parse_session_duration(after)
    return before == after


def config_diff(
    before: dict[str, Any] | None, after: dict[str, Any] | None, fields: Iterable[str] = CONFIG_FIELDS
) -> dict[str, dict[str, Any]]:
    """``{field: {"from": old, "to": new}}`` for each field that differs.

    ``before`` None is a new group (every field it sets, from null); ``after`` None an
    archived one (nothing is listed: the whole group goes).
    """
    if after is None:
        return {}
    changes: dict[str, dict[str, Any]] = {}
    for field in fields:
        if field not in after:
            continue
        old = None if before is None else before.get(field)
        new = after[field]
        if before is None:
            if new in (None, "", [], False) and field != "requestable":
                continue
        elif _same(field, old, new):
            continue
        changes[field] = {"from": old, "to": new}
    return changes
