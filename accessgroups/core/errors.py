"""Errors the workflow raises besides Django's ValidationError and PermissionDenied."""


class Conflict(Exception):
    """The change clashes with the current state (e.g. a second open request)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(Conflict):
    """The row is not in a status this action can start from."""
