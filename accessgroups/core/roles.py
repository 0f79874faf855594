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
    from accessgroups.models import AccessGroup, User

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
    return user.is_active and access_group.approvers.filter(pk=user.pk).exists()


def possible_approvers(
    access_group: AccessGroup | None = None, *, approvers: Iterable[User] | None = None
) -> QuerySet[User]:
    """The people who may approve the group's requests because they are named for it.

    The one count a quorum is checked against (accessgroups.access.policies). Admins, who
    may approve any group, are left out: counting them would make every quorum reachable.
    ``approvers`` is the list about to be saved (a change not yet written), else the
    group's own. Extend here when approvers can be named another way.
    """
    if approvers is None:
        approvers = access_group.approvers.all() if access_group is not None else []
    ids = [u.pk for u in approvers]
    return get_user_model().objects.filter(pk__in=ids, is_active=True)


def decides_anything(user: User) -> bool:
    """Approvers of some group and admins: they see the approval queue and need MFA."""
    return user.is_active and (user.is_admin or user.approver_of.exists())


def refuse_self_grant(actor: User, user: User) -> None:
    """No approval, grant or extension of one's own access: another person must decide."""
    if actor.pk == user.pk:
        raise PermissionDenied(SELF_GRANT_REFUSED)


def can_decide(user: User, access_group: AccessGroup) -> bool:
    """Approvers of the group and admins decide; auditors never change anything."""
    return user.is_active and (user.is_admin or is_approver(user, access_group))
