"""Benchmark: the AWS Organizations sync of 5,000 accounts in 200 OUs, in calls against the
fewest pages that could describe the organisation, and in time against Organizations' rate.

    .venv/bin/python bench/organizations_sync.py [--accounts 5000] [--ous 200] [--top 10]
                                                 [--groups 20] [--tps 0] [--seed 1]

moto in-process holds the organisation: ``--top`` OUs under the root, the other OUs spread
under them (two levels), and the accounts spread at random over the root and every OU,
made directly in moto's backend (5,000 CreateAccount calls through boto3 would measure
moto). ``--groups`` access groups each target one top-level OU. Then three syncs run: the
first (everything created, every group's links added), a second with nothing changed, and
a third after 100 accounts moved between OUs and 50 were closed.

The minimum is what any walk of the tree must read: ListRoots, and for every parent one
page of ListOrganizationalUnitsForParent and of ListAccountsForParent per 20 items (AWS's
largest page), at least one of each. ``--tps 0`` (the default) lifts the rate limit, so that
the run measures calls and the portal's own time; the time at the fleet-wide rate
(``ORGANIZATIONS_TPS``, 5 by default) is computed from the counts. ``--tps 5`` runs under it.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from collections import Counter

from drift_scan import UNLIMITED_TPS, _environment

PAGE = 20
DEFAULT_TPS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--ous", type=int, default=200)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--tps", type=int, default=0, help="calls per second (0: not limited)")
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

    from provisioning import aws

    settings.ORGANIZATIONS_TPS = args.tps or UNLIMITED_TPS
    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)

    with mock_aws():
        aws.reset()
        began = time.monotonic()
        backend, parents = _populate(args, rng)
        print(
            f"organisation:  {args.accounts} accounts (+ the management account) in "
            f"{args.ous} OUs, {args.top} under the root; {args.groups} access groups by OU"
        )
        print(f"built in:      {time.monotonic() - began:.1f} s (moto's backend)")
        print(
            f"{'sync':<34} {'calls':>6} {'minimum':>8} {'ratio':>6} {'elapsed':>8} "
            f"{'at ' + str(args.tps or DEFAULT_TPS) + '/s':>8} {'links +/-':>10}"
        )
        _sync("first (every account new)", args, backend, parents)
        _sync("second (nothing changed)", args, backend, parents)
        accounts = [a for a in backend.accounts if a.id != backend.org.master_account_id]
        for account in rng.sample(accounts, 100):
            account.parent_id = rng.choice(parents)
        for account in rng.sample(accounts, 50):
            account.status = "SUSPENDED"
        _sync("third (100 moved, 50 closed)", args, backend, parents)
        aws.reset()
    print(
        "elapsed: the rate limit lifted; read = the walk (moto answering in-process), "
        "stored = one transaction (SQLite)"
    )
    print(
        "minimum: ListRoots + per parent ceil(OUs/20) and ceil(accounts/20) pages, at least 1 each;"
        f" time at the rate: calls / {args.tps or DEFAULT_TPS} per second"
    )
    return 0


def _sync(label: str, args: argparse.Namespace, backend, parents: list[str]) -> None:
    from accessgroups.models import OrganizationsSync
    from accessgroups.organizations.services import organizations_store
    from provisioning import aws
    from provisioning.organizations import organizations_read

    calls: Counter[str] = Counter()

    def count(event_name: str, **_: object) -> None:
        calls[event_name.split(".", 2)[2]] += 1

    aws.register_event("before-send.organizations", count)
    began = time.monotonic()
    tree = organizations_read()
    read = time.monotonic() - began
    organizations_store(tree=tree)
    elapsed = time.monotonic() - began
    aws.unregister_event("before-send.organizations", count)
    total, least = sum(calls.values()), _minimum(backend, parents)
    last = OrganizationsSync.objects.first()
    rate = args.tps or DEFAULT_TPS
    print(
        f"{label:<34} {total:>6} {least:>8} {total / least:>6.3f} {elapsed:>7.1f}s "
        f"{total / rate:>7.0f}s {last.links_added:>5}/{last.links_removed:<4}"
        f" (read {read:.1f}s, stored {elapsed - read:.1f}s)"
    )


def _minimum(backend, parents: list[str]) -> int:
    def pages(items: int) -> int:
        return max(1, math.ceil(items / PAGE))

    units = Counter(ou.parent_id for ou in backend.ou)
    accounts = Counter(a.parent_id for a in backend.accounts)
    return 1 + sum(pages(units[p]) + pages(accounts[p]) for p in parents)


def _populate(args: argparse.Namespace, rng: random.Random):
    """The organisation in moto's backend; access groups in the database, by OU."""
    import boto3
    from moto.organizations.models import organizations_backends

    from accessgroups.models import AccessGroup, OrganizationalUnit

    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    account = boto3.client("sts").get_caller_identity()["Account"]
    backend = organizations_backends[account]["aws"]
    root = backend.org.root_id
    top = [
        backend.create_organizational_unit(ParentId=root, Name=f"Top{n:02d}")["OrganizationalUnit"]["Id"]
        for n in range(args.top)
    ]
    below = [
        backend.create_organizational_unit(ParentId=rng.choice(top), Name=f"Unit{n:03d}")[
            "OrganizationalUnit"
        ]["Id"]
        for n in range(args.ous - args.top)
    ]
    parents = [root, *top, *below]
    for n in range(args.accounts):
        status = backend.create_account(AccountName=f"bench-{n:05d}", Email=f"bench-{n:05d}@example.com")
        backend.get_account_by_id(status["CreateAccountStatus"]["AccountId"]).parent_id = rng.choice(parents)

    # The groups name their OUs before the first sync: it fills in names, parents and paths.
    chosen = [OrganizationalUnit.objects.create(ou_id=ou, name=ou, path=ou) for ou in top]
    for n in range(args.groups):
        group = AccessGroup.objects.create(name=f"ByOu{n:03d}", requestable=False)
        group.organizational_units.set([chosen[n % len(top)]])
    return backend, parents


if __name__ == "__main__":
    sys.exit(main())
