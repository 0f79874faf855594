"""Check the audit log's hash chain: ``manage.py verify_audit [--head HASH]``.

Prints OK with the number of events and the head hash, or the first bad event, and exits
with a non-zero status when the chain is broken. Keep the printed head somewhere outside
the database and pass it back with ``--head`` later: only that catches events cut from
the end of the log.
"""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accessgroups.audit import check_chain


def _sha256_hex(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError
    return value


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exit status 1 at the first bad event."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--head",
            type=_sha256_hex,
            default=None,
            help="A head hash taken earlier (an export's X-Audit-Head-Hash): it must still "
            "be in the chain.",
        )

    def handle(self, *args, head: str | None = None, **options) -> None:
        result = check_chain(expected_head=head)
        if result.problem is not None:
            # CommandError prints to stderr and exits with status 1.
            raise CommandError(
                f"audit log BROKEN at {result.problem} ({result.count} events verified before it)"
            )
        self.stdout.write(f"OK {result.count} events, head {result.head}")
