"""Every HTTP attempt to AWS is counted by how it ended, and counting never breaks a call.

Through moto in-process, with the counters in this process (no Redis: the ``ic`` fixture);
the same counts through Redis, read by /metrics, are in tests/portal/test_metrics.py.
"""

from __future__ import annotations

import socket
import time

import pytest

from provisioning import aws, counters
from provisioning.errors import NotFoundError
from tests.provisioning.conftest import Inject


@pytest.fixture(autouse=True)
def _fresh_counts():
    counters.reset()
    yield
    counters.reset()


def attempts(service: str, operation: str) -> dict[str, int]:
    return {
        outcome: count
        for (s, o, outcome), count in counters.aws_requests().items()
        if (s, o) == (service, operation)
    }


def test_every_attempt_is_counted_throttled_ones_too(ic, register):
    throttle = Inject(times=2)  # botocore retries twice, the third attempt goes through
    register("before-send.identitystore.ListGroups", throttle)

    aws.call("identitystore", "ListGroups", IdentityStoreId=ic.store)

    assert throttle.attempts == 3
    assert attempts("identitystore", "ListGroups") == {"throttled": 2, "ok": 1}


def test_refusals_and_server_errors_are_counted_by_kind(ic, register):
    failing_once = Inject(times=1, code="InternalFailure", status=500)
    register("before-send.sso-admin.ListPermissionSets", failing_once)

    aws.call("sso-admin", "ListPermissionSets", InstanceArn=ic.instance_arn)
    with pytest.raises(NotFoundError):
        aws.call("identitystore", "DescribeGroup", IdentityStoreId=ic.store, GroupId="missing")

    assert attempts("sso-admin", "ListPermissionSets") == {"server_error": 1, "ok": 1}
    assert attempts("identitystore", "DescribeGroup") == {"client_error": 1}


@pytest.mark.parametrize(
    ("response", "parsed", "exception", "outcome"),
    [
        ({"status_code": 200}, {}, None, "ok"),
        ({"status_code": 400}, {"Error": {"Code": "ThrottlingException"}}, None, "throttled"),
        ({"status_code": 429}, {"Error": {"Code": ""}}, None, "throttled"),
        ({"status_code": 400}, {"Error": {"Code": "ValidationException"}}, None, "client_error"),
        ({"status_code": 503}, {"Error": {"Code": "ServiceUnavailable"}}, None, "server_error"),
        (None, None, ConnectionResetError(), "unreachable"),
    ],
)
def test_attempt_outcome(response, parsed, exception, outcome):
    assert aws.attempt_outcome(response, parsed, exception) == outcome


def test_counting_with_redis_gone_drops_the_count_quickly_and_raises_nothing(settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.PROVISIONING_REDIS_URL = f"redis://127.0.0.1:{port}/0"

    started = time.monotonic()
    counters.count_aws_request(service="sso-admin", operation="CreateGroup", outcome="ok")
    counters.record_task_duration(task="provisioning.tasks.user_onboard_task", seconds=0.2)

    assert time.monotonic() - started < 2
    with pytest.raises(counters.StoreUnavailable):
        counters.aws_requests()
