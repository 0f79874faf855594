"""`manage.py drf_create_token USERNAME [-r]`: DRF's command, now making a personal API token.

Operators with shell access (trusted: they hold the database and SECRET_KEY) get a working
key for any active user, printed as DRF printed it. The token is a personal API token like
any other: it is stored hashed, expires (30 days unless ``--days`` says otherwise, at most
API_TOKEN_MAX_DAYS), shows on the user's API tokens page, and its creation is audited.
Since a key is never stored, each run makes a new token; ``-r/--reset`` first revokes the
user's tokens this command made earlier. This command wins over DRF's own because
rest_framework.authtoken is not installed (and, were it added back, accessgroups comes
first in INSTALLED_APPS: tests/auth/test_api_tokens.py checks which one runs).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accessgroups.auth.tokens import api_token_create, api_token_revoke
from accessgroups.core.errors import Conflict
from accessgroups.models import ApiToken, User

TOKEN_NAME = "drf_create_token"


class Command(BaseCommand):
    help = (
        "Create a personal API token for a user and print its key (expires in 30 days "
        "unless --days says otherwise). -r/--reset revokes the tokens this command made before."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", type=str)
        parser.add_argument(
            "-r",
            "--reset",
            action="store_true",
            dest="reset_token",
            default=False,
            help=f"Revoke the user's active tokens named {TOKEN_NAME!r} before creating one.",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Days until the token expires (default 30, at most API_TOKEN_MAX_DAYS).",
        )

    def handle(self, *args, username: str, reset_token: bool, days: int | None, **options) -> None:
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"Cannot create the Token: user {username} does not exist") from None
        if reset_token:
            for token in ApiToken.objects.active().filter(user=user, name=TOKEN_NAME):
                try:
                    api_token_revoke(actor=None, token=token, via=TOKEN_NAME)
                except Conflict:
                    pass  # revoked meanwhile by someone else: what was asked
        try:
            created = api_token_create(
                actor=None, user=user, name=TOKEN_NAME, days=days, via=TOKEN_NAME
            )
        except ValidationError as refusal:
            raise CommandError(" ".join(refusal.messages)) from None
        self.stdout.write(f"Generated token {created.key} for user {username}")
        self.stdout.write(f"It expires on {created.token.expires_at:%Y-%m-%d %H:%M} UTC.")
