"""Make the access groups match a configuration file: ``manage.py apply_access_groups FILE
[--plan] [--actor USERNAME] [--archive-missing]``.

Everything is checked before anything changes; a refused file changes nothing. Exit
status: 0 nothing to change (or, without --plan, applied), 2 changes planned (--plan),
1 refused, with every problem and its place in the file on stderr
(docs/configuration-as-code.md).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accessgroups.changes.apply import (
    Change,
    FilePlan,
    actor_for,
    changes_submit,
    file_changes,
)
from accessgroups.changes.plan import plan_change, plan_lines
from accessgroups.changes.services import approval_required
from accessgroups.changes.yaml_config import MAX_FILE_BYTES, ConfigFileError, Problem

NOTHING, PLANNED, REFUSED = 0, 2, 1


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def change_lines(change: Change) -> list[str]:
    """How a change reads in the plan: what happens to which group, field by field, then
    the Identity Center work and who gains or loses access (accessgroups.changes.plan).
    Read before the change is made: the plan compares with the rows as they are."""
    where = f" ({change.path})" if change.path else " (not in the file)"
    lines = [f"{change.action} {change.name}{where}"]
    for name, values in change.diff.items():
        lines.append(f"  {name}: {_value(values['from'])} -> {_value(values['to'])}")
    lines += [f"  {line}" for line in plan_lines(plan_change(change.access_group, change.after))]
    return lines


class Command(BaseCommand):
    help = "Create, update (and with --archive-missing archive) access groups to match a YAML file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="A file written by export_access_groups.")
        parser.add_argument(
            "--plan", action="store_true", help="Print what would change, change nothing."
        )
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            help="The active admin the changes are made and audited as (required to apply; "
            "with --plan, also runs the portal's checks that need one).",
        )
        parser.add_argument(
            "--archive-missing",
            action="store_true",
            help="Archive the live access groups the file leaves out (default: keep them).",
        )

    def handle(
        self,
        *args,
        file: str,
        plan: bool = False,
        actor: str | None = None,
        archive_missing: bool = False,
        **options,
    ) -> None:
        try:
            user = actor_for(actor) if (actor or not plan) else None
            result = file_changes(_read(file), archive_missing=archive_missing)
            lines = [line for change in result.changes for line in change_lines(change)]
            if user is not None and result.changes:
                changes_submit(result.changes, actor=user, dry_run=plan)
        except ConfigFileError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            self.stderr.write(f"Refused: nothing was changed ({len(exc.problems)} problem(s)).")
            sys.exit(REFUSED)
        self._report(result, lines, applied=not plan)
        if plan and result.changes:
            sys.exit(PLANNED)

    def _report(self, result: FilePlan, lines: list[str], *, applied: bool) -> None:
        for line in lines:
            self.stdout.write(line)
        for name in result.kept:
            self.stdout.write(f"{name}: not in the file (kept)")
        count = len(result.changes)
        if not count:
            self.stdout.write("No changes: the access groups match the file.")
        elif applied and approval_required():
            self.stdout.write(
                f"Proposed {count} change request(s) (CHANGE_APPROVAL=required): another admin "
                "approves them in the portal (/manage/change-requests/) or the API."
            )
        elif applied:
            self.stdout.write(f"Applied {count} change(s).")
        else:
            self.stdout.write(f"{count} change(s) planned; nothing was changed.")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as source:
            # One byte more than allowed tells load() the file is too large, unread.
            return source.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigFileError([Problem(path, f"Cannot read the file: {exc.strerror}.")]) from None
