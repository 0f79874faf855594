"""The Identity Center work a change to an access group would make, and whom it affects.

Read from the database only: the group's rows are taken to be what Identity Center holds
(drift is the drift scan's business), so nothing here calls AWS and a plan can be shown
in a web request. The steps follow the order and the calls of provisioning.groups:
the identity store group, the permission set's settings and policies, the account
assignments, then one ProvisionPermissionSet when accounts that stay assigned hold an
older version of the permission set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accessgroups.changes.config import group_config
from accessgroups.core.validators import parse_session_duration
from accessgroups.models import (
    AccessGroup,
    Account,
    Membership,
    OrganizationalUnit,
)
from accessgroups.organizations.links import accounts_under

# Identity Center refuses an empty description: provisioning leaves the old one instead.
_DESCRIPTION_MAX = 700


@dataclass
class Step:
    operation: str  # the AWS API operation
    count: int  # how many calls of it
    text: str  # what it does, in words
    items: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"operation": self.operation, "count": self.count, "text": self.text, "items": self.items}


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _accounts_of(config: dict[str, Any]) -> dict[str, str]:
    """account id -> "name (id)" of the accounts a configuration grants: listed and under its OUs."""
    found: dict[str, str] = {}
    ids = list(config.get("accounts") or [])
    for account in Account.objects.filter(account_id__in=ids):
        found[account.account_id] = str(account)
    for missing in ids:
        found.setdefault(missing, missing)
    units = OrganizationalUnit.objects.filter(ou_id__in=list(config.get("organizational_units") or []))
    for account in accounts_under(units).values():
        found.setdefault(account.account_id, str(account))
    return found


def _current_accounts(group: AccessGroup) -> dict[str, str]:
    return {
        link.account.account_id: str(link.account)
        for link in group.account_links.filter(valid_to__isnull=True).select_related("account")
    }


def _customer(config: dict[str, Any]) -> set[str]:
    return {(p.get("path") or "/") + p["name"] for p in config.get("customer_managed_policies") or []}


def _policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _described(description: str) -> str:
    return (description or "").strip()[:_DESCRIPTION_MAX]


def _permission_set_steps(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Step]:
    steps: list[Step] = []
    old_managed = set((before or {}).get("aws_managed_policies") or [])
    new_managed = set(after.get("aws_managed_policies") or [])
    old_customer, new_customer = _customer(before or {}), _customer(after)
    if before is not None:
        description_changed = bool(_described(after.get("description", ""))) and _described(
            after.get("description", "")
        ) != _described(before.get("description", ""))
        duration_changed = parse_session_duration(after["session_duration"]) != parse_session_duration(
            before["session_duration"]
        )
        if description_changed or duration_changed:
            what = [w for w, on in (("session duration", duration_changed), ("description", description_changed)) if on]
            steps.append(
                Step("UpdatePermissionSet", 1, f"update the permission set's {' and '.join(what)}",
                     [f"session duration {before['session_duration']} → {after['session_duration']}"]
                     if duration_changed else [])
            )
    gone_managed = sorted(old_managed - new_managed)
    if gone_managed:
        steps.append(Step("DetachManagedPolicyFromPermissionSet", len(gone_managed),
                          f"detach {_plural(len(gone_managed), 'managed policy', 'managed policies')}",
                          [_policy_name(a) for a in gone_managed]))
    gone_customer = sorted(old_customer - new_customer)
    if gone_customer:
        steps.append(Step("DetachCustomerManagedPolicyReferenceFromPermissionSet", len(gone_customer),
                          f"detach {_plural(len(gone_customer), 'customer managed policy', 'customer managed policies')}",
                          gone_customer))
    new_managed_list = sorted(new_managed - old_managed)
    if new_managed_list:
        steps.append(Step("AttachManagedPolicyToPermissionSet", len(new_managed_list),
                          f"attach {_plural(len(new_managed_list), 'managed policy', 'managed policies')}",
                          [_policy_name(a) for a in new_managed_list]))
    new_customer_list = sorted(new_customer - old_customer)
    if new_customer_list:
        steps.append(Step("AttachCustomerManagedPolicyReferenceToPermissionSet", len(new_customer_list),
                          f"attach {_plural(len(new_customer_list), 'customer managed policy', 'customer managed policies')}",
                          new_customer_list))
    old_inline = (before or {}).get("inline_policy")
    new_inline = after.get("inline_policy")
    if new_inline != old_inline:
        if new_inline is None:
            steps.append(Step("DeleteInlinePolicyFromPermissionSet", 1, "delete the inline policy"))
        else:
            steps.append(Step("PutInlinePolicyToPermissionSet", 1, "put the inline policy"))
    return steps


def _assignment_steps(added: dict[str, str], removed: dict[str, str]) -> list[Step]:
    steps = []
    if added:
        steps.append(Step("CreateAccountAssignment", len(added),
                          f"create {_plural(len(added), 'account assignment')}",
                          [added[a] for a in sorted(added)]))
    if removed:
        steps.append(Step("DeleteAccountAssignment", len(removed),
                          f"delete {_plural(len(removed), 'account assignment')}",
                          [removed[a] for a in sorted(removed)]))
    return steps


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _impact(
    members: int,
    added: dict[str, str],
    removed: dict[str, str],
    kept: int,
    permissions_changed: bool,
    **extra: Any,
) -> dict[str, Any]:
    who = _plural(members, "member")
    verb = "s" if members == 1 else ""
    parts = []
    if added:
        parts.append(
            f"{who} gain{verb} access to {_plural(len(added), 'account')}" if members
            else f"{_plural(len(added), 'account')} added (no members yet)"
        )
    if removed:
        parts.append(
            f"{who} lose{verb} access to {_plural(len(removed), 'account')}" if members
            else f"{_plural(len(removed), 'account')} removed (no members)"
        )
    if permissions_changed and kept and members:
        parts.append(f"what {who} may do changes in {_plural(kept, 'account')}")
    return {
        "members": members,
        "accounts_added": [added[a] for a in sorted(added)],
        "accounts_removed": [removed[a] for a in sorted(removed)],
        "access_gained": members * len(added),
        "access_lost": members * len(removed),
        "permissions_changed": permissions_changed,
        **extra,
        "summary": _sentence("; ".join(parts)) if parts else "Nobody gains or loses access.",
    }


def plan_change(group: AccessGroup | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """``{"plan": [step, ...], "impact": {...}}`` for a change to ``group``.

    ``group`` None: a new group (``after`` is its configuration); ``after`` None: the group
    is archived; otherwise ``after`` is the group's whole configuration once changed
    (accessgroups.changes.config.proposed_config).
    """
    if group is None and after is None:
        raise ValueError("A plan needs a group, a configuration or both.")
    if group is None:
        return _plan_create(after)
    members = Membership.objects.active().filter(access_group=group).count()
    current = _current_accounts(group)
    if after is None:
        return _plan_archive(group, members, current)
    before = group_config(group)
    wanted = _accounts_of(after)
    added = {a: n for a, n in wanted.items() if a not in current}
    removed = {a: n for a, n in current.items() if a not in wanted}
    if not group.permission_set_arn:
        # Never provisioned (or still being created): the worker makes it all as new.
        return _plan_create(after, members=members)
    steps: list[Step] = []
    description = _described(after.get("description", ""))
    if description and description != _described(before.get("description", "")):
        steps.append(Step("UpdateGroup", 1, "update the group's description"))
    permission_set = _permission_set_steps(before, after)
    steps += permission_set
    steps += _assignment_steps(added, removed)
    kept = len(current.keys() & wanted.keys())
    if permission_set and kept:
        steps.append(Step("ProvisionPermissionSet", 1,
                          f"provision the permission set to {_plural(kept, 'account')}",
                          [current[a] for a in sorted(current.keys() & wanted.keys())]))
    # What members may do changes with the policies and the session length, not the wording.
    changed = before["session_duration"] != after["session_duration"] or any(
        before.get(f) != after.get(f)
        for f in ("aws_managed_policies", "customer_managed_policies", "inline_policy")
    )
    return {
        "plan": [s.as_json() for s in steps],
        "impact": _impact(members, added, removed, kept, changed),
    }


def _plan_create(after: dict[str, Any], *, members: int = 0) -> dict[str, Any]:
    accounts = _accounts_of(after)
    steps = [
        Step("CreateGroup", 1, f"create the group {after['name']}"),
        Step("CreatePermissionSet", 1, f"create the permission set {after['name']}",
             [f"session duration {after['session_duration']}"]),
        *_permission_set_steps(None, after),
        *_assignment_steps(accounts, {}),
    ]
    return {"plan": [s.as_json() for s in steps], "impact": _impact(members, accounts, {}, 0, False)}


def _plan_archive(group: AccessGroup, members: int, current: dict[str, str]) -> dict[str, Any]:
    steps: list[Step] = []
    if group.identity_center_group_id:
        steps += _assignment_steps({}, current)
    if group.permission_set_arn:
        steps.append(Step("DeletePermissionSet", 1, f"delete the permission set {group.name}"))
    if group.identity_center_group_id:
        steps.append(Step("DeleteGroup", 1, f"delete the group {group.name} and its memberships"))
    open_requests = group.requests.open().count()
    return {
        "plan": [s.as_json() for s in steps],
        "impact": _impact(
            members, {}, current, 0, False,
            memberships_ended=members, requests_cancelled=open_requests,
        ),
    }


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """The plan and its impact as lines of text (commands, mails)."""
    lines = [f"- {step['text']}" + (f": {', '.join(step['items'])}" if step.get("items") else "")
             for step in plan["plan"]]
    return (lines or ["- nothing to do in Identity Center"]) + [f"Impact: {plan['impact']['summary']}"]
