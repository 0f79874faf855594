"""Ending the sessions that outlive access.

Taking someone out of an access group's Identity Center group stops new sessions, but the
role sessions they already hold in the accounts last up to the permission set's session
duration. So when a membership ends, a ``SessionRevocation`` records the person's identity
store user id, and the group's sync puts a deny-all statement on that id into the
permission set's inline policy and pushes it to the accounts
(provisioning.inline_policies.wanted_inline_policy). Once every such session has run out,
the revocation is lifted and the statement goes the same way.

Nothing here calls AWS: the group's sync is asked for through the sync port. The group's
row is locked before anything else a revocation touches, in the order approval and
archiving take it, so that ending or granting access never deadlocks with them.
See docs/decisions/0012-session-revocation.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.core.validators import SESSION_MAX, parse_session_duration
from accessgroups.models import (
    AccessGroup,
    EndReason,
    LiftReason,
    Membership,
    SessionRevocation,
    User,
)


def _lock_group(access_group_id: int) -> AccessGroup:
    return AccessGroup.objects.select_for_update().get(pk=access_group_id)


def session_revocation_begin(membership: Membership, *, reason: str) -> str:
    """Before a membership ends: the Identity Center user id whose sessions the ending will
    deny ("" when none), with the group's row locked for ``session_revoke``.

    Nothing for an archived group (its permission set is deleted, and the roles in the
    accounts with it), with REVOKE_SESSIONS off, or for a person never onboarded into
    Identity Center (no sessions to deny).
    """
    if not settings.REVOKE_SESSIONS or reason == EndReason.ARCHIVED:
        return ""
    # Read afresh: the caller's copy of the user may predate their onboarding.
    user_id = (
        User.objects.filter(pk=membership.user_id)
        .values_list("identity_center_user_id", flat=True)
        .first()
    )
    if user_id:
        _lock_group(membership.access_group_id)
    return user_id or ""


def session_revoke(
    *,
    membership: Membership,
    identity_center_user_id: str,
    ended_at: datetime,
    reason: str,
    by: User | None,
) -> SessionRevocation | None:
    """Deny the sessions a membership that has just ended may have left running.

    Called by membership_end in its transaction, after ``session_revocation_begin``.
    Lifted once the group's session duration has passed since ``ended_at`` (and since
    Identity Center confirmed the removal: ``SessionRevocation.is_due``).
    """
    if (
        Membership.objects.active()
        .filter(user_id=membership.user_id, access_group_id=membership.access_group_id)
        .exists()
    ):
        # Another membership still covers the pair: the person keeps their access.
        return None
    group = AccessGroup.objects.get(pk=membership.access_group_id)
    # The longest session AWS allows when the stored duration cannot be read.
    duration = parse_session_duration(group.session_duration) or SESSION_MAX
    revocation = SessionRevocation.objects.create(
        access_group=group,
        user_id=membership.user_id,
        identity_center_user_id=identity_center_user_id,
        membership=membership,
        created_at=ended_at,
        lift_after=ended_at + duration,
    )
    audit_record(
        action="session.revoked",
        actor=by,
        obj=revocation,
        access_group=group,
        subject=membership.user,
        message=f"Sessions still running on {group.name} are denied until they have ended.",
        data={
            "membership": membership.pk,
            "end_reason": reason,
            "identity_center_user_id": identity_center_user_id,
            "session_duration": group.session_duration,
            "lift_after": revocation.lift_after,
        },
    )
    sync.request_sync(group)
    return revocation


def session_revocations_lift_regranted(*, membership: Membership) -> int:
    """The person has access to the group again: lift their revocations there now.

    Called once Identity Center confirmed an active membership. The deny names the person,
    not a session, so left in place it would block the access just granted too.
    """
    pending = SessionRevocation.objects.unlifted().filter(
        user_id=membership.user_id, access_group_id=membership.access_group_id
    )
    if not pending.exists():
        return 0
    with transaction.atomic():
        group = _lock_group(membership.access_group_id)
        # Under the group's lock, which an ending that revokes takes first: a membership
        # ended meanwhile has revoked again, and that revocation must stay.
        if not Membership.objects.active().filter(pk=membership.pk).exists():
            return 0
        return _lift(
            list(pending.select_related("user")),
            group=group,
            now=timezone.now(),
            reason=LiftReason.ACCESS_GRANTED_AGAIN,
            message=f"Access to {group.name} was granted again (membership #{membership.pk}).",
        )


def session_revocations_lift(*, now: datetime) -> int:
    """Lift every revocation whose sessions have all ended; one group sync per group.

    Safe to run twice at once: each revocation is lifted by one conditional update, and a
    run that finds it lifted already leaves it.
    """
    candidates = (
        SessionRevocation.objects.lift_after_passed(now)
        .select_related("membership", "user")
        .order_by("access_group_id", "lift_after", "pk")
    )
    by_group: dict[int, list[SessionRevocation]] = defaultdict(list)
    for revocation in candidates:
        if revocation.is_due(now):
            by_group[revocation.access_group_id].append(revocation)
    count = 0
    for group_id, revocations in by_group.items():
        with transaction.atomic():
            group = _lock_group(group_id)
            count += _lift(
                revocations,
                group=group,
                now=now,
                reason=LiftReason.SESSIONS_ENDED,
                message=f"Every session begun before access to {group.name} ended has run out.",
            )
    return count


def _lift(
    revocations: list[SessionRevocation],
    *,
    group: AccessGroup,
    now: datetime,
    reason: str,
    message: str,
) -> int:
    lifted = 0
    for revocation in revocations:
        if not SessionRevocation.objects.filter(pk=revocation.pk, lifted_at__isnull=True).update(
            lifted_at=now, lift_reason=reason
        ):
            continue  # another run lifted it first
        lifted += 1
        audit_record(
            action="session.revocation_lifted",
            obj=revocation,
            access_group=group,
            subject=revocation.user,
            message=message,
            data={
                "reason": reason,
                "identity_center_user_id": revocation.identity_center_user_id,
                "revoked_at": revocation.created_at,
                "lift_after": revocation.lift_after,
            },
        )
    if lifted and not group.is_archived:
        # An archived group's permission set is gone; there is nothing left to change.
        sync.request_sync(group)
    return lifted
