"""The one module that talks to boto3: clients, rate limits, instance discovery, errors.

Everything else in the portal calls ``call()`` / ``paginate()`` with AWS's operation names
and gets back plain dicts or one of provisioning.errors' exceptions, never a botocore one.

- One boto3 Session per process. botocore copies the session's event handlers into each
  client when the client is created, so handlers registered later do not reach clients that
  already exist; ``register_event`` registers on the session *and* on every cached client.
- Every HTTP attempt (botocore's own retries included, since AWS counts them too) first
  takes a token from the fleet-wide rate limiter of its service (``before-send``).
- botocore's standard retry mode absorbs short throttling; only what outlasts it reaches
  the caller, as a ``TransientError`` for Celery to retry with a longer backoff.
- Every HTTP attempt is counted by how it ended (``response-received``), for ``/metrics``:
  the retries botocore absorbs are where throttling shows first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore import xform_name
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
)
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,
)
from botocore.parsers import ResponseParserError
from django.conf import settings

from provisioning import counters, limits
from provisioning.errors import (
    NotFoundError,
    NotImplementedByEndpoint,
    PermanentError,
    ProvisioningError,
    TransientError,
)

logger = logging.getLogger(__name__)

# Attempts per call, botocore's first one included. Standard mode waits up to 1, 2, 4... s
# (with jitter) between them, which covers a burst of throttling; longer trouble is retried
# by Celery with minutes of backoff instead of holding a worker.
DEFAULT_MAX_ATTEMPTS = 5

# Services whose calls count against a rate limit of their own, and the limiter factory.
_RATE_LIMITED: dict[str, Callable[[], limits.RateLimiter]] = {
    "sso-admin": limits.sso_admin_rate_limiter,
    "identitystore": limits.identitystore_rate_limiter,
    "organizations": limits.organizations_rate_limiter,
}

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
TRANSIENT_CODES = THROTTLING_CODES | {
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalServerException",
    "InternalServerError",
    "InternalFailure",
    "RequestTimeout",
    "RequestTimeoutException",
    "ConflictException",
    "ConcurrentModificationException",
    "PriorRequestNotComplete",
}
NOT_FOUND_CODES = frozenset(
    {"ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException", "NotFoundException"}
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
NOT_IMPLEMENTED_CODES = frozenset(
    {"NotImplemented", "NotImplementedException", "UnsupportedOperation"}
)

_lock = threading.RLock()
_session: boto3.session.Session | None = None
_clients: dict[str, BaseClient] = {}
_limiters: dict[str, limits.RateLimiter] = {}
_instance: Instance | None = None
# Handlers registered through register_event, kept so that they can be removed again.
_registered: list[tuple[str, Callable[..., Any]]] = []


# --- session, clients and events ------------------------------------------------------------


def get_session() -> boto3.session.Session:
    """The process's boto3 Session (created on first use)."""
    global _session
    with _lock:
        if _session is None:
            session = boto3.session.Session()
            for service in _RATE_LIMITED:
                session.events.register(f"before-send.{service}", _take_rate_token)
            session.events.register("response-received", _count_attempt)
            _session = session
        return _session


def _client_config() -> Config:
    attempts = int(getattr(settings, "AWS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
    # total_max_attempts counts the first attempt; botocore's max_attempts would not.
    return Config(retries={"mode": "standard", "total_max_attempts": attempts})


def _new_client(service: str, **credentials: str) -> BaseClient:
    return get_session().client(
        service,
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=_client_config(),
        **credentials,
    )


def client(service: str) -> BaseClient:
    """A client for ``service`` with the portal's credentials (cached; clients are thread-safe)."""
    with _lock:
        cached = _clients.get(service)
        if cached is None:
            cached = _new_client(service)
            _clients[service] = cached
        return cached


def register_event(name: str, handler: Callable[..., Any]) -> None:
    """Register a botocore event handler for existing and future clients.

    ``name`` is a botocore event name such as
    ``"before-send.sso-admin.CreateAccountAssignment"`` or ``"after-call.identitystore"``.
    """
    with _lock:
        get_session().events.register(name, handler)
        for cached in _clients.values():
            cached.meta.events.register(name, handler)
        _registered.append((name, handler))


def unregister_event(name: str, handler: Callable[..., Any]) -> None:
    with _lock:
        get_session().events.unregister(name, handler)
        for cached in _clients.values():
            cached.meta.events.unregister(name, handler)
        if (name, handler) in _registered:
            _registered.remove((name, handler))


def reset() -> None:
    """Forget clients, limiters, the discovered instance and registered handlers.

    For tests (a fresh emulator, other settings) and after a fork.
    """
    global _instance
    with _lock:
        # A copy: unregister_event removes from _registered as we go.
        for name, handler in list(_registered):  # noqa: PERF101
            unregister_event(name, handler)
        _clients.clear()
        _limiters.clear()
        _instance = None


def _limiter(service: str) -> limits.RateLimiter:
    with _lock:
        limiter = _limiters.get(service)
        if limiter is None:
            limiter = _RATE_LIMITED[service]()
            _limiters[service] = limiter
        return limiter


def _take_rate_token(event_name: str = "", **_: Any) -> None:
    # before-send.<service>.<Operation>: once per HTTP attempt, retries included.
    service = event_name.split(".")[1]
    _limiter(service).acquire()


def _count_attempt(
    event_name: str = "",
    response_dict: dict[str, Any] | None = None,
    parsed_response: dict[str, Any] | None = None,
    exception: BaseException | None = None,
    **_: Any,
) -> None:
    # response-received.<service>.<Operation>: once per attempt, after its answer (or error).
    if isinstance(exception, limits.LimiterUnavailable):
        return  # the limiter refused before anything was sent
    _, service, operation = (event_name.split(".", 2) + ["", ""])[:3]
    counters.count_aws_request(
        service=service,
        operation=operation,
        outcome=attempt_outcome(response_dict, parsed_response, exception),
    )


def attempt_outcome(
    response_dict: dict[str, Any] | None,
    parsed_response: dict[str, Any] | None,
    exception: BaseException | None,
) -> str:
    """How one HTTP attempt ended: ok, throttled, client_error, server_error or unreachable."""
    if exception is not None or response_dict is None:
        return "unreachable"
    status = int(response_dict.get("status_code") or 0)
    code = str(((parsed_response or {}).get("Error") or {}).get("Code", ""))
    if code in THROTTLING_CODES or status == 429:
        return "throttled"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "ok"


# --- calls and errors ----------------------------------------------------------------------------


def call(
    service: str, operation: str, *, via: BaseClient | None = None, **params: Any
) -> dict[str, Any]:
    """Call ``operation`` (AWS's name, e.g. ``"CreateGroup"``) and return its response.

    ``via`` is a client to use instead of the portal's own (e.g. one with assumed-role
    credentials). Errors come out as provisioning.errors exceptions.
    """
    api = via or client(service)
    try:
        return getattr(api, xform_name(operation))(**params)
    except (
        BotoCoreError,
        ClientError,
        ResponseParserError,
        NotImplementedError,
        limits.LimiterUnavailable,
    ) as exc:
        raise translate_error(exc, service=service, operation=operation) from exc


def paginate(service: str, operation: str, result_key: str, **params: Any) -> Iterator[Any]:
    """Every item of ``result_key`` across all pages of a NextToken-paginated operation."""
    token: str | None = None
    while True:
        page = call(service, operation, **params, **({"NextToken": token} if token else {}))
        yield from page.get(result_key, [])
        token = page.get("NextToken")
        if not token:
            return


def translate_error(exc: BaseException, *, service: str, operation: str) -> ProvisioningError:
    """Turn a botocore (or emulator) exception into a transient or permanent error in words."""
    if isinstance(exc, ClientError):
        return _translate_client_error(exc, service=service, operation=operation)
    if isinstance(exc, limits.LimiterUnavailable):
        return TransientError(
            f"Waiting for the rate limiter before {operation}: {exc}", operation=operation
        )
    if isinstance(exc, ResponseParserError):
        return TransientError(
            f"AWS {service} sent an unreadable answer to {operation}; will retry.",
            operation=operation,
        )
    if isinstance(exc, BotocoreConnectionError | HTTPClientError):
        return TransientError(
            f"Could not reach AWS {service} for {operation} ({exc}); will retry.",
            operation=operation,
        )
    if isinstance(exc, NotImplementedError):
        # The in-process emulator raises this for operations it lacks.
        return NotImplementedByEndpoint(
            f"{operation} is not implemented by the AWS endpoint in use ({exc}).",
            operation=operation,
        )
    if isinstance(exc, NoCredentialsError):
        return PermanentError(
            "The portal has no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile "
            "or an instance role.",
            operation=operation,
        )
    if isinstance(exc, ParamValidationError):
        return PermanentError(f"Invalid parameters for {operation}: {exc}", operation=operation)
    return PermanentError(f"{operation} failed: {exc}", operation=operation)


def _translate_client_error(exc: ClientError, *, service: str, operation: str) -> ProvisioningError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")).strip()
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})

    if (
        code in NOT_IMPLEMENTED_CODES
        or status == 501
        or "not been implemented" in message
        or ("not yet implemented" in message)
    ):
        return NotImplementedByEndpoint(
            f"{operation} is not implemented by the AWS endpoint in use.",
            code=code,
            operation=operation,
        )
    if status >= 500 and code.isdigit() and "html" in str(headers.get("content-type", "")):
        # AWS answers its errors in JSON with an error code; an HTML 500 without one comes
        # from an emulator that does not handle this operation. Retrying would never help.
        return NotImplementedByEndpoint(
            f"{operation} failed with HTTP {status} and no AWS error code: the endpoint in use "
            "(an emulator?) does not handle this operation.",
            code=code,
            operation=operation,
        )
    if code in THROTTLING_CODES or status == 429:
        return TransientError(
            f"AWS is throttling {service} calls ({code} on {operation}); will retry.",
            code=code,
            operation=operation,
        )
    if code in TRANSIENT_CODES or status >= 500:
        detail = f": {message}" if message else ""
        return TransientError(
            f"AWS {service} could not complete {operation} for now ({code or status}{detail}); will retry.",
            code=code,
            operation=operation,
        )
    if code in NOT_FOUND_CODES:
        return NotFoundError(
            f"{operation}: not found ({message or code}).",
            code=code,
            operation=operation,
            resource_type=str(exc.response.get("ResourceType") or ""),
        )
    if code in ACCESS_DENIED_CODES:
        return PermanentError(
            f"The portal's AWS credentials may not call {service}:{operation} ({message or code}). "
            "Allow it in the IAM policy of the portal's role.",
            code=code,
            operation=operation,
        )
    return PermanentError(
        f"AWS refused {operation}: {message or code} ({code}).", code=code, operation=operation
    )


# --- Identity Center instance --------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    arn: str
    identity_store_id: str


def instance() -> Instance:
    """The Identity Center instance: from settings, else the first one ListInstances returns."""
    global _instance
    with _lock:
        if _instance is not None:
            return _instance
    arn = settings.IDENTITY_CENTER_INSTANCE_ARN
    store = settings.IDENTITY_STORE_ID
    if not (arn and store):
        found = list(paginate("sso-admin", "ListInstances", "Instances"))
        if arn:
            found = [i for i in found if i["InstanceArn"] == arn]
        if not found:
            raise PermanentError(
                f"No IAM Identity Center instance found in region {settings.AWS_REGION}"
                + (f" with ARN {arn}" if arn else "")
                + ": enable Identity Center there, or set IDENTITY_CENTER_INSTANCE_ARN and IDENTITY_STORE_ID."
            )
        arn = arn or found[0]["InstanceArn"]
        store = store or found[0]["IdentityStoreId"]
    with _lock:
        _instance = Instance(arn=arn, identity_store_id=store)
        return _instance


def clear_instance_cache() -> None:
    global _instance
    with _lock:
        _instance = None


# --- member accounts ------------------------------------------------------------------------


def member_account_client(service: str, *, account_id: str, role_name: str) -> BaseClient:
    """A client acting in a member account through ``role_name`` (raises if not assumable)."""
    role_arn = f"arn:aws:iam::{account_id}:role/{role_name}"
    credentials = call(
        "sts", "AssumeRole", RoleArn=role_arn, RoleSessionName="access-portal-checks"
    )["Credentials"]
    return _new_client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
