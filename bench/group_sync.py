"""Benchmark: the refresh of Identity Center groups for approvers and eligibility by group,
10,000 users in 500 groups, in calls against the fewest pages that could answer it.

    .venv/bin/python bench/group_sync.py [--users 10000] [--groups 500] [--tps 0] [--seed 1]

moto in-process holds the identity store, made directly in moto's backends (10,000 users
and their memberships through boto3 would take minutes): each user is in 1 to 5 groups,
chosen with a skew so that a few groups are large (thousands of members, tens of pages) and
most are small, as an IdP's groups are. Every group is named by an access group (as approver
or eligible group), so every group's members must be read. A first refresh lists the groups
(as the one after installing would); the refresh measured then reads every member; a third
one, with nothing changed in Identity Center, shows the steady state.

The minimum is what any refresh must read: every page of ListGroups and, for each group,
every page of its members, at the largest page AWS allows (100), at least one page per list.
The ratio calls/minimum is printed, not asserted.

``--tps 0`` (the default) lifts the rate limits, so that the run measures calls rather than
waiting; the time the refresh takes at AWS's 20 identitystore calls per second (for the whole
account, the fleet's limiter) is computed from the counts. ``--tps 20`` runs under the limit.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from collections import Counter

from drift_scan import AWS_TPS, UNLIMITED_TPS, _environment

PAGE = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument(
        "--tps", type=int, default=0, help="identitystore calls per second (0: not limited)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as var_dir:
        _environment(var_dir, args.tps)
        return run(args)


def _shape(args: argparse.Namespace) -> list[set[int]]:
    """Members (user indexes) of each group: 1 to 5 groups per user, skewed towards a few."""
    rng = random.Random(args.seed)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(args.groups)]
    members: list[set[int]] = [set() for _ in range(args.groups)]
    for user in range(args.users):
        for group in rng.choices(range(args.groups), weights=weights, k=rng.randint(1, 5)):
            members[group].add(user)
    return members


def run(args: argparse.Namespace) -> int:
    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from moto import mock_aws

    from provisioning import aws, directory

    settings.IDENTITYSTORE_TPS = args.tps or UNLIMITED_TPS
    call_command("migrate", verbosity=0)
    shape = _shape(args)

    with mock_aws():
        aws.reset()
        began = time.monotonic()
        _populate(args, shape)
        aws.instance()  # discovery is not part of the refresh's work
        first = directory.group_sync()
        _name_every_group()
        built = time.monotonic() - began

        calls: Counter[str] = Counter()

        def count(event_name: str, **_: object) -> None:
            calls[event_name.split(".", 2)[2]] += 1

        aws.register_event("before-send.identitystore", count)
        began = time.monotonic()
        result = directory.group_sync()
        elapsed = time.monotonic() - began
        steady_calls = Counter(calls)
        calls.clear()
        began = time.monotonic()
        again = directory.group_sync()
        steady = time.monotonic() - began
        steady_calls, calls = calls, steady_calls
        aws.reset()

    assert first is not None and result is not None and again is not None
    minimum = _minimum(shape)
    total, least = sum(calls.values()), sum(minimum.values())
    sizes = sorted((len(m) for m in shape), reverse=True)
    memberships = sum(sizes)

    print(
        f"identity store:     {args.users} users in {args.groups} groups ({memberships} "
        f"memberships; largest groups {sizes[0]}, {sizes[1]}, {sizes[2]} members, "
        f"median {sizes[len(sizes) // 2]})"
    )
    print(f"built in:           {built:.1f} s (moto backends, a first refresh, access groups)")
    print(
        f"refresh:            {elapsed:.1f} s with "
        + (f"{args.tps} calls/s" if args.tps else "the rate limit lifted")
        + f"; {result.groups} groups listed, members of {result.groups_read} read "
        f"({result.members} memberships), error: {result.error or 'none'}"
    )
    print(f"{'operation':<40} {'calls':>7} {'minimum':>8}")
    for operation in sorted(set(calls) | set(minimum)):
        print(f"  {operation:<38} {calls[operation]:>7} {minimum[operation]:>8}")
    print(f"{'total':<40} {total:>7} {least:>8}")
    print(f"ratio calls/minimum: {total / least:.3f}")
    print(
        f"at {AWS_TPS} identitystore calls/s (the fleet-wide limit): {total / AWS_TPS:.0f} s; "
        f"with the limiter's 50 ms margin {total / AWS_TPS * 1.05:.0f} s; "
        f"GROUP_SYNC_SECONDS defaults to 300"
    )
    print(
        f"steady state (nothing changed): {steady:.1f} s, "
        f"{sum(steady_calls.values())} calls, {again.members} memberships kept"
    )
    return 0


def _populate(args: argparse.Namespace, shape: list[set[int]]) -> None:
    """Users, groups and memberships straight into moto's identity store, as SCIM made them."""
    import boto3
    from moto.identitystore.models import identitystore_backends

    store = boto3.client("sso-admin").list_instances()["Instances"][0]["IdentityStoreId"]
    account = boto3.client("sts").get_caller_identity()["Account"]
    ids = identitystore_backends[account]["us-east-1"]
    user_ids = []
    for n in range(args.users):
        email = f"user{n:05d}@example.com"
        user_id, _ = ids.create_user(
            store, email, {"GivenName": "Bench", "FamilyName": f"{n}"}, email,
            None, None, None, None, None, None, None, None, None, None,
        )
        user_ids.append(user_id)
    for n, members in enumerate(shape):
        group_id, _ = ids.create_group(store, f"idp-team-{n:03d}", "synced by SCIM")
        for user in sorted(members):
            ids.create_group_membership(store, group_id, {"UserId": user_ids[user]})


def _name_every_group() -> None:
    """Access groups naming every Identity Center group, half as approver, half as eligible."""
    from accessgroups.models import AccessGroup, IdentityCenterGroup

    groups = list(IdentityCenterGroup.objects.order_by("display_name"))
    made = AccessGroup.objects.bulk_create(
        AccessGroup(name=f"Bench{n:03d}", requestable=True) for n in range((len(groups) + 1) // 2)
    )
    approver = AccessGroup.approver_groups.through
    eligible = AccessGroup.eligible_groups.through
    approver.objects.bulk_create(
        approver(accessgroup_id=made[n // 2].pk, identitycentergroup_id=g.pk)
        for n, g in enumerate(groups) if n % 2 == 0
    )
    eligible.objects.bulk_create(
        eligible(accessgroup_id=made[n // 2].pk, identitycentergroup_id=g.pk)
        for n, g in enumerate(groups) if n % 2 == 1
    )


def _minimum(shape: list[set[int]]) -> Counter[str]:
    """The fewest calls any refresh of this store must make, per operation."""

    def pages(items: int) -> int:
        return max(1, math.ceil(items / PAGE))

    least: Counter[str] = Counter()
    least["ListGroups"] = pages(len(shape))
    for members in shape:
        least["ListGroupMemberships"] += pages(len(members))
    return least


if __name__ == "__main__":
    sys.exit(main())
