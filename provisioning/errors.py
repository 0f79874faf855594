"""What can go wrong when the portal talks to AWS, in two kinds that decide what happens next.

A ``TransientError`` is worth retrying later (throttling, AWS's own 5xx, a conflicting
operation still running, a network failure); the row goes back to pending and the task
retries with backoff. A ``PermanentError`` will not go away by itself (validation, access
denied, an operation the endpoint does not implement, a missing field); the row is marked
failed with the message, which is written for the admin who has to act on it.
"""

from __future__ import annotations


class ProvisioningError(Exception):
    """An error the provisioning code knows how to handle; ``message`` is for people."""

    def __init__(self, message: str, *, code: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.operation = operation

    def __str__(self) -> str:
        return self.message


class TransientError(ProvisioningError):
    """Retry later: nothing is wrong with the request itself."""


class PermanentError(ProvisioningError):
    """Do not retry: someone has to change something first."""


class NotFoundError(PermanentError):
    """AWS says the object does not exist.

    Permanent on its own, but a stored id that AWS no longer knows is drift: the caller
    clears it, looks the object up by name once and goes on (see identity_center.py).
    ``resource_type`` is AWS's hint of which object was missing (``USER``, ``GROUP``...)
    when the error names it.
    """

    def __init__(
        self, message: str, *, code: str = "", operation: str = "", resource_type: str = ""
    ) -> None:
        super().__init__(message, code=code, operation=operation)
        self.resource_type = resource_type


class NotImplementedByEndpoint(PermanentError):
    """The endpoint does not implement the operation (AWS emulators lack some)."""


class AwaitingIdentityProvider(TransientError):
    """IDENTITY_SOURCE=external: the person's identity store user does not exist yet.

    Their identity provider creates it (SCIM); the portal never does. Retried every few
    minutes for as long as it takes, never failed: the row says what is awaited.
    """
