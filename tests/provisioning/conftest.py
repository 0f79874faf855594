"""Fixtures for provisioning against moto in-process.

``ic`` starts moto, points the portal at it with a fresh instance cache and limiter keys of
the test's own, and yields ``IdentityCenterState``: plain boto3 clients (not the portal's,
so that inspecting does not show up among the portal's calls) to read and tamper with the
fake Identity Center. ``aws_calls`` records every call the portal makes; ``enqueued``
records the tasks the code under test sends instead of sending them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from tests.syncs import captured_syncs

REGION = "us-east-1"
READ_PREFIXES = ("Get", "List", "Describe")


class IdentityCenterState:
    """What the fake Identity Center holds, read with clients of the test's own."""

    def __init__(self) -> None:
        self.sso = boto3.client("sso-admin", region_name=REGION)
        self.ids = boto3.client("identitystore", region_name=REGION)
        instance = self.sso.list_instances()["Instances"][0]
        self.instance_arn = instance["InstanceArn"]
        self.store = instance["IdentityStoreId"]

    # identity store
    def user_id(self, username: str) -> str | None:
        try:
            return self.ids.get_user_id(
                IdentityStoreId=self.store,
                AlternateIdentifier={
                    "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": username}
                },
            )["UserId"]
        except self.ids.exceptions.ResourceNotFoundException:
            return None

    def user(self, user_id: str) -> dict[str, Any]:
        return self.ids.describe_user(IdentityStoreId=self.store, UserId=user_id)

    def users(self) -> list[dict[str, Any]]:
        return self.ids.list_users(IdentityStoreId=self.store)["Users"]

    def create_user(self, username: str) -> str:
        return self.ids.create_user(
            IdentityStoreId=self.store,
            UserName=username,
            DisplayName=username,
            Name={"GivenName": username, "FamilyName": "Outside"},
        )["UserId"]

    def delete_user(self, user_id: str) -> None:
        self.ids.delete_user(IdentityStoreId=self.store, UserId=user_id)

    def group_id(self, name: str) -> str | None:
        try:
            return self.ids.get_group_id(
                IdentityStoreId=self.store,
                AlternateIdentifier={
                    "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}
                },
            )["GroupId"]
        except self.ids.exceptions.ResourceNotFoundException:
            return None

    def groups(self) -> list[dict[str, Any]]:
        return self.ids.list_groups(IdentityStoreId=self.store)["Groups"]

    def delete_group(self, group_id: str) -> None:
        self.ids.delete_group(IdentityStoreId=self.store, GroupId=group_id)

    def members(self, group_id: str) -> list[str]:
        """User ids in the group, once per membership (duplicates show)."""
        found = self.ids.list_group_memberships(IdentityStoreId=self.store, GroupId=group_id)[
            "GroupMemberships"
        ]
        return [m["MemberId"]["UserId"] for m in found]

    def add_member(self, group_id: str, user_id: str) -> str:
        return self.ids.create_group_membership(
            IdentityStoreId=self.store, GroupId=group_id, MemberId={"UserId": user_id}
        )["MembershipId"]

    # sso-admin
    def permission_sets_named(self, name: str) -> list[str]:
        arns = self.sso.list_permission_sets(InstanceArn=self.instance_arn)["PermissionSets"]
        return [
            arn
            for arn in arns
            if self.sso.describe_permission_set(
                InstanceArn=self.instance_arn, PermissionSetArn=arn
            )["PermissionSet"]["Name"]
            == name
        ]

    def permission_set(self, arn: str) -> dict[str, Any]:
        common = {"InstanceArn": self.instance_arn, "PermissionSetArn": arn}
        described = self.sso.describe_permission_set(**common)["PermissionSet"]
        inline = self.sso.get_inline_policy_for_permission_set(**common).get("InlinePolicy") or ""
        return {
            "name": described["Name"],
            "description": described.get("Description", ""),
            "session_duration": described.get("SessionDuration", ""),
            "managed": {
                p["Arn"]
                for p in self.sso.list_managed_policies_in_permission_set(**common)[
                    "AttachedManagedPolicies"
                ]
            },
            "customer": {
                (p["Path"], p["Name"])
                for p in self.sso.list_customer_managed_policy_references_in_permission_set(
                    **common
                )["CustomerManagedPolicyReferences"]
            },
            "inline": json.loads(inline) if inline else None,
        }

    def delete_permission_set(self, arn: str) -> None:
        self.sso.delete_permission_set(InstanceArn=self.instance_arn, PermissionSetArn=arn)

    def assignments(self, group_id: str) -> list[tuple[str, str]]:
        """(account id, permission set ARN) of every assignment of the group, duplicates kept."""
        found, token = [], None
        while True:
            page = self.sso.list_account_assignments_for_principal(
                InstanceArn=self.instance_arn,
                PrincipalId=group_id,
                PrincipalType="GROUP",
                **({"NextToken": token} if token else {}),
            )
            found += [(a["AccountId"], a["PermissionSetArn"]) for a in page["AccountAssignments"]]
            token = page.get("NextToken")
            if not token:
                return sorted(found)

    def assign(self, account_id: str, arn: str, group_id: str) -> None:
        self.sso.create_account_assignment(
            InstanceArn=self.instance_arn,
            TargetId=account_id,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=arn,
            PrincipalType="GROUP",
            PrincipalId=group_id,
        )


@pytest.fixture
def ic(moto_identity_center, settings) -> IdentityCenterState:
    """moto in-process as Identity Center, with the portal's caches and limits reset."""
    # Three attempts keep botocore's own backoff (up to 1 s, then 2 s) short in tests.
    settings.AWS_MAX_ATTEMPTS = 3
    return IdentityCenterState()


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]

    @property
    def is_write(self) -> bool:
        return self.service in ("sso-admin", "identitystore") and not self.operation.startswith(
            READ_PREFIXES
        )


@dataclass
class CallRecorder:
    """Every AWS call the portal made (one per API call) and every HTTP attempt."""

    calls: list[Call] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    attempt_times: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_call(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        with self.lock:
            self.calls.append(Call(service, operation, dict(params)))

    def on_attempt(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        with self.lock:
            self.attempts.append(operation)
            self.attempt_times.append((time.monotonic(), service))

    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]

    def writes(self) -> list[str]:
        return [c.operation for c in self.calls if c.is_write]

    def count(self, operation: str) -> int:
        return sum(1 for c in self.calls if c.operation == operation)

    def named(self, operation: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.operation == operation]

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self.attempts.clear()
            self.attempt_times.clear()


@pytest.fixture
def aws_calls(ic) -> Iterator[CallRecorder]:
    from provisioning import aws

    recorder = CallRecorder()
    aws.register_event("before-parameter-build", recorder.on_call)
    aws.register_event("before-send", recorder.on_attempt)
    yield recorder
    aws.unregister_event("before-parameter-build", recorder.on_call)
    aws.unregister_event("before-send", recorder.on_attempt)


@pytest.fixture(autouse=True)
def enqueued() -> Iterator[list[tuple[str, tuple]]]:
    """Tasks sent by the code under test, as (task name, args); nothing is sent.

    Autouse: a unit test must never leave messages in a real broker's queue.
    """
    with captured_syncs() as sent:
        yield sent


def run_task(task, *args: Any) -> Any:
    """Run a task as a worker would, eagerly (Celery retries run at once), errors raised."""
    # Not throw=True: that would raise Celery's Retry instead of running the retry.
    return task.apply(args=args).get()


def aws_error_response(
    code: str, status: int = 400, message: str = "injected", *, xml: bool = False
) -> AWSResponse:
    """An HTTP answer in AWS's error format (JSON, or XML for query services such as STS)."""
    if xml:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>injected</RequestId></ErrorResponse>"
        ).encode()
        headers = {"content-type": "text/xml"}
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"x-amzn-errortype": code, "content-type": "application/x-amz-json-1.1"}

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield body

    return AWSResponse("https://injected.invalid/", status, headers, Raw())


class Inject:
    """A ``before-send`` handler answering the first ``times`` attempts with an AWS error.

    Register it on the operation (``before-send.<service>.<Operation>``), which botocore
    asks before moto's own handler.

    ``attempts`` counts every attempt it saw, answered or let through.
    """

    def __init__(
        self, times: int, code: str = "ThrottlingException", status: int = 400, *, xml: bool = False
    ) -> None:
        self.times = times
        self.code = code
        self.status = status
        self.xml = xml
        self.answered = 0
        self.attempts = 0
        self.lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        with self.lock:
            self.attempts += 1
            if self.answered >= self.times:
                return None
            self.answered += 1
        # botocore runs every before-send handler and uses the first answer, so moto would
        # still carry the request out behind ours: send it where moto does not answer, as a
        # refused request must have no effect.
        request.url = "https://injected.invalid/"
        message = "Rate exceeded" if "Throttl" in self.code else "injected"
        return aws_error_response(self.code, self.status, message, xml=self.xml)


class AssignmentTiming:
    """``after-call`` handlers holding assignment creations IN_PROGRESS, or failing them.

    A creation answers IN_PROGRESS until ``hold`` seconds after it was made, then
    SUCCEEDED, or FAILED with ``failure_reason`` for the accounts in ``fail_accounts``.
    Records when each creation was sent and when its final status was read.
    """

    def __init__(self, hold: float, fail_accounts: dict[str, str] | None = None) -> None:
        self.hold = hold
        self.fail_accounts = fail_accounts or {}
        self.lock = threading.Lock()
        self.ready_at: dict[str, float] = {}
        self.account_of: dict[str, str] = {}
        self.sent_at: dict[str, float] = {}
        self.intervals: list[tuple[float, float]] = []
        self.polls: dict[str, list[float]] = {}
        self._sending = threading.local()

    def handlers(self) -> list[tuple[str, Callable[..., Any]]]:
        return [
            ("before-send.sso-admin.CreateAccountAssignment", self._before_create),
            ("after-call.sso-admin.CreateAccountAssignment", self._after_create),
            ("after-call.sso-admin.DescribeAccountAssignmentCreationStatus", self._after_describe),
        ]

    def _before_create(self, **_: Any) -> None:
        self._sending.at = time.monotonic()

    def _after_create(self, parsed: dict[str, Any], **_: Any) -> None:
        status = parsed.get("AccountAssignmentCreationStatus")
        if not status:
            return
        with self.lock:
            self.ready_at[status["RequestId"]] = time.monotonic() + self.hold
            self.account_of[status["RequestId"]] = status["TargetId"]
            self.sent_at[status["RequestId"]] = self._sending.at
        status["Status"] = "IN_PROGRESS"

    def _after_describe(self, parsed: dict[str, Any], **_: Any) -> None:
        status = parsed.get("AccountAssignmentCreationStatus")
        if not status:
            return
        request_id = status["RequestId"]
        now = time.monotonic()
        with self.lock:
            self.polls.setdefault(request_id, []).append(now)
            if now < self.ready_at.get(request_id, 0):
                status["Status"] = "IN_PROGRESS"
                return
            if request_id in self.sent_at:
                self.intervals.append((self.sent_at.pop(request_id), now))
        reason = self.fail_accounts.get(self.account_of.get(request_id, ""))
        if reason:
            status["Status"] = "FAILED"
            status["FailureReason"] = reason

    def max_outstanding(self) -> int:
        events = sorted([(s, 1) for s, _ in self.intervals] + [(e, -1) for _, e in self.intervals])
        best = current = 0
        for _, delta in events:
            current += delta
            best = max(best, current)
        return best


@pytest.fixture
def register(ic) -> Iterator[Callable[[str, Callable[..., Any]], None]]:
    """Register botocore handlers on the portal's clients for this test only."""
    from provisioning import aws

    added: list[tuple[str, Callable[..., Any]]] = []

    def add(name: str, handler: Callable[..., Any]) -> None:
        aws.register_event(name, handler)
        added.append((name, handler))

    yield add
    for name, handler in added:
        aws.unregister_event(name, handler)
