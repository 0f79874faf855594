"""Compare Identity Center with the database now: ``manage.py drift_scan [--policy revert|report]``.

Runs one scan in this process (the one a worker runs every DRIFT_SCAN_INTERVAL_SECONDS) and
prints, per kind of drift, the findings new, still open, reverted and gone, then the groups
that could not be read and the reverts that failed. Exits 0 when the scan ran, whatever it
found (and when another scan was running, which it says); 1 when Identity Center could not
be read at all.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accessgroups.models import DriftKind
from provisioning.drift import POLICIES, drift_scan


class Command(BaseCommand):
    help = (
        "Compare what the portal owns in IAM Identity Center with its database, record the "
        "differences as drift findings, and undo them (DRIFT_POLICY=revert) or only report them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--policy",
            choices=POLICIES,
            default=None,
            help="revert: undo outside changes; report: only record them (default: DRIFT_POLICY).",
        )

    def handle(self, *args, policy: str | None = None, **options) -> None:
        policy = policy or settings.DRIFT_POLICY
        result = drift_scan(policy=policy)
        if result is None:
            self.stdout.write("Another drift scan is running; nothing done.")
            return
        if result.error:
            raise CommandError(f"The drift scan stopped: {result.error}")
        groups = f"{result.groups} access group{'' if result.groups == 1 else 's'}"
        self.stdout.write(f"Drift scan ({policy}): {groups} compared.")
        width = max(len(kind.value) for kind in DriftKind)
        self.stdout.write(
            f"{'kind':<{width}}  {'new':>5}  {'still open':>10}  {'reverted':>8}  {'gone':>5}"
        )
        for kind in DriftKind:
            self.stdout.write(
                f"{kind.value:<{width}}  {result.new[kind]:>5}  {result.still_open[kind]:>10}  "
                f"{result.reverted[kind]:>8}  {result.gone[kind]:>5}"
            )
        for name, error in sorted(result.unreadable.items()):
            self.stdout.write(f"Not read: {name}: {error}")
        for failure in result.revert_failures:
            self.stdout.write(f"Not reverted: {failure}")
