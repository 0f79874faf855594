"""Check the audit log's hash chain and seals: ``manage.py verify_audit [--head HASH]
[--max-unsealed N]``.

Prints OK with the number of events and the head hash, then how many events are sealed
and how many unsealed (written before sealing began); or the first bad event, with a
non-zero exit status. Keep the printed head somewhere outside the database and pass it back
with ``--head`` later: only that catches events cut from the end of the log.
"""

from __future__ import annotations

import re
from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accessgroups.core.audit import check_chain


def _sha256_hex(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError
    return value


def _count(value: str) -> int:
    if not value.isdigit():
        raise ArgumentTypeError(f"{value!r} is not a whole number of events (0 or more)")
    return int(value)


class Command(BaseCommand):
    help = "Verify the audit log's hash chain and seals; exit status 1 at the first bad event."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--head",
            type=_sha256_hex,
            default=None,
            help="A head hash taken earlier (an export's X-Audit-Head-Hash): it must still "
            "be in the chain.",
        )
        parser.add_argument(
            "--max-unsealed",
            type=_count,
            default=None,
            metavar="N",
            help="The number of unsealed events a run printed once the portal sealed: more "
            "means the log was rewritten without seals.",
        )

    def handle(
        self, *args, head: str | None = None, max_unsealed: int | None = None, **options
    ) -> None:
        result = check_chain(expected_head=head, max_unsealed=max_unsealed)
        if result.problem is not None:
            # CommandError prints to stderr and exits with status 1.
            raise CommandError(
                f"audit log BROKEN at {result.problem} ({result.count} events verified before it)"
            )
        self.stdout.write(f"OK {result.count} events, head {result.head}")
        self.stdout.write(
            f"{result.sealed} sealed ({result.sealed_with_fallback} of them with a key from "
            f"SECRET_KEY_FALLBACKS), {result.unsealed} unsealed from before sealing began"
        )
