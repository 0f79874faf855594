"""Finding a portal user's identity store user by IDENTITY_MATCH, without ever writing one.

- ``username``: ``GetUserId`` on ``userName`` (identity_center mode always matches this way);
- ``email``: ``GetUserId`` on ``emails.value``, the other unique attribute AWS accepts;
- ``external_id``: the identity provider's id of the person (OIDC ``sub``, SAML NameID, SCIM
  ``externalId``). ``GetUserId`` can find it only together with its ``Issuer``, which the
  portal cannot know for every provider (and the emulator the tests use implements neither
  the look-up nor ``ExternalIds``), so it reads ``ListUsers`` page by page and compares the
  ``Id`` of each user's ``ExternalIds``. That costs one call per 100 users, once per portal
  user: the id found is stored and never searched for again.
"""

from __future__ import annotations

from accessgroups.identity.source import identity_match, match_value
from accessgroups.models import User
from provisioning import aws
from provisioning.errors import PermanentError
from provisioning.identity_center import lookup

# ListUsers' largest page.
LIST_USERS_PAGE = 100

_UNIQUE_PATHS = {"username": "userName", "email": "emails.value"}


def find_user_id(user: User) -> str | None:
    """The identity store UserId IDENTITY_MATCH finds for ``user``, or None."""
    value = match_value(user)
    if not value:
        return None
    store = aws.instance().identity_store_id
    match = identity_match()
    if match == "external_id":
        return _by_external_id(store, value, user)
    return lookup(
        "identitystore",
        "GetUserId",
        "UserId",
        IdentityStoreId=store,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": _UNIQUE_PATHS[match], "AttributeValue": value}
        },
    )


def _by_external_id(store: str, value: str, user: User) -> str | None:
    found = [
        u["UserId"]
        for u in aws.paginate(
            "identitystore",
            "ListUsers",
            "Users",
            IdentityStoreId=store,
            MaxResults=LIST_USERS_PAGE,
        )
        if any((e or {}).get("Id") == value for e in u.get("ExternalIds") or [])
    ]
    if len(found) > 1:
        # Two providers (issuers) gave the same id: linking either could give one person
        # another's access.
        raise PermanentError(
            f"{user.username} cannot be linked: the Identity Center users {', '.join(found)} "
            f"all have the external id {value}. Remove the duplicate in the identity provider, "
            "then retry."
        )
    return found[0] if found else None
