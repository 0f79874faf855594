"""provisioning.aws: clients, events, rate limits per attempt, instance discovery, errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError
from botocore.parsers import ResponseParserError

from provisioning import aws, limits
from provisioning.errors import (
    NotFoundError,
    NotImplementedByEndpoint,
    PermanentError,
    TransientError,
)
from tests.provisioning.conftest import Inject


def client_error(
    code: str, status: int, message: str = "boom", content_type: str = "application/json", **extra
):
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "HTTPStatusCode": status,
            "HTTPHeaders": {"content-type": content_type},
        },
        **extra,
    }
    return ClientError(response, "CreateGroup")


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ThrottlingException", 400, TransientError),
        ("TooManyRequestsException", 429, TransientError),
        ("ConflictException", 409, TransientError),
        ("InternalServerException", 500, TransientError),
        ("ServiceUnavailable", 503, TransientError),
        ("RequestTimeout", 408, TransientError),
        ("ResourceNotFoundException", 404, NotFoundError),
        ("AccessDeniedException", 403, PermanentError),
        ("ValidationException", 400, PermanentError),
        ("ServiceQuotaExceededException", 402, PermanentError),
    ],
)
def test_client_errors_become_transient_or_permanent(code, status, kind):
    error = aws.translate_error(
        client_error(code, status), service="identitystore", operation="CreateGroup"
    )
    assert type(error) is kind
    assert error.code == code
    assert error.operation == "CreateGroup"


def test_messages_say_what_to_do():
    throttled = aws.translate_error(
        client_error("ThrottlingException", 400), service="sso-admin", operation="X"
    )
    assert (
        str(throttled)
        == "AWS is throttling sso-admin calls (ThrottlingException on X); will retry."
    )
    denied = aws.translate_error(
        client_error("AccessDeniedException", 403, "not authorized"),
        service="sso-admin",
        operation="CreatePermissionSet",
    )
    assert str(denied) == (
        "The portal's AWS credentials may not call sso-admin:CreatePermissionSet (not authorized). "
        "Allow it in the IAM policy of the portal's role."
    )


def test_not_found_carries_the_resource_type():
    error = aws.translate_error(
        client_error("ResourceNotFoundException", 400, ResourceType="GROUP"),
        service="identitystore",
        operation="X",
    )
    assert isinstance(error, NotFoundError) and error.resource_type == "GROUP"


def test_unimplemented_operations_are_permanent_not_5xx_to_retry():
    # The moto server's answer to an operation it lacks: HTTP 500, an HTML page, no AWS code.
    html_500 = client_error(
        "500", 500, "<!doctype html><title>500 Internal Server Error</title>", "text/html"
    )
    error = aws.translate_error(
        html_500, service="sso-admin", operation="DescribePermissionSetProvisioningStatus"
    )
    assert isinstance(error, NotImplementedByEndpoint)
    in_process = aws.translate_error(
        NotImplementedError("The x action has not been implemented"),
        service="sso-admin",
        operation="X",
    )
    assert isinstance(in_process, NotImplementedByEndpoint)
    # AWS's own 500s carry a JSON error code and stay transient.
    assert isinstance(
        aws.translate_error(
            client_error("InternalFailure", 500), service="sso-admin", operation="X"
        ),
        TransientError,
    )


def test_network_and_parameter_errors():
    network = aws.translate_error(
        EndpointConnectionError(endpoint_url="https://x"), service="sso-admin", operation="X"
    )
    assert isinstance(network, TransientError)
    bad = aws.translate_error(
        ParamValidationError(report="Name too long"), service="sso-admin", operation="X"
    )
    assert type(bad) is PermanentError
    unavailable = aws.translate_error(
        limits.LimiterUnavailable("down"), service="sso-admin", operation="X"
    )
    assert isinstance(unavailable, TransientError)
    garbled = aws.translate_error(
        ResponseParserError("bad XML"), service="sts", operation="AssumeRole"
    )
    assert str(garbled) == "AWS sts sent an unreadable answer to AssumeRole; will retry."


def test_unimplemented_operation_in_process_moto(ic):
    with pytest.raises(NotImplementedByEndpoint):
        aws.call(
            "identitystore",
            "UpdateGroup",
            IdentityStoreId=ic.store,
            GroupId="g",
            Operations=[{"AttributePath": "description", "AttributeValue": "x"}],
        )


def test_clients_use_the_settings(ic, settings):
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:5999"
    settings.AWS_REGION = "eu-west-1"
    settings.AWS_MAX_ATTEMPTS = 7
    aws.reset()

    client = aws.client("sso-admin")

    assert client.meta.endpoint_url == "http://127.0.0.1:5999"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 7}
    assert aws.client("sso-admin") is client
    aws.reset()


def test_registered_events_reach_existing_and_future_clients(ic):
    seen = []

    def handler(event_name, **_):
        seen.append(event_name)

    existing = aws.client("sso-admin")
    aws.register_event("before-call", handler)
    try:
        existing.list_instances()
        aws.client("identitystore").list_groups(IdentityStoreId=ic.store)
    finally:
        aws.unregister_event("before-call", handler)
    existing.list_instances()

    assert seen == ["before-call.sso-admin.ListInstances", "before-call.identitystore.ListGroups"]


def test_every_http_attempt_takes_a_rate_token(ic, register, monkeypatch):
    taken = []
    acquire = limits.RateLimiter.acquire

    def counting(self, n=1, **kwargs):
        taken.append(self.name)
        return acquire(self, n, **kwargs)

    monkeypatch.setattr(limits.RateLimiter, "acquire", counting)
    # Two throttled attempts and the one that succeeds: three attempts, one API call.
    register("before-send.sso-admin.ListInstances", Inject(times=2))

    aws.call("sso-admin", "ListInstances")
    aws.call("identitystore", "ListGroups", IdentityStoreId=ic.store)

    assert taken == ["sso-admin", "sso-admin", "sso-admin", "identitystore"]


def test_rate_limit_holds_calls_back(ic, aws_calls, settings):
    from bench.ic_timing import max_in_window

    settings.SSO_ADMIN_TPS = 5
    aws.reset()  # new limiters from the settings; it also drops the recorder's handler
    aws.register_event("before-send", aws_calls.on_attempt)
    aws.instance()

    for _ in range(11):
        aws.call("sso-admin", "ListPermissionSets", InstanceArn=ic.instance_arn)

    stamps = [t for t, service in aws_calls.attempt_times if service == "sso-admin"]
    assert len(stamps) == 12
    assert max_in_window(stamps, 1.0) <= 5
    assert stamps[-1] - stamps[0] >= 2.0


def test_instance_is_discovered_once_and_cached(ic, aws_calls):
    first = aws.instance()
    second = aws.instance()

    assert first == second == aws.Instance(arn=ic.instance_arn, identity_store_id=ic.store)
    assert aws_calls.operations() == ["ListInstances"]
    aws.clear_instance_cache()
    aws.instance()
    assert aws_calls.operations() == ["ListInstances", "ListInstances"]


def test_instance_from_settings_needs_no_call(ic, aws_calls, settings):
    settings.IDENTITY_CENTER_INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-configured"
    settings.IDENTITY_STORE_ID = "d-configured"

    assert aws.instance() == aws.Instance(
        "arn:aws:sso:::instance/ssoins-configured", "d-configured"
    )
    assert aws_calls.calls == []
