"""Who is who: the role names and the predicates every surface asks.

The API's permission classes, the pages, the MFA rule, the navigation and mail all ask
here, so "who may decide" or "who counts as an approver" has one answer. Rules about one
row (an approver of *this* group, never one's own request) are the ``can_*`` functions;
services raise ``PermissionDenied`` when they say no.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet

if TYPE_CHECKING:
    # The models read the role names from here; at run time nothing here needs them.
    from accessgroups.models import AccessGroup, IdentityCenterGroup, User

# Roles an admin gives (User.is_auditor, User.is_portal_admin); a superuser is an admin too.
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (AUDITOR, ADMIN)
# What an API action may ask for besides a role: any active, signed-in user.
SIGNED_IN = "signed_in"


# One refusal for every way someone might give themselves access: deciding their own request,
# an admin granting or extending their own membership.
SELF_GRANT_REFUSED = "Nobody can approve, grant or extend their own access."


def validate_roles(roles: Iterable[str], field: str = "roles") -> list[str]:
    roles = list(roles)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationError(
            {field: f"Unknown role(s) {', '.join(map(repr, unknown))}; use {', '.join(ROLES)}."}
        )
    return roles


def has_role(user, role: str) -> bool:
    """Whether a (possibly anonymous) user holds ``role``: SIGNED_IN, AUDITOR or ADMIN."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if role == SIGNED_IN:
        return True
    if role == AUDITOR:
        return user.can_audit  # admins read everything auditors read
    if role == ADMIN:
        return user.is_admin
    raise ValueError(f"Unknown role {role!r}")


def require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only admins can change the portal's configuration.")


def admins() -> QuerySet[User]:
    """Active admins: portal admins and superusers."""
    return get_user_model().objects.filter(
        Q(is_superuser=True) | Q(is_portal_admin=True), is_active=True
    )


def is_approver(user: User, access_group: AccessGroup) -> bool:
    """Named in the group's approvers, or a member of one of its approver groups."""
    entitlement = entitled_by(user, access_group)
    return entitlement is not None and entitlement["approver"] != ENTITLED_AS_ADMIN


# How a decider is entitled, as the decision's audit event records it (``entitled_by``):
# {"approver": "named"}, {"approver": "group", "group": <Identity Center group name>} or
# {"approver": "admin"}. A dict, so that no group's name can pass for another kind.
ENTITLED_BY_NAME = "named"
ENTITLED_BY_GROUP = "group"
ENTITLED_AS_ADMIN = "admin"


def entitled_by(user: User, access_group: AccessGroup) -> dict[str, str] | None:
    """Why ``user`` may decide for the group; None when they may not. Named wins over a
    group (the first by name), a group over the admin role."""
    if not user.is_active:
        return None
    if access_group.approvers.filter(pk=user.pk).exists():
        return {"approver": ENTITLED_BY_NAME}
    if user.identity_center_user_id:
        group = (
            access_group.approver_groups.filter(members__user_id=user.identity_center_user_id)
            .order_by("display_name")
            .values_list("display_name", flat=True)
            .first()
        )
        if group is not None:
            return {"approver": ENTITLED_BY_GROUP, "group": group}
    return {"approver": ENTITLED_AS_ADMIN} if user.is_admin else None


def approvers_of(access_group: AccessGroup) -> QuerySet[User]:
    """Active users who approve the group: named, or members of an approver group."""
    from accessgroups.models import IdentityCenterGroupMember

    by_group = IdentityCenterGroupMember.objects.filter(
        group__approver_for=access_group
    ).values("user_id")
    return get_user_model().objects.filter(
        Q(approver_of=access_group) | Q(identity_center_user_id__in=by_group),
        is_active=True,
    ).distinct()


def approvers_by_group(group_ids: Iterable[int]) -> dict[int, list[User]]:
    """access group id -> its active approvers (named or by group), by username; 3 queries."""
    from accessgroups.models import AccessGroup

    group_ids = set(group_ids)
    found: dict[int, dict[int, User]] = {gid: {} for gid in group_ids}
    named = AccessGroup.approvers.through.objects.filter(
        accessgroup_id__in=group_ids, user__is_active=True
    ).select_related("user")
    for link in named:
        found[link.accessgroup_id][link.user_id] = link.user
    pairs = AccessGroup.approver_groups.through.objects.filter(
        accessgroup_id__in=group_ids
    ).values_list("accessgroup_id", "identitycentergroup__members__user_id")
    by_ic_id: dict[str, set[int]] = {}
    for gid, ic_user in pairs:
        if ic_user:
            by_ic_id.setdefault(ic_user, set()).add(gid)
    if by_ic_id:
        users = get_user_model().objects.filter(
            identity_center_user_id__in=by_ic_id, is_active=True
        )
        for user in users:
            for gid in by_ic_id[user.identity_center_user_id]:
                found[gid][user.pk] = user
    return {
        gid: sorted(users.values(), key=lambda u: u.username) for gid, users in found.items()
    }


def possible_approvers(
    access_group: AccessGroup | None = None,
    *,
    approvers: Iterable[User] | None = None,
    approver_groups: Iterable[IdentityCenterGroup] | None = None,
) -> QuerySet[User]:
    """The people who may approve the group's requests because they are named for it or are
    members of one of its approver groups (as the last refresh read them).

    The one count a quorum is checked against (accessgroups.access.policies). Admins, who
    may approve any group, are left out: counting them would make every quorum reachable.
    ``approvers`` and ``approver_groups`` are the lists about to be saved (a change not yet
    written), else the group's own.
    """
    if approvers is None:
        approvers = access_group.approvers.all() if access_group is not None else []
    if approver_groups is None:
        approver_groups = access_group.approver_groups.all() if access_group is not None else []
    from accessgroups.models.directory import IdentityCenterGroupMember

    members = IdentityCenterGroupMember.objects.filter(
        group__in=[g.pk for g in approver_groups]
    ).values("user_id")
    return get_user_model().objects.filter(
        Q(pk__in=[u.pk for u in approvers])
        | Q(identity_center_user_id__in=members) & ~Q(identity_center_user_id=""),
        is_active=True,
    )


def deciding_groups(user: User) -> QuerySet[AccessGroup]:
    """The access groups that name ``user`` as an approver, themselves or by an approver group."""
    from accessgroups.models import AccessGroup
    from accessgroups.models.directory import approves

    return AccessGroup.objects.filter(approves(user))


def decides_anything(user: User) -> bool:
    """Approvers of some group and admins: they see the approval queue and need MFA.

    Pages read it, with the other per-request questions, from accessgroups.auth.standing."""
    return user.is_active and (user.is_admin or deciding_groups(user).exists())


def eligibility_refusal(user: User, access_group: AccessGroup) -> str | None:
    """Why ``user`` may not request the group (not in any of its eligible groups), or None."""
    eligible = list(access_group.eligible_groups.order_by("display_name"))
    if not eligible:
        return None
    ic_id = user.identity_center_user_id
    if ic_id and access_group.eligible_groups.filter(members__user_id=ic_id).exists():
        return None
    names = ", ".join(g.display_name for g in eligible)
    return (
        f"Only members of the Identity Center group(s) {names} may request "
        f"{access_group.name}; you are not a member of any of them."
    )


def refuse_self_grant(actor: User, user: User) -> None:
    """No approval, grant or extension of one's own access: another person must decide."""
    if actor.pk == user.pk:
        raise PermissionDenied(SELF_GRANT_REFUSED)


def can_decide(user: User, access_group: AccessGroup) -> bool:
    """Approvers of the group and admins decide; auditors never change anything."""
    return user.is_active and (user.is_admin or is_approver(user, access_group))
