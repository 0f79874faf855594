"""/metrics: off without METRICS_TOKEN, a bearer token when on, the fleet's state inside."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accessgroups.access.tasks import memberships_expire_task
from accessgroups.models import AccessGroup, Membership, ProvisioningStatus, User
from provisioning import counters

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.PROVISIONING_REDIS_URL = ""
    counters.reset()
    yield
    counters.reset()


def scrape(token: str = TOKEN) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value."""
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_are_not_offered_without_a_token(db, settings):
    settings.METRICS_TOKEN = ""

    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Token {TOKEN}", f"Basic {TOKEN}", "Bearer"]
)
def test_metrics_need_the_bearer_token(db, metrics_on, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = Client().get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"portal_" not in response.content


def test_rows_waiting_and_failed_are_counted_per_kind_with_the_oldest_age(
    metrics_on, alice, bob, carol, readonly, grant
):
    now = timezone.now()
    # Users count once onboarding was asked for (accessgroups.core.dispatch.in_scope).
    User.objects.update(provisioning_status=ProvisioningStatus.IN_SYNC, onboarding_requested=True)
    User.objects.filter(pk=alice.pk).update(provisioning_status=ProvisioningStatus.FAILED)
    User.objects.filter(pk=bob.pk).update(
        provisioning_status=ProvisioningStatus.PENDING, due_at=now - timedelta(hours=2)
    )
    # A claimed row waits since its claim, whatever its other dates say.
    User.objects.filter(pk=carol.pk).update(
        provisioning_status=ProvisioningStatus.PROVISIONING,
        due_at=now - timedelta(days=30),
        claimed_at=now - timedelta(minutes=10),
    )
    AccessGroup.objects.filter(pk=readonly.pk).update(
        provisioning_status=ProvisioningStatus.IN_SYNC
    )
    grant(alice, readonly, due_at=now - timedelta(days=1))  # pending, due for a day

    samples = scrape()

    for status, count in (("pending", 1), ("provisioning", 1), ("failed", 1), ("in_sync", 0)):
        assert value(samples, "portal_provisioning_rows", kind="user", status=status) == count
    assert value(samples, "portal_provisioning_rows", kind="access_group", status="in_sync") == 1
    assert value(samples, "portal_provisioning_rows", kind="membership", status="pending") == 1
    user_age = value(samples, "portal_provisioning_oldest_waiting_seconds", kind="user")
    assert 7200 <= user_age < 7200 + 60
    assert value(samples, "portal_provisioning_oldest_waiting_seconds", kind="access_group") == 0
    membership_age = value(samples, "portal_provisioning_oldest_waiting_seconds", kind="membership")
    assert 86400 <= membership_age < 86400 + 60


def test_removals_pending_count_and_age(metrics_on, alice, bob, readonly, grant):
    now = timezone.now()
    gone = grant(alice, readonly)
    Membership.objects.filter(pk=gone.pk).update(ended_at=now - timedelta(minutes=30))
    done = grant(bob, readonly)
    Membership.objects.filter(pk=done.pk).update(
        ended_at=now - timedelta(hours=5),
        provisioning_status=ProvisioningStatus.IN_SYNC,
        synced_generation=1,
    )

    samples = scrape()

    assert value(samples, "portal_removals_pending") == 1
    assert 1800 <= value(samples, "portal_removals_pending_oldest_seconds") < 1800 + 60


def test_open_drift_findings_are_counted(metrics_on, readonly):
    from accessgroups.models import DriftFinding, DriftKind, DriftResolution

    assert value(scrape(), "portal_drift_findings_open") == 0
    for n in range(3):
        DriftFinding.objects.create(
            kind=DriftKind.UNEXPECTED_MEMBER, access_group=readonly, principal=f"u{n}", detail="x"
        )
    DriftFinding.objects.create(
        kind=DriftKind.UNEXPECTED_MEMBER, access_group=readonly, principal="gone", detail="x",
        resolved_at=timezone.now(), resolution=DriftResolution.GONE,
    )

    assert value(scrape(), "portal_drift_findings_open") == 3


def test_aws_requests_and_task_durations_of_this_process_without_redis(db, metrics_on):
    counters.count_aws_request(service="sso-admin", operation="CreateGroup", outcome="ok")
    counters.count_aws_request(service="sso-admin", operation="CreateGroup", outcome="throttled")
    counters.count_aws_request(service="sso-admin", operation="CreateGroup", outcome="throttled")
    memberships_expire_task.apply()  # Celery's signals time it, as in a worker

    samples = scrape()

    assert value(samples, "portal_metrics_store_up") == 1
    assert value(
        samples,
        "portal_aws_requests_total",
        service="sso-admin",
        operation="CreateGroup",
        outcome="throttled",
    ) == 2
    task = "accessgroups.access.tasks.memberships_expire_task"
    assert value(samples, "portal_task_duration_seconds_count", task=task) == 1
    assert value(samples, "portal_task_duration_seconds_bucket", task=task, le="+Inf") == 1
    assert value(samples, "portal_task_duration_seconds_sum", task=task) > 0


def test_counters_go_through_redis_and_a_cut_only_loses_them_for_the_while(
    db, metrics_on, settings, proxied_redis
):
    settings.PROVISIONING_REDIS_URL = proxied_redis.url
    settings.PROVISIONING_LIMITS_PREFIX = f"{proxied_redis.prefix}:"
    counters.count_aws_request(service="identitystore", operation="ListUsers", outcome="ok")
    counters.record_task_duration(task="provisioning.tasks.user_onboard_task", seconds=0.3)
    counters.record_task_duration(task="provisioning.tasks.user_onboard_task", seconds=7)

    # Another process (a worker) wrote these: they are in Redis, not in this process.
    assert proxied_redis.direct.hgetall(f"{proxied_redis.prefix}:metrics:aws_requests") == {
        b"identitystore|ListUsers|ok": b"1"
    }
    samples = scrape()
    task = {"task": "provisioning.tasks.user_onboard_task"}
    assert value(samples, "portal_task_duration_seconds_count", **task) == 2
    assert value(samples, "portal_task_duration_seconds_bucket", le="0.25", **task) == 0
    assert value(samples, "portal_task_duration_seconds_bucket", le="0.5", **task) == 1
    assert value(samples, "portal_task_duration_seconds_bucket", le="10", **task) == 2
    assert value(samples, "portal_task_duration_seconds_sum", **task) == pytest.approx(7.3)

    proxied_redis.proxy.cut()
    # Counting while Redis is gone neither raises nor waits long; the count is dropped.
    counters.count_aws_request(service="identitystore", operation="ListUsers", outcome="ok")
    samples = scrape()
    assert value(samples, "portal_metrics_store_up") == 0
    assert ("portal_removals_pending", ()) in samples  # the database's part still comes
    assert not any(name.startswith("portal_aws_requests") for name, _ in samples)

    proxied_redis.proxy.restore()
    samples = scrape()
    assert value(samples, "portal_metrics_store_up") == 1
    labels = {"service": "identitystore", "operation": "ListUsers", "outcome": "ok"}
    assert value(samples, "portal_aws_requests_total", **labels) == 1
