"""An Identity Center that a team built by hand before adopting the portal, made with boto3.

Groups, permission sets with every policy kind, assignments to several accounts (some in
AWS Organizations, one not), users and memberships, and the things an import must leave
out: a group without a permission set of its name, a name the portal refuses, policies it
refuses, a group that also holds another permission set, and users it cannot hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import boto3

from tests.provisioning.conftest import REGION, IdentityCenterState

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
}
# Assigned in Identity Center, unknown to AWS Organizations (e.g. read without permission).
OUTSIDE_ACCOUNT = "111122223333"
# Known to the portal before the import.
PRODUCTION = "210987654321"


@dataclass
class Existing:
    ic: IdentityCenterState
    accounts: dict[str, str] = field(default_factory=dict)  # name -> account id
    groups: dict[str, str] = field(default_factory=dict)  # display name -> GroupId
    permission_sets: dict[str, str] = field(default_factory=dict)  # name -> ARN
    users: dict[str, str] = field(default_factory=dict)  # username -> UserId
    memberships: dict[tuple[str, str], str] = field(default_factory=dict)  # (group, user) -> id

    def user(
        self, username: str, *, email: str | None = None, given: str = "", family: str = "Example"
    ) -> str:
        emails = (
            []
            if email is None
            else [
                {"Value": f"{username}.old@example.net", "Type": "home", "Primary": False},
                {"Value": email, "Type": "work", "Primary": True},
            ]
        )
        user_id = self.ic.ids.create_user(
            IdentityStoreId=self.ic.store,
            UserName=username,
            DisplayName=f"{given or username.capitalize()} {family}",
            Name={"GivenName": given or username.capitalize(), "FamilyName": family},
            **({"Emails": emails} if emails else {}),
        )["UserId"]
        self.users[username] = user_id
        return user_id

    def group(self, name: str, description: str = "") -> str:
        group_id = self.ic.ids.create_group(
            IdentityStoreId=self.ic.store,
            DisplayName=name,
            **({"Description": description} if description else {}),
        )["GroupId"]
        self.groups[name] = group_id
        return group_id

    def permission_set(
        self,
        name: str,
        *,
        duration: str = "PT1H",
        description: str = "",
        managed: tuple[str, ...] = (),
        customer: tuple[tuple[str, str], ...] = (),
        inline: dict | None = None,
    ) -> str:
        sso, instance = self.ic.sso, self.ic.instance_arn
        arn = sso.create_permission_set(
            InstanceArn=instance,
            Name=name,
            SessionDuration=duration,
            **({"Description": description} if description else {}),
        )["PermissionSet"]["PermissionSetArn"]
        common = {"InstanceArn": instance, "PermissionSetArn": arn}
        for policy in managed:
            sso.attach_managed_policy_to_permission_set(ManagedPolicyArn=policy, **common)
        for path, policy_name in customer:
            sso.attach_customer_managed_policy_reference_to_permission_set(
                CustomerManagedPolicyReference={"Name": policy_name, "Path": path}, **common
            )
        if inline is not None:
            sso.put_inline_policy_to_permission_set(InlinePolicy=json.dumps(inline), **common)
        self.permission_sets[name] = arn
        return arn

    def assign(self, group: str, permission_set: str, *accounts: str) -> None:
        for account in accounts:
            self.ic.assign(account, self.permission_sets[permission_set], self.groups[group])

    def add(self, group: str, *usernames: str) -> None:
        for username in usernames:
            self.memberships[(group, username)] = self.ic.add_member(
                self.groups[group], self.users[username]
            )


def build(ic: IdentityCenterState) -> Existing:
    existing = Existing(ic)
    organizations = boto3.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    for name in ("shop-sandbox", "shop-staging"):
        existing.accounts[name] = organizations.create_account(
            Email=f"{name}@example.com", AccountName=name
        )["CreateAccountStatus"]["AccountId"]
    existing.accounts["outside"] = OUTSIDE_ACCOUNT
    existing.accounts["production"] = PRODUCTION
    sandbox, staging = existing.accounts["shop-sandbox"], existing.accounts["shop-staging"]

    existing.user("ada", email="ada@example.com", given="Ada", family="Lovelace")
    existing.user("grace", email="grace@example.com", given="Grace", family="Hopper")
    existing.user("alice", email="alice@corp.example.com")  # the portal has an alice
    existing.user("bob", email="bob@corp.example.com")  # the portal's bob is another user
    existing.user("linus")  # no email address
    existing.user("mallory", email="ALICE@example.com")  # the portal's alice has this address

    existing.group("Developers", "Shop developers")
    existing.permission_set(
        "Developers",
        duration="PT4H",
        description="Shop developers",
        managed=(READ_ONLY, POWER_USER),
        customer=(("/shop/", "ShopDeploy"),),
        inline=INLINE,
    )
    existing.assign("Developers", "Developers", sandbox, staging, OUTSIDE_ACCOUNT)
    existing.add("Developers", "ada", "grace", "alice", "bob", "linus", "mallory")

    existing.group("Auditors", "Security auditors")  # its permission set has no description
    existing.permission_set("Auditors", duration="PT2H", managed=(SECURITY_AUDIT,))
    existing.assign("Auditors", "Auditors", PRODUCTION)
    existing.add("Auditors", "grace")

    # Another group holding Developers' permission set: not Developers' account.
    existing.group("Contractors")
    existing.assign("Contractors", "Developers", PRODUCTION)
    existing.add("Contractors", "ada")

    existing.group("Data Science")  # a name the portal refuses
    existing.group("LongSessions")
    existing.permission_set("LongSessions", duration="PT18H", managed=(READ_ONLY,))
    existing.group("BrokenInline")
    existing.permission_set("BrokenInline", inline={"Version": "2012-10-17"})
    # Holds its own permission set and Auditors' too: the portal could not show the second.
    existing.group("ProdSupport")
    existing.permission_set("ProdSupport", managed=(READ_ONLY,))
    existing.assign("ProdSupport", "ProdSupport", staging)
    existing.assign("ProdSupport", "Auditors", staging)
    return existing
