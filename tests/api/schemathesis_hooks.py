"""Hooks for the schemathesis run of tests/api/test_schemathesis.py (SCHEMATHESIS_HOOKS).

Two kinds of failure are dropped, each for a reason the API's design gives; every other
failure fails the run.

A schema-valid request can still break a rule JSON Schema cannot state, because it is about
other rows, the caller or the clock: an access group id that does not exist, a name another
group has, a deadline in the past. The API answers 400 naming the field, the schema lists
that answer and says the rule in words (the input serializers' docstrings). ROW_RULES names
those rules by operation, field and what the message says; a 400 is forgiven only when every
field it names breaks one of them.

DELETE /api/v1/access-groups/{id}/ archives the group, and the row stays readable for
history (docs: "Deleting an access group archives it... the rows stay for history"), so a
GET after it answers 200, not the 404 that schemathesis's use_after_free expects.
"""

from __future__ import annotations

from typing import Any

import schemathesis

# Names of Identity Center groups: known at the last refresh, once each, not the portal's own.
IC_GROUP_RULES = ("Unknown Identity Center group", "named once", "access group of this portal")
GROUP_RULES = {
    "name": ("exists",),
    "accounts": ("Unknown account",),
    "approvers": ("No active user", "needs at least one approver"),
    "approver_groups": IC_GROUP_RULES,
    "eligible_groups": IC_GROUP_RULES,
    # Known from the last Organizations sync, and readable by it.
    "organizational_units": ("Unknown organizational unit", "could not read"),
    "session_duration": ("between PT1H and PT12H",),
    # The permission set's quota counts both lists together.
    "aws_managed_policies": ("permission set takes at most",),
    # {"name": "x"} and {"name": "x", "path": "/"} differ as JSON and are one policy.
    "customer_managed_policies": ("listed once",),
    # OpenAPI 3.0 cannot say "no NUL anywhere inside" or limit a document's size in bytes.
    "inline_policy": ("NUL", "bytes", "white space"),
    # Approval policies checked together, against the approvers (accessgroups.access.policies).
    "approvals_required": ("possible approver",),
    "auto_approve": ("cannot also require several approvals", "cannot be approved automatically"),
}

ROW_RULES: dict[str, dict[str, tuple[str, ...]]] = {
    "GET /api/v1/reports/who-has-access/": {
        "account": ("is known",),
        "access_group": ("No access group",),
        "user": ("No user",),
        # An opaque value the API signs: any other string is refused.
        "cursor": ("Not a cursor",),
    },
    "POST /api/v1/users/": {
        "username": ("exists",),
        "email": ("exists",),
        "external_id": ("exists",),
    },
    "POST /api/v1/users/{id}/deactivate/": {"user": ("cannot deactivate yourself",)},
    "POST /api/v1/accounts/": {"account_id": ("already known",)},
    "POST /api/v1/access-groups/": GROUP_RULES,
    "PATCH /api/v1/access-groups/{id}/": {**GROUP_RULES, "name": ("cannot be changed",)},
    # A proposal is checked as the access group endpoints check it, and by action: a create
    # needs a name and no group, an update or archive a group, and it must change something.
    "POST /api/v1/change-requests/": {
        **GROUP_RULES,
        "name": ("exists", "required", "Give the new access group a name", "cannot be changed"),
        "access_group": ("No access group", "no id yet", "Name the access group"),
        "fields": ("changes nothing",),
    },
    "POST /api/v1/change-requests/{id}/reject/": {"comment": ("Say why",)},
    # A plan is checked as the access group endpoints check it, and by action.
    "POST /api/v1/access-groups/plan/": {
        **GROUP_RULES,
        "name": ("exists", "needs a name", "cannot be changed"),
        "access_group": ("No access group", "Give the group to update"),
        "action": ("takes no fields",),
    },
    "POST /api/v1/access-requests/": {
        "access_group": ("does not exist", "cannot be requested"),
        "duration_hours": ("grants access for at most",),
    },
    "POST /api/v1/memberships/": {
        "user": ("does not exist", "deactivated"),
        "access_group": ("does not exist", "archived"),
    },
    "POST /api/v1/access-reviews/": {
        "access_group": ("does not exist", "not both", "archived"),
        "account": ("is known",),
        "deadline": ("in the future",),
        "non_field_errors": ("Nobody has access", "Nobody can review"),
    },
}

ARCHIVE = "DELETE /api/v1/access-groups/"


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return [m for item in value for m in _messages(item)]
    if isinstance(value, dict):
        return [m for item in value.values() for m in _messages(item)]
    return [str(value)]


def breaks_only_row_rules(operation: str, body: Any) -> bool:
    """Whether every field a 400 names broke one of the operation's ROW_RULES."""
    rules = ROW_RULES.get(operation, {})
    if not isinstance(body, dict) or not body:
        return False
    return all(
        field in rules
        and all(any(rule in message for rule in rules[field]) for message in _messages(value))
        for field, value in body.items()
    )


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    if failure.code == "ST301" and getattr(failure, "free", "").startswith(ARCHIVE):
        return False
    if failure.code == "ST202" and response is not None and response.status_code == 400:
        try:
            body = response.json()
        except ValueError:
            return True
        return not breaks_only_row_rules(failure.operation, body)
    return True
