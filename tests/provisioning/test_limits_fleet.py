"""AWS's limits, measured on a fleet of two workers doing real provisioning at once.

A moto server in this process stands in for AWS and two worker processes, each running the
real ``access_group_sync_task`` on a few threads (as Celery's threads pool would), share it,
the test database and the Redis limiters. Every call is timestamped as it is sent and every
asynchronous request is held IN_PROGRESS for a while (``bench.ic_timing``), so that the
limits on requests in flight really bite. Then:

- at most 15 account-assignment creations outstanding at any instant, fleet-wide;
- at most 20 sso-admin calls in any one-second window, fleet-wide;
- at most 3 ``ProvisionPermissionSet`` running at once, fleet-wide;

and each of those limits was reached, so the test would notice if it were not enforced.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from moto.server import ThreadedMotoServer

from bench.ic_timing import (
    CallLog,
    SlowIdentityCenter,
    max_in_window,
    max_overlap,
    moto_permission_set_provisioning,
)
from tests.provisioning.test_limits import REDIS_URL, redis_or_fail

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

WORKERS = 2
THREADS_PER_WORKER = 3
GROUPS = 6
ACCOUNTS_PER_GROUP = 10
# Long enough that the pipeline fills all 15 slots while creations are in flight.
ASSIGNMENT_SECONDS = 2.0
PROVISIONING_SECONDS = 1.5


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the test Redis; its keys are deleted afterwards."""
    client = redis_or_fail()
    prefix = f"test:limits-fleet:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def fleet_settings(moto_endpoint: str, redis_prefix: str) -> Iterator[None]:
    """This process talks to the moto server and the Redis limits the workers use."""
    from provisioning import aws

    with override_settings(
        AWS_ENDPOINT_URL=moto_endpoint,
        PROVISIONING_REDIS_URL=REDIS_URL,
        PROVISIONING_LIMITS_PREFIX=redis_prefix,
    ):
        aws.reset()
        yield
        aws.reset()


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    # The server runs in this process, so moto's patched provisioning applies to it.
    with moto_permission_set_provisioning(PROVISIONING_SECONDS):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


def _worker(job: dict[str, Any]) -> dict[str, Any]:
    """One worker process: Django on the test database, the real task on a few threads."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["AWS_ENDPOINT_URL"] = job["endpoint"]
    os.environ["PROVISIONING_REDIS_URL"] = REDIS_URL
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[name] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    # Every thread's connection is built from this dict: point them all at the test database.
    connections.settings["default"]["NAME"] = job["database"]
    settings.PROVISIONING_LIMITS_PREFIX = job["prefix"]
    settings.IDENTITY_CENTER_INSTANCE_ARN = job["instance_arn"]
    settings.IDENTITY_STORE_ID = job["identity_store_id"]

    from provisioning import aws, tasks

    aws.reset()
    slow = SlowIdentityCenter(assignment_seconds=ASSIGNMENT_SECONDS)
    log = CallLog()
    for name, handler in slow.handlers() + log.handlers():
        aws.register_event(name, handler)
    # Work the tasks would hand on to other tasks is not part of this measurement.
    for task in (tasks.membership_sync_task, tasks.access_group_sync_task):
        task.delay = lambda *a, **k: None

    def run(group_id: int) -> str:
        result = tasks.access_group_sync_task.apply(args=[group_id])
        return result.state

    with ThreadPoolExecutor(THREADS_PER_WORKER) as pool:
        states = list(pool.map(run, job["groups"]))
    connections.close_all()
    return {"states": states, "log": log.to_json()}


def _run_fleet(endpoint: str, prefix: str, group_ids: list[int]) -> CallLog:
    from provisioning import aws

    instance = aws.instance()
    jobs = [
        {
            "endpoint": endpoint,
            "database": connection.settings_dict["NAME"],
            "prefix": prefix,
            "instance_arn": instance.arn,
            "identity_store_id": instance.identity_store_id,
            "groups": group_ids[n::WORKERS],
        }
        for n in range(WORKERS)
    ]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        results = pool.map(_worker, jobs)
    for result in results:
        assert set(result["states"]) == {"SUCCESS"}, result["states"]
        assert result["log"]["unfinished"] == 0
    return CallLog.merged(r["log"] for r in results)


def _sync_ids(enqueued: list[tuple[str, tuple]]) -> list[int]:
    """Access groups the workflow enqueued (conftest's ``enqueued`` catches the tasks)."""
    return [args[0] for name, args in enqueued if name == "access_group_sync_task"]


def _assignments(group: Any) -> list[str]:
    """The accounts where Identity Center holds the group's assignment, duplicates kept."""
    from provisioning import aws

    found = aws.paginate(
        "sso-admin",
        "ListAccountAssignmentsForPrincipal",
        "AccountAssignments",
        InstanceArn=aws.instance().arn,
        PrincipalId=group.identity_center_group_id,
        PrincipalType="GROUP",
    )
    return sorted(
        a["AccountId"] for a in found if a["PermissionSetArn"] == group.permission_set_arn
    )


def test_two_workers_stay_inside_aws_limits(
    fleet_settings, moto_endpoint, redis_prefix, dave, make_account, enqueued
):
    from accessgroups.catalogue.services import access_group_create, access_group_update
    from accessgroups.models import AccessGroup, ProvisioningStatus

    accounts = [make_account() for _ in range(ACCOUNTS_PER_GROUP * 2)]
    groups = []
    for n in range(GROUPS):
        # Groups overlap in accounts, as real ones do; each has ten.
        chosen = accounts[n % 2 * ACCOUNTS_PER_GROUP :][:ACCOUNTS_PER_GROUP]
        groups.append(
            access_group_create(
                actor=dave,
                name=f"Fleet{n}",
                accounts=[a.account_id for a in chosen],
                aws_managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                requestable=False,
            )
        )
    assert sorted(_sync_ids(enqueued)) == sorted(g.pk for g in groups)

    # First round: every group created and assigned to its accounts at once.
    created = _run_fleet(moto_endpoint, redis_prefix, [g.pk for g in groups])

    assert created.count("CreateAccountAssignment") == GROUPS * ACCOUNTS_PER_GROUP
    assert len(created.creations) == GROUPS * ACCOUNTS_PER_GROUP
    # Reached and never exceeded: 60 creations wanted to be in flight at once.
    assert max_overlap(created.creations) == 15
    assert max_in_window(created.stamps("sso-admin"), 1.0) == 20
    for group in AccessGroup.objects.all():
        assert group.provisioning_status == ProvisioningStatus.IN_SYNC, group.last_error
        # Two workers at once, and still exactly one assignment per account.
        wanted = group.account_links.values_list("account__account_id", flat=True)
        assert _assignments(group) == sorted(wanted)

    # Second round: a policy added to every group, already assigned, so each permission
    # set is provisioned again to its accounts.
    enqueued.clear()
    for group in groups:
        access_group_update(
            actor=dave,
            access_group=group,
            aws_managed_policies=[
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                "arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess",
            ],
        )
    assert sorted(_sync_ids(enqueued)) == sorted(g.pk for g in groups)
    changed = _run_fleet(moto_endpoint, redis_prefix, _sync_ids(enqueued))

    assert changed.count("CreateAccountAssignment") == 0
    assert changed.count("ProvisionPermissionSet") == GROUPS
    assert len(changed.provisions) == GROUPS
    # Six provisions wanted to run at once; three did.
    assert max_overlap(changed.provisions) == 3
    assert max_in_window(changed.stamps("sso-admin"), 1.0) == 20
    for group in AccessGroup.objects.all():
        assert group.provisioning_status == ProvisioningStatus.IN_SYNC, group.last_error
