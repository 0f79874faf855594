"""Who owns the identity store's users: the portal, or an identity provider (SCIM).

``IDENTITY_SOURCE=identity_center`` (the default): the portal creates a portal user's
identity store user, ``UserName`` = the portal username. ``IDENTITY_SOURCE=external``: an
identity provider creates, updates and deletes them; the portal only finds a portal user's
identity store user by ``IDENTITY_MATCH`` and stores its id. A user the provider has not
pushed yet is waited for (provisioning retries), never created.

Nothing here calls AWS: provisioning.user_match does the looking up.
"""

from __future__ import annotations

from django.conf import settings

from accessgroups.models import User

IDENTITY_CENTER = "identity_center"
EXTERNAL = "external"

# The words a row's last_error holds while it waits for the identity provider: the pages
# look for them to tell the requester why their access is not there yet.
NOT_YET_PROVISIONED = "not yet provisioned by your identity provider"

# What each match compares, in words for an admin, and the portal user's field it reads.
MATCH_WORDS = {"email": "email address", "username": "user name", "external_id": "external id"}
_MATCH_FIELDS = {"email": "email", "username": "username", "external_id": "external_id"}


def is_external() -> bool:
    return settings.IDENTITY_SOURCE == EXTERNAL


def identity_match() -> str:
    """``email``, ``username`` or ``external_id``; always ``username`` in identity_center mode."""
    return settings.IDENTITY_MATCH


def match_value(user: User) -> str:
    """The value of ``user`` that finds their identity store user ("" when it is not known)."""
    return (getattr(user, _MATCH_FIELDS[identity_match()]) or "").strip()


def not_yet_provisioned(user: User) -> str:
    """Why ``user`` has no identity store user yet, for an admin: which match, which value."""
    match = identity_match()
    value = match_value(user)
    if not value:
        return (
            f"{user.username} is {NOT_YET_PROVISIONED}: the portal matches users by "
            f"{MATCH_WORDS[match]} (IDENTITY_MATCH={match}) and this user has none yet. "
            "It is filled in when they sign in with single sign-on."
        )
    return (
        f"{user.username} is {NOT_YET_PROVISIONED}: no Identity Center user has the "
        f"{MATCH_WORDS[match]} {value} (IDENTITY_MATCH={match}). The portal looks again every "
        "few minutes and links them once the identity provider has created them."
    )


def waits_for_identity_provider(last_error: str) -> bool:
    """Does a row's last_error say it waits for the identity provider to create the user?"""
    return NOT_YET_PROVISIONED in (last_error or "")
