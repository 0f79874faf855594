"""Benchmark: the drift scan of an organisation of 1,000 access groups, 10,000 users and
500 accounts, in calls against the fewest List pages that could answer it.

    .venv/bin/python bench/drift_scan.py [--groups 1000] [--users 10000] [--accounts 500]
                                         [--tps 0] [--seed 1]

moto in-process holds the organisation, made directly in moto's backends (40,000 objects
through boto3 would take minutes): each group has 10 to 30 members and is assigned to 1 to 5
accounts, with one AWS managed policy; the database holds the same, in sync, with bulk
inserts in a throwaway SQLite database. Then one scan (``DRIFT_POLICY=report``) runs and every
call it sends is counted.

The minimum is what any scan of this state must read: for each group, every page of its
members, of its group's assignments, of its permission set's accounts, managed and customer
managed policies, and of its permission set's assignments in each account, at the page size
the scan asks for (100), at least one page per list; plus DescribePermissionSet and
GetInlinePolicyForPermissionSet, which no List answers. The ratio calls/minimum is printed,
not asserted; the goal is 1.2 at most.

``--tps 0`` (the default) lifts the rate limits, so that the run measures calls rather than
waiting; the time a scan takes at AWS's 20 sso-admin and 20 identitystore calls per second
is computed from the counts. ``--tps 20`` runs under the limits as a worker would.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = 100
UNLIMITED_TPS = 1_000_000
MANAGED_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# AWS's rates: sso-admin and identitystore, each for the whole account.
AWS_TPS = 20


def _environment(var_dir: str, tps: int) -> None:
    # Before Django reads its settings: a private var/ (SQLite, broker folder), moto's
    # fake credentials, no endpoint so that moto in-process answers, limits in-process.
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["PORTAL_VAR_DIR"] = var_dir
    os.environ["DEBUG"] = "1"
    for name in (
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "AWS_ENDPOINT_URL",
        "IDENTITY_CENTER_INSTANCE_ARN",
        "IDENTITY_STORE_ID",
        "PROVISIONING_REDIS_URL",
        "AWS_PROFILE",
    ):
        os.environ.pop(name, None)
    os.environ["SSO_ADMIN_TPS"] = str(tps or UNLIMITED_TPS)
    os.environ["LOG_LEVEL"] = "WARNING"
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ[name] = value
    sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument(
        "--tps", type=int, default=0, help="calls per second per service (0: not limited)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as var_dir:
        _environment(var_dir, args.tps)
        return run(args)


def run(args: argparse.Namespace) -> int:
    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from moto import mock_aws

    from accessgroups.models import DriftFinding
    from provisioning import aws, drift

    settings.IDENTITYSTORE_TPS = args.tps or UNLIMITED_TPS
    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    # Members and accounts of each group: (user indexes, account indexes).
    shape = [
        (
            rng.sample(range(args.users), rng.randint(10, 30)),
            rng.sample(range(args.accounts), rng.randint(1, 5)),
        )
        for _ in range(args.groups)
    ]

    with mock_aws():
        aws.reset()
        began = time.monotonic()
        _populate(args, shape)
        built = time.monotonic() - began
        calls: Counter[tuple[str, str]] = Counter()

        def count(event_name: str, **_: object) -> None:
            _, service, operation = event_name.split(".", 2)
            calls[(service, operation)] += 1

        aws.instance()  # discovery is not part of the scan's work
        aws.register_event("before-send", count)
        began = time.monotonic()
        result = drift.drift_scan(policy=drift.REPORT)
        elapsed = time.monotonic() - began
        aws.reset()

    assert result is not None
    minimum = _minimum(shape)
    total, least = sum(calls.values()), sum(minimum.values())
    per_service = Counter()
    for (service, _), n in calls.items():
        per_service[service] += n
    at_limits = max(
        per_service["sso-admin"] / AWS_TPS,
        per_service["identitystore"] / AWS_TPS,
    )
    members = sum(len(m) for m, _ in shape)
    assignments = sum(len(a) for _, a in shape)

    print(
        f"organisation:       {args.groups} access groups, {args.users} users, "
        f"{args.accounts} accounts ({members} memberships, {assignments} assignments)"
    )
    print(f"built in:           {built:.1f} s (moto backends and bulk inserts)")
    print(
        f"scan:               {elapsed:.1f} s with "
        + (f"{args.tps} calls/s per service" if args.tps else "the rate limits lifted")
        + f"; {result.groups} groups compared, "
        f"{DriftFinding.objects.count()} findings, {len(result.unreadable)} unreadable"
    )
    print(f"{'operation':<66} {'calls':>7} {'minimum':>8}")
    for service, operation in sorted(set(calls) | set(minimum)):
        key = (service, operation)
        print(f"  {service + ' ' + operation:<64} {calls[key]:>7} {minimum[key]:>8}")
    print(f"{'total':<66} {total:>7} {least:>8}")
    print(f"ratio calls/minimum: {total / least:.3f} (goal: at most 1.2)")
    print(
        f"at 20 sso-admin + 20 identitystore calls/s: {at_limits:.0f} s "
        f"({per_service['sso-admin']} sso-admin calls, {per_service['identitystore']} "
        f"identitystore calls, in parallel); with the limiter's 50 ms margin "
        f"{at_limits * 1.05:.0f} s"
    )
    return 0


def _populate(args: argparse.Namespace, shape: list[tuple[list[int], list[int]]]) -> None:
    """The same organisation in moto's backends and in the database, all in sync."""
    from datetime import timedelta

    import boto3
    from django.utils import timezone
    from moto.identitystore.models import identitystore_backends
    from moto.ssoadmin.models import ssoadmin_backends

    from accessgroups.models import (
        AccessGroup,
        AccessGroupAccount,
        AccessGroupPolicy,
        Account,
        Membership,
        MembershipSource,
        PolicyKind,
        ProvisioningStatus,
        User,
    )

    instance = boto3.client("sso-admin").list_instances()["Instances"][0]
    store, instance_arn = instance["IdentityStoreId"], instance["InstanceArn"]
    account = boto3.client("sts").get_caller_identity()["Account"]
    ids = identitystore_backends[account]["us-east-1"]
    sso = ssoadmin_backends[account]["us-east-1"]
    synced = {
        "provisioning_status": ProvisioningStatus.IN_SYNC,
        "synced_generation": 1,
        "provisioned_at": timezone.now() - timedelta(hours=1),
    }

    account_ids = [f"{300000000000 + n:012d}" for n in range(args.accounts)]
    accounts = Account.objects.bulk_create(
        Account(account_id=a, name=f"bench-{n}") for n, a in enumerate(account_ids)
    )
    user_ids = []
    for n in range(args.users):
        user_id, _ = ids.create_user(
            store,
            f"user{n:05d}",
            {"GivenName": "Bench", "FamilyName": f"{n}"},
            f"user{n:05d}",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
        user_ids.append(user_id)
    users = User.objects.bulk_create(
        (
            User(
                username=f"user{n:05d}",
                email=f"user{n:05d}@example.com",
                given_name="Bench",
                family_name=str(n),
                identity_center_user_id=user_id,
                **synced,
            )
            for n, user_id in enumerate(user_ids)
        ),
        batch_size=2000,
    )
    groups, policies, links, memberships = [], [], [], []
    for n, (members, assigned) in enumerate(shape):
        name = f"Bench{n:04d}"
        group_id, _ = ids.create_group(store, name, "")
        arn = sso.create_permission_set(name, "", instance_arn, "PT1H", None, [])[
            "PermissionSetArn"
        ]
        sso.attach_managed_policy_to_permission_set(instance_arn, arn, MANAGED_POLICY)
        for user in members:
            ids.create_group_membership(store, group_id, {"UserId": user_ids[user]})
        for a in assigned:
            sso.create_account_assignment(
                instance_arn, account_ids[a], "AWS_ACCOUNT", arn, "GROUP", group_id
            )
        groups.append(
            AccessGroup(
                name=name,
                identity_center_group_id=group_id,
                permission_set_arn=arn,
                requestable=False,
                **synced,
            )
        )
    groups = AccessGroup.objects.bulk_create(groups, batch_size=500)
    activated = timezone.now() - timedelta(hours=2)
    for group, (members, assigned) in zip(groups, shape, strict=True):
        policies.append(
            AccessGroupPolicy(access_group=group, kind=PolicyKind.AWS_MANAGED, arn=MANAGED_POLICY)
        )
        links += [
            AccessGroupAccount(
                access_group=group,
                account=accounts[a],
                provisioning_status=ProvisioningStatus.IN_SYNC,
            )
            for a in assigned
        ]
        memberships += [
            Membership(
                user=users[u],
                access_group=group,
                source=MembershipSource.ADMIN,
                granted_at=activated,
                activated_at=activated,
                **synced,
            )
            for u in members
        ]
    AccessGroupPolicy.objects.bulk_create(policies, batch_size=2000)
    AccessGroupAccount.objects.bulk_create(links, batch_size=2000)
    Membership.objects.bulk_create(memberships, batch_size=2000)


def _minimum(shape: list[tuple[list[int], list[int]]]) -> Counter[tuple[str, str]]:
    """The fewest calls any scan of this state must make, per operation."""

    def pages(items: int) -> int:
        return max(1, math.ceil(items / PAGE))

    least: Counter[tuple[str, str]] = Counter()
    for members, assigned in shape:
        least[("identitystore", "ListGroupMemberships")] += pages(len(members))
        least[("sso-admin", "ListAccountAssignmentsForPrincipal")] += pages(len(assigned))
        least[("sso-admin", "DescribePermissionSet")] += 1
        least[("sso-admin", "GetInlinePolicyForPermissionSet")] += 1
        least[("sso-admin", "ListManagedPoliciesInPermissionSet")] += pages(1)
        least[("sso-admin", "ListCustomerManagedPolicyReferencesInPermissionSet")] += pages(0)
        least[("sso-admin", "ListAccountsForProvisionedPermissionSet")] += pages(len(assigned))
        # One principal (the group) holds the permission set in each of its accounts.
        least[("sso-admin", "ListAccountAssignments")] += len(assigned) * pages(1)
    return least


if __name__ == "__main__":
    sys.exit(main())
