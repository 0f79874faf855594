"""Applying a configuration file: what it changes, whether the portal accepts it, and doing it.

``file_changes`` compares the file (accessgroups.changes.yaml_config) with the live access
groups by name, without a case: a group the portal lacks is created, one that differs is
updated with the fields that differ, and with ``archive_missing`` a live group the file
leaves out is archived. It checks everything before anything changes: the file's shape,
then each change with the catalogue's own checks, items it can point at by their place in
the file (``access_groups[2].accounts[1]``).

``changes_submit`` submits them in one transaction, all or nothing. Every change goes
through ``_submit``, the one place that decides how a change is made: through the
catalogue's services, audited as the actor, or with CHANGE_APPROVAL=required as a change
request another admin approves (accessgroups.changes.services.change_submit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accessgroups.catalogue import services as catalogue
from accessgroups.catalogue.risk import risk_suggested_for
from accessgroups.changes.config import (
    config_diff,
    group_configs,
    proposed_config,
)
from accessgroups.changes.services import change_submit
from accessgroups.changes.yaml_config import ConfigFileError, Problem, load, parse
from accessgroups.core import validators
from accessgroups.core.errors import Conflict
from accessgroups.core.roles import ADMIN, has_role
from accessgroups.models import (
    AccessGroup,
    Account,
    IdentityCenterGroup,
    OrganizationalUnit,
    User,
)

CREATE, UPDATE, ARCHIVE = "create", "update", "archive"


@dataclass
class Change:
    """One access group to create, update or archive."""

    action: str
    name: str
    # Where the group is in the file ("access_groups[2]"); "" for a group the file leaves out.
    path: str
    access_group: AccessGroup | None
    # What _submit sends: for create every field the file gives (name too), for update the
    # fields that differ, for archive nothing.
    fields: dict[str, Any]
    # {field: {"from": ..., "to": ...}} as config_diff gives it.
    diff: dict[str, dict[str, Any]]
    # The group's configuration after the change (None: archived).
    after: dict[str, Any] | None


@dataclass
class FilePlan:
    changes: list[Change] = field(default_factory=list)
    # Live groups the file leaves out and that stay (no --archive-missing).
    kept: list[str] = field(default_factory=list)


# --- what the file changes ------------------------------------------------------------------


def file_changes(data: bytes, *, archive_missing: bool = False) -> FilePlan:
    """The changes a file makes to the live access groups; ConfigFileError with every
    problem found when the file or one of its changes would be refused."""
    entries = parse(load(data))
    live = {group.name.casefold(): (group, config) for group, config in group_configs()}
    plan = FilePlan()
    problems: list[Problem] = []
    named = set()
    for index, entry in enumerate(entries):
        path = f"access_groups[{index}]"
        key = entry["name"].casefold()
        named.add(key)
        if key in live:
            group, current = live[key]
            if entry["name"] != group.name:
                problems.append(
                    Problem(
                        f"{path}.name",
                        f"The portal's group is called {group.name!r}; a name cannot be changed "
                        "(Identity Center cannot rename a permission set).",
                    )
                )
                continue
            after = proposed_config(current, entry)
            diff = config_diff(current, after)
            if diff:
                fields = {f: entry[f] for f in diff}
                plan.changes.append(Change(UPDATE, group.name, path, group, fields, diff, after))
        else:
            after = proposed_config(None, entry)
            if "risk" not in entry:
                after["risk"] = str(
                    risk_suggested_for(after["aws_managed_policies"], after["inline_policy"])
                )
            plan.changes.append(
                Change(CREATE, entry["name"], path, None, dict(entry), config_diff(None, after), after)
            )
    for key, (group, _) in sorted(live.items()):
        if key in named:
            continue
        if archive_missing:
            plan.changes.append(Change(ARCHIVE, group.name, "", group, {}, {}, None))
        else:
            plan.kept.append(group.name)
    for change in plan.changes:
        problems.extend(_check(change))
    if problems:
        raise ConfigFileError(problems)
    return plan


# --- checking a change ----------------------------------------------------------------------


def _unknown(
    change: Change, field_name: str, known: set[str], message: str, malformed=None
) -> list[Problem]:
    """Items of a list field that are malformed, listed twice or not in ``known``, each at
    its place in the file."""
    problems = []
    seen: set[str] = set()
    for index, item in enumerate(change.fields.get(field_name) or []):
        where = f"{change.path}.{field_name}[{index}]"
        wrong = malformed(item) if malformed else None
        if wrong:
            problems.append(Problem(where, wrong))
        elif item in seen:
            problems.append(Problem(where, f"{item!r} is listed twice."))
        elif item not in known:
            problems.append(Problem(where, message.format(item=item)))
        seen.add(item)
    return problems


def _malformed_account(item: str) -> str | None:
    try:
        validators.validate_account_id(item, field="accounts")
    except ValidationError as exc:
        return exc.message_dict["accounts"][0]
    return None


def _pinpointed(change: Change) -> list[Problem]:
    """The items of a change that name something the portal does not know."""
    fields = change.fields
    problems: list[Problem] = []
    if "accounts" in fields:
        known = set(
            Account.objects.filter(account_id__in=fields["accounts"]).values_list(
                "account_id", flat=True
            )
        )
        problems += _unknown(
            change,
            "accounts",
            known,
            "Unknown account {item}: add or sync it first.",
            malformed=_malformed_account,
        )
    if "approvers" in fields:
        known = set(
            User.objects.filter(username__in=fields["approvers"], is_active=True).values_list(
                "username", flat=True
            )
        )
        problems += _unknown(change, "approvers", known, "No active user named {item!r}.")
    for name in ("approver_groups", "eligible_groups"):
        if name in fields:
            known = set(
                IdentityCenterGroup.objects.present()
                .filter(display_name__in=fields[name])
                .values_list("display_name", flat=True)
            )
            problems += _unknown(
                change,
                name,
                known,
                "No Identity Center group {item!r} at the last refresh (names are case-sensitive).",
            )
    if "organizational_units" in fields:
        known = set(
            OrganizationalUnit.objects.filter(
                ou_id__in=fields["organizational_units"], gone_at__isnull=True
            ).values_list("ou_id", flat=True)
        )
        problems += _unknown(
            change,
            "organizational_units",
            known,
            "Unknown organizational unit {item}: sync the accounts from AWS Organizations first.",
        )
    return problems


def _field_path(change: Change, key: str) -> str:
    if key in ("__all__", "") or not change.path:
        return change.path or change.name
    return f"{change.path}.{key}"


def _refusal(change: Change, exc: Exception, skip: set[str] = frozenset()) -> list[Problem]:
    """A service's refusal of ``change`` as problems at paths of the file."""
    if isinstance(exc, ValidationError):
        if not hasattr(exc, "error_dict"):
            return [Problem(_field_path(change, ""), m) for m in exc.messages]
        return [
            Problem(_field_path(change, key), message)
            for key, messages in exc.message_dict.items()
            if key not in skip
            for message in messages
        ]
    if isinstance(exc, Conflict):
        return [Problem(_field_path(change, exc.field or ""), exc.message)]
    return [Problem(_field_path(change, ""), str(exc))]


def _check(change: Change) -> list[Problem]:
    """What the catalogue would refuse in ``change``, checked without writing anything."""
    if change.action == ARCHIVE:
        return []
    problems = _pinpointed(change)
    # A field whose items are pointed at already is not reported twice.
    skip = {p.path.split(".", 1)[1].split("[", 1)[0] for p in problems}
    try:
        if change.action == CREATE:
            catalogue.access_group_clean_new(change.fields)
        else:
            catalogue.access_group_fields_check(change.fields)
    except ValidationError as exc:
        problems += _refusal(change, exc, skip)
    return problems


# --- who applies it -------------------------------------------------------------------------


def actor_for(username: str | None) -> User:
    """The active admin a file is applied as; ConfigFileError otherwise."""
    if not username:
        raise ConfigFileError([Problem("--actor", "Name the admin the changes are made as.")])
    user = User.objects.filter(username=username).first()
    if user is None or not has_role(user, ADMIN):
        raise ConfigFileError(
            [Problem("--actor", f"{username!r} is not an active admin of the portal.")]
        )
    return user


# --- making the changes ---------------------------------------------------------------------


def _submit(
    *, actor: User, action: str, access_group: AccessGroup | None, fields: dict[str, Any]
) -> None:
    """Make one change as ``actor``: the one seam between a file and the catalogue. With
    CHANGE_APPROVAL=required it is proposed for another admin to approve
    (accessgroups.changes.services.change_submit)."""
    if action not in (CREATE, UPDATE, ARCHIVE):
        raise ValueError(f"Unknown action {action!r}")
    change_submit(actor=actor, action=action, access_group=access_group, fields=fields)


class _RolledBack(Exception):
    pass


def changes_submit(changes: list[Change], *, actor: User, dry_run: bool = False) -> None:
    """Submit every change in one transaction: all of them, or (ConfigFileError) none.

    ``dry_run`` submits them and rolls back: the services' own checks (quorum against the
    approvers, the policy quota, a requestable group without an approver) run, and
    nothing stays, not even an audit event or a task to enqueue.
    """
    problems: list[Problem] = []
    try:
        with transaction.atomic():
            for change in changes:
                try:
                    with transaction.atomic():
                        _submit(
                            actor=actor,
                            action=change.action,
                            access_group=change.access_group,
                            fields=change.fields,
                        )
                except (ValidationError, Conflict, PermissionDenied) as exc:
                    problems += _refusal(change, exc)
            if problems or dry_run:
                raise _RolledBack
    except _RolledBack:
        pass
    if problems:
        raise ConfigFileError(problems)

