"""Identity Center's timing, for the fleet test and the benchmarks.

moto answers every asynchronous Identity Center request as SUCCEEDED at once and does not
implement ``DescribePermissionSetProvisioningStatus``. Real AWS takes seconds, and the limits
that matter (15 assignment creations outstanding, 3 permission-set provisions at once) only
bite while requests are in flight. ``SlowIdentityCenter`` holds assignment creations
IN_PROGRESS for a set time through botocore ``after-call`` handlers on the portal's own AWS
session; ``moto_permission_set_provisioning`` makes moto run permission-set provisions for a
set time and answer their status. The real provisioning code then polls as it would on AWS.

For a fleet of worker processes, ``moto_assignment_hold`` holds creations IN_PROGRESS on
the moto server's side instead, whichever process polls them, and ``ServerLog`` records
every request as it arrives there.

``CallLog`` records every call as it is sent and the interval each asynchronous request was
outstanding as the client saw it (from sending the request to reading its final status:
never shorter than AWS's own view).

Handlers are registered through ``provisioning.aws.register_event`` by the caller; this
module imports nothing of the portal.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[..., Any]

TERMINAL = ("SUCCEEDED", "FAILED")


class SlowIdentityCenter:
    """Holds account-assignment creations IN_PROGRESS for ``assignment_seconds``.

    A creation answers IN_PROGRESS until ``assignment_seconds`` after its
    ``CreateAccountAssignment`` was answered, then whatever moto says (SUCCEEDED). The
    answers are rewritten in ``after-call`` handlers of the caller's own clients, so the
    state is per process: the worker that creates an assignment is the one that polls it.
    """

    def __init__(self, *, assignment_seconds: float) -> None:
        self.assignment_seconds = assignment_seconds
        self._lock = threading.Lock()
        self._creations: dict[str, float] = {}

    def handlers(self) -> list[tuple[str, Handler]]:
        return [
            ("after-call.sso-admin.CreateAccountAssignment", self._after_create),
            ("after-call.sso-admin.DescribeAccountAssignmentCreationStatus", self._after_describe),
        ]

    def _after_create(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        status = parsed.get("AccountAssignmentCreationStatus")
        if http_response.status_code >= 300 or not status or self.assignment_seconds <= 0:
            return
        with self._lock:
            self._creations[status["RequestId"]] = time.monotonic() + self.assignment_seconds
        status["Status"] = "IN_PROGRESS"

    def _after_describe(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        status = parsed.get("AccountAssignmentCreationStatus")
        if http_response.status_code >= 300 or not status:
            return
        with self._lock:
            done_at = self._creations.get(status.get("RequestId", ""))
        if done_at is not None and time.monotonic() < done_at:
            status["Status"] = "IN_PROGRESS"


@contextmanager
def moto_permission_set_provisioning(seconds: float) -> Iterator[None]:
    """moto with ``ProvisionPermissionSet`` that runs for ``seconds``, and its status call.

    moto answers SUCCEEDED at once and does not implement
    ``DescribePermissionSetProvisioningStatus``; in-process it raises before any client-side
    handler could answer instead. So this patch goes into moto itself, in the process that
    serves the requests (moto in-process, or the process running a ThreadedMotoServer):
    a provision is IN_PROGRESS for ``seconds`` on AWS's side, whoever polls it.
    """
    from moto.ssoadmin.exceptions import ResourceNotFoundException
    from moto.ssoadmin.responses import SSOAdminResponse

    lock = threading.Lock()
    running: dict[str, tuple[float, dict[str, Any]]] = {}
    original = SSOAdminResponse.provision_permission_set

    def provision_permission_set(self: SSOAdminResponse) -> str:
        answer = json.loads(original(self))
        status = answer["PermissionSetProvisioningStatus"]
        with lock:
            running[status["RequestId"]] = (time.monotonic() + seconds, dict(status))
        if seconds > 0:
            status["Status"] = "IN_PROGRESS"
        return json.dumps(answer)

    def describe_permission_set_provisioning_status(self: SSOAdminResponse) -> str:
        request_id = self._get_param("ProvisionPermissionSetRequestId")
        with lock:
            known = running.get(request_id)
        if known is None:
            raise ResourceNotFoundException(f"No permission set provisioning request {request_id}")
        done_at, status = known
        state = "IN_PROGRESS" if time.monotonic() < done_at else "SUCCEEDED"
        return json.dumps({"PermissionSetProvisioningStatus": dict(status, Status=state)})

    # moto looks handlers up on the class at every request, so patching the class is enough.
    responses: Any = SSOAdminResponse
    responses.provision_permission_set = provision_permission_set
    responses.describe_permission_set_provisioning_status = (
        describe_permission_set_provisioning_status
    )
    try:
        yield
    finally:
        responses.provision_permission_set = original
        del responses.describe_permission_set_provisioning_status


@dataclass
class CallLog:
    """Every call as it left (monotonic time, service, operation) and in-flight intervals.

    ``creations`` run from sending ``CreateAccountAssignment`` to reading its final status;
    ``provisions`` from sending ``ProvisionPermissionSet`` to reading its final status.
    CLOCK_MONOTONIC is system-wide on Linux, so logs of several processes merge.
    """

    calls: list[tuple[float, str, str]] = field(default_factory=list)
    creations: list[tuple[float, float]] = field(default_factory=list)
    provisions: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._sent = threading.local()
        self._open_creations: dict[str, float] = {}
        self._open_provisions: dict[str, float] = {}

    def handlers(self) -> list[tuple[str, Handler]]:
        return [
            ("before-send.sso-admin", self._before_send),
            ("before-send.identitystore", self._before_send),
            ("after-call.sso-admin.CreateAccountAssignment", self._after_create),
            ("after-call.sso-admin.DescribeAccountAssignmentCreationStatus", self._after_describe),
            ("after-call.sso-admin.ProvisionPermissionSet", self._after_provision),
            (
                "after-call.sso-admin.DescribePermissionSetProvisioningStatus",
                self._after_provisioning_status,
            ),
        ]

    def _before_send(self, request: Any, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        now = time.monotonic()
        # Calls of one thread are sequential: the after-call of this operation pairs with it.
        self._sent.last = now
        with self._lock:
            self.calls.append((now, service, operation))

    def _after_create(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        sent = getattr(self._sent, "last", time.monotonic())
        status = parsed.get("AccountAssignmentCreationStatus") or {}
        with self._lock:
            if http_response.status_code >= 300 or status.get("Status") in TERMINAL:
                self.creations.append((sent, time.monotonic()))
            else:
                self._open_creations[status["RequestId"]] = sent

    def _after_describe(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        status = parsed.get("AccountAssignmentCreationStatus") or {}
        if http_response.status_code >= 300 or status.get("Status") not in TERMINAL:
            return
        with self._lock:
            sent = self._open_creations.pop(status.get("RequestId", ""), None)
            if sent is not None:
                self.creations.append((sent, time.monotonic()))

    def _after_provision(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        sent = getattr(self._sent, "last", time.monotonic())
        status = parsed.get("PermissionSetProvisioningStatus") or {}
        with self._lock:
            if http_response.status_code >= 300 or status.get("Status") in TERMINAL:
                self.provisions.append((sent, time.monotonic()))
            else:
                self._open_provisions[status["RequestId"]] = sent

    def _after_provisioning_status(
        self, http_response: Any, parsed: dict[str, Any], **_: Any
    ) -> None:
        status = parsed.get("PermissionSetProvisioningStatus") or {}
        if http_response.status_code >= 300 or status.get("Status") not in TERMINAL:
            return
        with self._lock:
            sent = self._open_provisions.pop(status.get("RequestId", ""), None)
            if sent is not None:
                self.provisions.append((sent, time.monotonic()))

    @property
    def unfinished(self) -> int:
        """Asynchronous requests whose final status was never read."""
        return len(self._open_creations) + len(self._open_provisions)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": list(self.calls),
                "creations": list(self.creations),
                "provisions": list(self.provisions),
                "unfinished": self.unfinished,
            }

    @classmethod
    def merged(cls, dumps: Iterable[dict[str, Any]]) -> CallLog:
        log = cls()
        for dump in dumps:
            log.calls.extend(tuple(c) for c in dump["calls"])
            log.creations.extend(tuple(c) for c in dump["creations"])
            log.provisions.extend(tuple(p) for p in dump["provisions"])
        log.calls.sort()
        return log

    def stamps(self, service: str) -> list[float]:
        return [t for t, s, _ in self.calls if s == service]

    def count(self, operation: str) -> int:
        return sum(1 for _, _, op in self.calls if op == operation)


def max_in_window(stamps: Iterable[float], window: float) -> int:
    """The most timestamps in any half-open interval [t, t + window)."""
    ordered = sorted(stamps)
    best = j = 0
    for i, start in enumerate(ordered):
        j = max(j, i)
        while j < len(ordered) and ordered[j] < start + window:
            j += 1
        best = max(best, j - i)
    return best


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end counts before a start at a tie)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


@dataclass
class ServerLog:
    """What a moto server received, for a fleet whose calls come from several processes.

    ``calls`` holds (monotonic time, service, operation) of every request as it arrived at
    the server; ``creations`` the interval from each ``CreateAccountAssignment``'s arrival to
    the answer that gave its final status: measured where AWS would be.
    """

    calls: list[tuple[float, str, str]] = field(default_factory=list)
    creations: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self.creations.clear()

    def stamps(self, service: str) -> list[float]:
        return [t for t, s, _ in self.calls if s == service]

    def count(self, operation: str) -> int:
        return sum(1 for _, _, op in self.calls if op == operation)


# The JSON protocol names the operation in X-Amz-Target as "<prefix>.<Operation>".
_TARGET_PREFIXES = {"SWBExternalService": "sso-admin", "AWSIdentityStore": "identitystore"}


@contextmanager
def moto_assignment_hold(seconds: float) -> Iterator[ServerLog]:
    """moto whose account-assignment creations stay IN_PROGRESS for ``seconds``, on its side.

    The patch goes into moto itself, in the process that serves the requests (a
    ThreadedMotoServer), like ``moto_permission_set_provisioning``: whichever worker polls a
    creation sees it IN_PROGRESS until ``seconds`` after it arrived, then SUCCEEDED. Every
    sso-admin and identitystore request is logged as it arrives (``ServerLog``).
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.ssoadmin.responses import SSOAdminResponse

    log = ServerLog()
    arrived: dict[str, float] = {}
    answered: set[str] = set()
    original_call = DomainDispatcherApplication.__call__
    original_create = SSOAdminResponse.create_account_assignment
    original_describe = SSOAdminResponse.describe_account_assignment_creation_status

    def received(
        self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any
    ) -> Any:
        # Stamped as the server starts on the request, before moto parses or dispatches it.
        prefix, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
        service = _TARGET_PREFIXES.get(prefix)
        if service:
            with log.lock:
                log.calls.append((time.monotonic(), service, operation))
        return original_call(self, environ, start_response)

    def create_account_assignment(self: SSOAdminResponse) -> str:
        at = time.monotonic()
        answer = json.loads(original_create(self))
        status = answer["AccountAssignmentCreationStatus"]
        with log.lock:
            arrived[status["RequestId"]] = at
        if seconds > 0:
            status["Status"] = "IN_PROGRESS"
        else:
            with log.lock:
                log.creations.append((at, time.monotonic()))
        return json.dumps(answer)

    def describe_account_assignment_creation_status(self: SSOAdminResponse) -> str:
        answer = json.loads(original_describe(self))
        status = answer["AccountAssignmentCreationStatus"]
        request_id = status.get("RequestId", "")
        now = time.monotonic()
        with log.lock:
            at = arrived.get(request_id)
            if at is not None and now < at + seconds:
                status["Status"] = "IN_PROGRESS"
            elif at is not None and request_id not in answered:
                answered.add(request_id)
                log.creations.append((at, now))
        return json.dumps(answer)

    # moto looks handlers up on the class at every request, so patching the class is enough.
    patched: list[tuple[Any, str, Any]] = [
        (DomainDispatcherApplication, "__call__", received),
        (SSOAdminResponse, "create_account_assignment", create_account_assignment),
        (
            SSOAdminResponse,
            "describe_account_assignment_creation_status",
            describe_account_assignment_creation_status,
        ),
    ]
    saved = [(cls, name, cls.__dict__.get(name)) for cls, name, _ in patched]
    for cls, name, function in patched:
        setattr(cls, name, function)
    try:
        yield log
    finally:
        for cls, name, before in saved:
            if before is None:
                delattr(cls, name)
            else:
                setattr(cls, name, before)
