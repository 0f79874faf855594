"""Portal users as Identity Center identity store users.

IDENTITY_SOURCE=identity_center: the portal creates them (``UserName`` = portal username).
IDENTITY_SOURCE=external: an identity provider does; the portal only finds them by
IDENTITY_MATCH (provisioning.user_match) and waits while they are not there yet.
"""

from __future__ import annotations

from accessgroups.identity.source import (
    MATCH_WORDS,
    identity_match,
    is_external,
    not_yet_provisioned,
)
from accessgroups.models import Membership, User
from provisioning import aws
from provisioning.errors import (
    AwaitingIdentityProvider,
    NotFoundError,
    PermanentError,
    TransientError,
)
from provisioning.identity_center import (
    Claim,
    Result,
    lookup,
    provision,
    record_drift,
    resync_memberships,
    write,
)
from provisioning.user_match import find_user_id

_FIELD_WORDS = {"email": "email address", "given_name": "given name", "family_name": "family name"}


def user_sync(*, user_id: int) -> Result:
    """Onboard the user into the identity store, or check that their stored id still holds."""
    return provision(User, user_id, _user_work)


def _user_work(c: Claim) -> None:
    user = User.objects.get(pk=c.pk)
    stored = user.identity_center_user_id
    if stored:
        try:
            aws.call(
                "identitystore",
                "DescribeUser",
                IdentityStoreId=aws.instance().identity_store_id,
                UserId=stored,
            )
            return
        except NotFoundError:
            ensure_user(user, stale_id=forget_user_id(user))
            return
    ensure_user(user)


def forget_user_id(user: User) -> str:
    """Clear a stored user id that Identity Center no longer knows; returns the old one."""
    old = user.identity_center_user_id
    User.objects.filter(pk=user.pk, identity_center_user_id=old).update(identity_center_user_id="")
    user.identity_center_user_id = ""
    return old


def ensure_user(user: User, *, stale_id: str = "", for_membership: int | None = None) -> str:
    """The user's Identity Center UserId: the stored one, else found by IDENTITY_MATCH, else
    created (identity_center mode) or waited for (external mode).

    Raises PermanentError naming the missing field when the user cannot be onboarded, and
    AwaitingIdentityProvider while an external identity provider has not created them.
    ``stale_id`` is a stored id just found missing in Identity Center (recorded as drift);
    ``for_membership`` is the membership being provisioned, which needs no re-sync of its own.
    """
    if user.identity_center_user_id:
        return user.identity_center_user_id
    old = stale_id
    user_id = find_user_id(user)
    if user_id is not None and is_external():
        _refuse_if_linked_elsewhere(user, user_id)
    if user_id is None and not is_external():
        user_id = _create_user(user, aws.instance().identity_store_id)
    if user_id is not None:
        # Onboarded, perhaps on the way (for a membership): the user row says so too.
        user.store_identity_center_id(user_id)
    if old:
        record_drift(obj=user, subject=user, what="user", old_id=old, new_id=user_id or "")
        # Their group memberships were made for the old user: make them again (in external
        # mode, once the provider has created the user again; until then they wait too).
        resync_memberships(Membership.objects.active().filter(user=user), exclude_pk=for_membership)
    if user_id is None:
        raise AwaitingIdentityProvider(not_yet_provisioned(user))
    return user_id


def _refuse_if_linked_elsewhere(user: User, user_id: str) -> None:
    """Two portal users must never share one person's Identity Center user: the second
    would get the first one's access, and lose it with theirs."""
    other = User.objects.filter(identity_center_user_id=user_id).exclude(pk=user.pk).first()
    if other is not None:
        raise PermanentError(
            f"{user.username} cannot be linked: the Identity Center user {user_id} that "
            f"IDENTITY_MATCH finds for them is already {other.username}'s. Correct the "
            f"{MATCH_WORDS[identity_match()]} of one of them, then retry."
        )


def _create_user(user: User, store: str) -> str:
    if is_external():
        # Never reached (ensure_user waits instead); kept so that no future path can.
        raise PermanentError("The identity provider owns the users: the portal creates none.")
    missing = [_FIELD_WORDS[f] for f in user.missing_identity_fields()]
    if missing:
        raise PermanentError(
            f"{user.username} cannot be onboarded into Identity Center: the {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing. Fill in the user's "
            f"{' and '.join(missing)} and retry."
        )
    try:
        response = write(
            "identitystore",
            "CreateUser",
            obj=user,
            subject=user,
            result=lambda r: {"UserId": r["UserId"]},
            IdentityStoreId=store,
            UserName=user.username,
            DisplayName=user.effective_display_name,
            Name={"GivenName": user.given_name, "FamilyName": user.family_name},
            Emails=[{"Value": user.email, "Type": "work", "Primary": True}],
        )
    except TransientError as exc:
        if exc.code != "ConflictException":
            raise
        # Created by someone else between our look-up and our write: use theirs.
        found = lookup(
            "identitystore",
            "GetUserId",
            "UserId",
            IdentityStoreId=store,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": user.username}
            },
        )
        if found is None:
            raise
        return found
    return response["UserId"]
