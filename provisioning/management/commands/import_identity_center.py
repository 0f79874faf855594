"""Adopt what a team already has in IAM Identity Center: ``manage.py import_identity_center
[--dry-run] [--group NAME ...] [--actor USERNAME]``.

Each identity store group with a permission set of the same name becomes an access group
(its policies, session duration and accounts), its members portal users and memberships;
Identity Center itself is only read. Prints one line per group imported or skipped, with
the reason, then totals. Exits non-zero only when Identity Center cannot be read at all
(or ``--actor`` is not an admin); a second run imports nothing new.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accessgroups.adoption.plan import GroupImport, ImportPlan
from accessgroups.adoption.services import ImportResult, access_group_import
from accessgroups.models import User
from provisioning.adoption import read_plan
from provisioning.errors import ProvisioningError

NEXT_STEPS = (
    "Imported access groups are not requestable and have no approvers: an admin names their "
    'approvers and makes them requestable ("Manage groups" in the portal, or PATCH '
    "/api/v1/access-groups/{id}/ with approvers and requestable)."
)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class Command(BaseCommand):
    help = (
        "Import identity store groups that have a permission set of the same name as access "
        "groups, with their accounts, users and memberships. Identity Center is only read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be imported; write nothing."
        )
        parser.add_argument(
            "--group",
            action="append",
            default=[],
            metavar="NAME",
            help="Import only this group (its display name); repeat for more.",
        )
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            default=None,
            help="The admin recorded in the audit log as having imported.",
        )

    def handle(
        self,
        *args,
        dry_run: bool = False,
        group: list[str] | None = None,
        actor: str | None = None,
        **options,
    ) -> None:
        admin = self._actor(actor)
        try:
            plan = read_plan(only=group or ())
        except ProvisioningError as exc:
            raise CommandError(f"Could not read IAM Identity Center: {exc.message}") from exc
        if dry_run:
            self._print_plan(plan)
        else:
            self._apply(plan, admin)

    def _actor(self, username: str | None) -> User | None:
        if username is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--actor: there is no portal user {username!r}.")
        if not user.is_admin:
            raise CommandError(f"--actor: {username} is not an admin; only admins import.")
        return user

    def _print_plan(self, plan: ImportPlan) -> None:
        members = users = accounts = 0
        for item in plan.groups:
            taken = [m for m in item.members if not m.refused]
            new_accounts = sum(1 for a in item.account_ids if a in plan.new_accounts)
            self.stdout.write(
                f"would import  {item.name}: {_plural(len(taken), 'member')}, "
                f"{_plural(len(item.account_ids), 'account')} ({new_accounts} new)"
            )
            self._print_group_details(item)
            members += len(taken)
            accounts += len(item.account_ids)
        new_users = {
            m.user.user_id
            for item in plan.groups
            for m in item.members
            if not m.refused and not m.linked_to
        }
        users = len(new_users)
        self._print_skipped(plan)
        self.stdout.write(
            f"Dry run: would import {_plural(len(plan.groups), 'access group')} "
            f"({_plural(members, 'membership')}, {_plural(users, 'new user')}, "
            f"{_plural(accounts, 'account link')}, {_plural(len(plan.new_accounts), 'new account')}); "
            f"{len(plan.skipped)} skipped. Nothing was written."
        )
        if plan.groups:
            self.stdout.write(NEXT_STEPS)

    def _print_group_details(self, item: GroupImport) -> None:
        for member in item.members:
            if member.refused:
                self.stdout.write(
                    f"  member left out: {member.user.username or member.user.user_id}: {member.refused}"
                )
        for note in item.notes:
            self.stdout.write(f"  note: {note}")

    def _print_skipped(self, plan: ImportPlan) -> None:
        for skipped in plan.skipped:
            self.stdout.write(f"skipped       {skipped.name}: {skipped.reason}")
        for note in plan.notes:
            self.stdout.write(f"note: {note}")

    def _apply(self, plan: ImportPlan, actor: User | None) -> None:
        results: list[ImportResult] = []
        refused = 0
        for item in plan.groups:
            result = access_group_import(item=item, new_accounts=plan.new_accounts, actor=actor)
            if result.refused:
                refused += 1
                self.stdout.write(f"skipped       {item.name}: {result.refused}")
                continue
            results.append(result)
            self.stdout.write(
                f"imported      {item.name}: {_plural(result.members, 'member')} "
                f"({_plural(result.new_users, 'new user')}, {result.linked_users} linked), "
                f"{_plural(result.accounts, 'account')} ({result.new_accounts} new)"
            )
            for username, reason in result.refused_members:
                self.stdout.write(f"  member left out: {username}: {reason}")
            for note in item.notes:
                self.stdout.write(f"  note: {note}")
        self._print_skipped(plan)
        self.stdout.write(
            f"Imported {_plural(len(results), 'access group')} "
            f"({_plural(sum(r.members for r in results), 'membership')}, "
            f"{_plural(sum(r.new_users for r in results), 'new user')}, "
            f"{_plural(sum(r.linked_users for r in results), 'linked user')}, "
            f"{_plural(sum(r.accounts for r in results), 'account link')}, "
            f"{_plural(sum(r.new_accounts for r in results), 'new account')}); "
            f"{len(plan.skipped) + refused} skipped."
        )
        if results:
            self.stdout.write(NEXT_STEPS)
        if any(r.refused_members for r in results):
            self.stdout.write(
                "Members left out keep their Identity Center membership, which the portal does not "
                "show: fix what is said above, create or fix their portal user, then grant them the "
                "access group in the portal (the existing membership is found, not duplicated)."
            )
