"""What the signed-in person is, read once per request.

Every page asks the same three questions before its own work: the second-factor check
(accessgroups.auth.mfa), the menu (accessgroups.web.navigation) and the approval pages. One
query answers all three, kept on the request; the rules are those of
``accessgroups.core.roles.deciding_groups``, ``accessgroups.reviews.selectors.review_items_of``
and ``accessgroups.auth.mfa.second_factors``, which code outside a request asks one at a time.
The query's SQL is built from those rules once per process (``accessgroups.core.compiled``):
building it took longer than running it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, QuerySet
from django.http import HttpRequest

from accessgroups.core import compiled
from accessgroups.core.roles import deciding_groups
from accessgroups.models import User
from accessgroups.reviews.selectors import review_items_of


@dataclass(frozen=True)
class Standing:
    has_second_factor: bool
    decides: bool  # an admin, or an approver of some access group
    reviews: bool  # an auditor or admin, or asked to review at least once


NOBODY = Standing(has_second_factor=False, decides=False, reviews=False)


def _questions(pk: int, identity_center_user_id: str = "") -> QuerySet:
    """The three questions for the user ``pk``, as one row of three booleans."""
    from accessgroups.auth.mfa import second_factors

    user = User(pk=pk, identity_center_user_id=identity_center_user_id)
    return (
        User.objects.filter(pk=pk)
        .order_by()
        .values_list(
            Exists(second_factors(user)),
            Exists(deciding_groups(user)),
            Exists(review_items_of(user)),
        )
    )


def _answers(user: User) -> tuple[bool, bool, bool]:
    # An approver group can name a person only through their Identity Center id: with and
    # without one, the query has two shapes.
    values: tuple = (user.pk,)
    if user.identity_center_user_id:
        values += (user.identity_center_user_id,)
    found = compiled.rows(("standing", len(values)), _questions, values)
    if not found:  # the user was deleted since the request began
        return False, False, False
    second, approves, reviewed = found[0]
    return bool(second), bool(approves), bool(reviewed)


def standing(request: HttpRequest) -> Standing:
    """The request's user's standing, from one query the first time it is asked."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return NOBODY
    kept = getattr(request, "_standing", None)
    # Signing in or out within the request changes who is asking.
    if kept is not None and kept[0] == user.pk:
        return kept[1]
    second, approves, reviewed = _answers(user)
    found = Standing(
        has_second_factor=second,
        decides=user.is_active and (user.is_admin or approves),
        reviews=user.can_audit or reviewed,
    )
    request._standing = (user.pk, found)
    return found
