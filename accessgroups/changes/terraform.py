"""The portal's Identity Center as input to the aws-ia ``iam-identity-center`` Terraform module.

``terraform_tfvars()`` gives a ``terraform.tfvars.json`` for
https://github.com/aws-ia/terraform-aws-iam-identity-center (variables.tf): one
``sso_groups`` entry and one ``permission_sets`` entry per live access group, keyed by its
name (the names the portal gives the Identity Center group and permission set), one
``account_assignments`` entry per group with accounts (those it grants now, listed and
through OUs), and, when the portal owns the identity store's users
(IDENTITY_SOURCE=identity_center), ``sso_users`` for everyone with an active membership.
With an identity provider the users and their memberships are the provider's, and the
file leaves them out. docs/configuration-as-code.md says how to take it to Terraform.
"""

from __future__ import annotations

import json
import re
from typing import Any

from accessgroups.changes.config import group_configs
from accessgroups.identity.source import is_external
from accessgroups.models import Membership

# What Identity Center accepts as a permission set's description, as the portal sends it
# (provisioning.permission_sets.description_for, which the domain cannot import).
_DESCRIPTION_UNSAFE = re.compile(r"[^\t\n\r\x20-\x7e\xa1-\xff]")
PERMISSION_SET_DESCRIPTION_MAX = 700
GROUP_DESCRIPTION_MAX = 1024


def _permission_set(config: dict[str, Any]) -> dict[str, Any]:
    pset: dict[str, Any] = {"session_duration": config["session_duration"]}
    description = _DESCRIPTION_UNSAFE.sub("?", config["description"])[:PERMISSION_SET_DESCRIPTION_MAX]
    if description:
        pset["description"] = description
    # The module attaches each key only when present, and customer managed policies by name
    # under path "/" (it has no place for another path).
    if config["aws_managed_policies"]:
        pset["aws_managed_policies"] = list(config["aws_managed_policies"])
    if config["customer_managed_policies"]:
        pset["customer_managed_policies"] = [p["name"] for p in config["customer_managed_policies"]]
    if config["inline_policy"] is not None:
        # As provisioning.inline_policies.policy_text sends it.
        pset["inline_policy"] = json.dumps(config["inline_policy"], separators=(",", ":"))
    return pset


def terraform_tfvars() -> dict[str, Any]:
    """The module's input variables describing what the portal holds now."""
    sso_groups: dict[str, Any] = {}
    permission_sets: dict[str, Any] = {}
    account_assignments: dict[str, Any] = {}
    for group, config in group_configs():
        name = group.name
        sso_groups[name] = {"group_name": name}
        if config["description"]:
            sso_groups[name]["group_description"] = config["description"][:GROUP_DESCRIPTION_MAX]
        permission_sets[name] = _permission_set(config)
        account_ids = sorted({link.account.account_id for link in group.current_links})
        if account_ids:
            account_assignments[name] = {
                "principal_name": name,
                "principal_type": "GROUP",
                # A group the module creates (sso_groups), not one it looks up.
                "principal_idp": "INTERNAL",
                "permission_sets": [name],
                "account_ids": account_ids,
            }
    tfvars: dict[str, Any] = {
        "sso_groups": sso_groups,
        "permission_sets": permission_sets,
        "account_assignments": account_assignments,
    }
    if not is_external():
        tfvars["sso_users"] = _sso_users(set(sso_groups))
    return tfvars


def _sso_users(group_names: set[str]) -> dict[str, Any]:
    users: dict[str, Any] = {}
    memberships = (
        Membership.objects.active()
        .filter(access_group__archived_at__isnull=True, user__is_active=True)
        .select_related("user", "access_group")
        .order_by("user__username", "access_group__name")
    )
    for membership in memberships:
        user, group_name = membership.user, membership.access_group.name
        if group_name not in group_names:
            continue
        entry = users.setdefault(
            user.username,
            {
                "user_name": user.username,
                "display_name": user.effective_display_name,
                "given_name": user.given_name,
                "family_name": user.family_name,
                "email": user.email,
                "group_membership": [],
            },
        )
        if group_name not in entry["group_membership"]:
            entry["group_membership"].append(group_name)
    return users


def terraform_json() -> str:
    """terraform.tfvars.json's text."""
    return json.dumps(terraform_tfvars(), indent=2, ensure_ascii=False) + "\n"
