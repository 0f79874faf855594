"""Navigation per role, in one place: the layout shows what the signed-in user may open."""

from __future__ import annotations

from django.http import HttpRequest

from accessgroups.auth.standing import Standing, standing
from accessgroups.models import ChangeRequest
from accessgroups.web.links import link

# (label, URL name, who sees it). Labels are accessible names scripts and tests rely on.
ITEMS = (
    ("Access groups", "web:catalogue", "everyone"),
    ("My requests", "web:my-requests", "everyone"),
    ("My access", "web:my-access", "everyone"),
    ("API tokens", "web:api-tokens", "everyone"),
    ("Approvals", "web:approvals", "approvers"),
    ("Reports", "web:who-has-access", "auditors"),
    ("Audit log", "web:audit-log", "auditors"),
    ("Drift", "web:drift", "auditors"),
    ("Reviews", "web:reviews", "reviewers"),
    ("Accounts", "web:manage-accounts", "admins"),
    ("Users", "web:manage-users", "admins"),
    ("Manage groups", "web:manage-groups", "admins"),
    ("Changes", "web:manage-change-requests", "admins"),
    ("Provisioning", "web:manage-provisioning", "admins"),
)


def _may_see(user, who: Standing, audience: str) -> bool:
    if audience == "everyone":
        return True
    if audience == "approvers":
        return who.decides
    if audience == "auditors":
        return user.can_audit
    if audience == "reviewers":
        # Anyone who was ever asked to review keeps the item: it does not vanish with the
        # last decision.
        return who.reviews
    return user.is_admin


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    who = standing(request)
    for label, name, audience in ITEMS:
        if not _may_see(user, who, audience):
            continue
        url = link(name)
        item = {"label": label, "url": url, "current": request.path.startswith(url) if url != "/" else request.path == "/"}
        if name == "web:manage-change-requests":
            # One query, on admins' pages only: how many wait for a decision.
            item["count"] = ChangeRequest.objects.pending().count()
        items.append(item)
    return {"nav_items": items}
