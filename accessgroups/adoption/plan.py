"""What an import from IAM Identity Center would adopt, as the domain holds it.

provisioning.adoption reads Identity Center into these; accessgroups.adoption.services
stores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IdentityUser:
    """An identity store user, as much of it as a portal user holds."""

    user_id: str
    username: str
    email: str  # the primary address, else the first one; "" when there is none
    given_name: str
    family_name: str
    display_name: str


@dataclass(frozen=True)
class Member:
    """A group membership in Identity Center, and what the import would do with its user."""

    membership_id: str
    user: IdentityUser
    linked_to: str = ""  # the existing portal user of that username; "" when one is created
    refused: str = ""  # why the portal cannot hold this member, in words; "" when it can


@dataclass
class GroupImport:
    """One access group to create from an identity store group and its permission set."""

    name: str
    group_id: str
    permission_set_arn: str
    description: str
    session_duration: str
    aws_managed_policies: list[str]
    customer_managed_policies: list[dict[str, str]]
    inline_policy: dict[str, Any] | None
    account_ids: list[str]
    members: list[Member]
    notes: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """The fields for accessgroups.catalogue.services.access_group_clean_new (no accounts)."""
        return {
            "name": self.name,
            "description": self.description,
            "session_duration": self.session_duration,
            "aws_managed_policies": self.aws_managed_policies,
            "customer_managed_policies": self.customer_managed_policies,
            "inline_policy": self.inline_policy,
            # Nobody could approve a request yet: an admin names approvers first.
            "requestable": False,
        }


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class ImportPlan:
    groups: list[GroupImport] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # Account rows to create for accounts the portal does not know: id -> Account fields.
    new_accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
