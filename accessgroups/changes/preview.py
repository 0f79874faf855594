"""What saving a change to an access group would do, without doing it.

The change runs through the catalogue's own service inside a transaction that is then
rolled back: every rule the service checks is checked, and the configuration read back is
exactly what saving would store (a risk the portal suggests, accounts an OU adds). Nothing
is kept, nothing is enqueued (on-commit work is dropped with the rollback), and AWS is not
called: the plan comes from the database (accessgroups.changes.plan).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accessgroups.catalogue import services as catalogue
from accessgroups.changes.config import config_diff, group_config
from accessgroups.changes.plan import plan_change
from accessgroups.core.roles import require_admin
from accessgroups.models import AccessGroup, User

ACTIONS = ("create", "update", "archive")


class _Undo(Exception):
    """Raised to roll the trial back, carrying what it read."""

    def __init__(self, after: dict[str, Any] | None) -> None:
        self.after = after


def _trial(
    actor: User, action: str, access_group: AccessGroup | None, fields: dict[str, Any]
) -> dict[str, Any] | None:
    try:
        with transaction.atomic():
            if action == "create":
                group = catalogue.access_group_create(actor=actor, **fields)
                raise _Undo(group_config(group))
            if action == "update":
                group = catalogue.access_group_update(actor=actor, access_group=access_group, **fields)
                raise _Undo(group_config(group))
            catalogue.access_group_archive(actor=actor, access_group=access_group)
            raise _Undo(None)
    except _Undo as undone:
        return undone.after


def change_preview(
    *,
    actor: User,
    action: str,
    access_group: AccessGroup | None = None,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``{action, access_group, changes, plan, impact}`` for saving ``fields``.

    Raises what the service would (ValidationError keyed by field, Conflict,
    InvalidTransition, PermissionDenied).
    """
    require_admin(actor)
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}.")
    if (access_group is None) != (action == "create"):
        raise ValueError("create takes no access group; update and archive need one.")
    before = group_config(access_group) if access_group is not None else None
    after = _trial(actor, action, access_group, dict(fields or {}))
    planned = plan_change(access_group, after)
    return {
        "action": action,
        "access_group": access_group.pk if access_group is not None else None,
        "changes": config_diff(before, after),
        **planned,
    }
