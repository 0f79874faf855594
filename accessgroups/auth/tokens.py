"""Personal API tokens: who may create and revoke them, and API calls authenticated by them.

A person creates their own tokens on the "API tokens" page, after a sign-in that passed a
second factor (``mfa_verified``, from ``accessgroups.auth.mfa.session_passed_mfa``); an admin
creates them only for service accounts (``User.is_service_account``), never for a person; an
operator at the shell creates them with ``manage.py drf_create_token`` (``actor=None``:
shell access already holds the database and SECRET_KEY). Every token expires, at most
``API_TOKEN_MAX_DAYS`` days after it was made. Creating and revoking are audited; the key
is shown once and goes nowhere else: not in the database, the audit log or the logs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accessgroups.core.audit import audit_record
from accessgroups.core.errors import Conflict
from accessgroups.core.limits import NUL_MESSAGE, column_max
from accessgroups.models import ApiToken, User

# 20 random bytes, written as 40 lowercase hex digits: the shape of DRF's keys, so scripts
# that pick a key out of `drf_create_token`'s output keep working.
KEY_BYTES = 20
KEY_LENGTH = 2 * KEY_BYTES
# The first 8 digits find the row and tell tokens apart on pages; they are not secret, and
# the 128 bits after them are still far beyond guessing.
PREFIX_LENGTH = 8
DEFAULT_DAYS = 30
NAME_MAX = column_max(ApiToken, "name")
_HEX_DIGITS = frozenset("0123456789abcdef")

MFA_FIRST = (
    "Creating an API token needs a sign-in that passed your second factor (authenticator "
    "app or security key). Confirm it on the API tokens page, then try again."
)


def max_days() -> int:
    return settings.API_TOKEN_MAX_DAYS


def default_days() -> int:
    return min(DEFAULT_DAYS, max_days())


def hash_key(key: str) -> str:
    """SHA-256 of the key, which is what is stored.

    No slow hash (PBKDF2, bcrypt, Argon2) is needed: those make each guess of a *human*
    password expensive, because people pick from a small space. A key is 160 bits from the
    operating system's CSPRNG, 128 of them unknown even to whoever reads the prefix: no
    dictionary helps, and at any speed a brute force of 2**128 hashes is out of reach. A slow
    hash would only spend CPU on every API call.
    """
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewApiToken:
    """A token just created, and its key: shown to its creator once, stored nowhere."""

    token: ApiToken
    key: str


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the token after what will use it."})
    if "\x00" in name:
        raise ValidationError({"name": NUL_MESSAGE})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"At most {NAME_MAX} characters."})
    return name


def _check_days(days: int | None) -> int:
    if days is None:
        return default_days()
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValidationError({"days": "A whole number of days, at least 1."})
    if days > max_days():
        raise ValidationError(
            {"days": f"At most {max_days()} days: tokens expire within API_TOKEN_MAX_DAYS."}
        )
    return days


def _check_may_create(actor: User | None, user: User, mfa_verified: bool) -> None:
    if actor is None:
        return  # an operator at the shell
    if not actor.is_active:
        raise PermissionDenied("Deactivated users cannot create API tokens.")
    if actor.pk != user.pk:
        if not actor.is_admin:
            raise PermissionDenied("You can create API tokens only for yourself.")
        if not user.is_service_account:
            # An admin holding a key of someone else would act as them, unseen by them.
            raise PermissionDenied(
                "Admins create API tokens only for service accounts; people create their "
                "own on the API tokens page."
            )
    if not mfa_verified:
        raise PermissionDenied(MFA_FIRST)


def api_token_create(
    *,
    actor: User | None,
    user: User,
    name: str,
    days: int | None = None,
    mfa_verified: bool = False,
    via: str = "page",
) -> NewApiToken:
    """Create a token for ``user`` that expires in ``days`` (default 30, at most
    API_TOKEN_MAX_DAYS). ``actor`` is the user themselves or, for a service account, an
    admin, either after a second factor in this session (``mfa_verified``); None is an
    operator at the shell. ``via`` says where in the audit log (page, drf_create_token...)."""
    _check_may_create(actor, user, mfa_verified)
    if not user.is_active:
        raise ValidationError({"user": "This user is deactivated."})
    name = _check_name(name)
    days = _check_days(days)
    key = secrets.token_hex(KEY_BYTES)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=key[:PREFIX_LENGTH],
            key_hash=hash_key(key),
            created_at=now,
            created_by=actor,
            expires_at=now + timedelta(days=days),
        )
        audit_record(
            action="api_token.created",
            actor=actor,
            obj=token,
            subject=user,
            message=(
                f"API token {name!r} ({token.prefix}…) created for {user.username}, "
                f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC"
            ),
            data={
                "user": user.username,
                "name": name,
                "prefix": token.prefix,
                "days": days,
                "expires_at": token.expires_at,
                "via": via,
            },
        )
    return NewApiToken(token=token, key=key)


def api_token_revoke(*, actor: User | None, token: ApiToken, via: str = "page") -> ApiToken:
    """Revoke a token at once: its owner or an admin (None: an operator at the shell)."""
    if actor is not None and not (
        actor.is_active and (actor.pk == token.user_id or actor.is_admin)
    ):
        raise PermissionDenied("You can revoke only your own API tokens.")
    now = timezone.now()
    with transaction.atomic():
        # Conditional: of two revocations racing, one writes and is audited.
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor
        )
        if not revoked:
            raise Conflict("This API token was already revoked.")
        token.refresh_from_db()
        audit_record(
            action="api_token.revoked",
            actor=actor,
            obj=token,
            subject=token.user,
            message=f"API token {token.name!r} ({token.prefix}…) of {token.user.username} revoked",
            data={
                "user": token.user.username,
                "name": token.name,
                "prefix": token.prefix,
                "via": via,
            },
        )
    return token


def api_token_for_key(key: str) -> ApiToken | None:
    """The token whose key this is, whatever its state; None when there is none."""
    if len(key) != KEY_LENGTH or not _HEX_DIGITS.issuperset(key):
        return None
    digest = hash_key(key)
    # Prefixes may repeat (8 hex digits); the hash decides, compared in constant time.
    for token in ApiToken.objects.select_related("user").filter(prefix=key[:PREFIX_LENGTH]):
        if constant_time_compare(token.key_hash, digest):
            return token
    return None


class ApiTokenAuthentication(TokenAuthentication):
    """``Authorization: Token KEY`` (DRF's header, unchanged) with a personal API token.

    A subclass of DRF's class for the header parsing, the ``WWW-Authenticate: Token``
    challenge of a 401 and drf-spectacular's ``tokenAuth`` scheme; the key is looked up
    here, never in DRF's own token table.
    """

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[User, ApiToken]:
        token = api_token_for_key(key)
        if token is None:
            raise AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.revoked_at is not None:
            raise AuthenticationFailed(
                f"This token was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC. "
                "Create a new one on the portal's API tokens page."
            )
        if token.expires_at <= now:
            raise AuthenticationFailed(
                f"This token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC. "
                "Create a new one on the portal's API tokens page."
            )
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        token.record_use(now)
        return token.user, token
