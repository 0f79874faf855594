"""Who may call which endpoint, by role.

These classes answer only "may this role call this action at all". Rules about one row
(an approver of *this* group, the requester of *this* request, never one's own request)
live in the services (accessgroups.access.services, accessgroups.reviews.services, with
the predicates of accessgroups.core.roles), which raise PermissionDenied (403), and in the
``visible_to(user)`` querysets, which hide rows a user may not see (404).
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accessgroups.core.roles import ADMIN, AUDITOR, SIGNED_IN, has_role

__all__ = ["ADMIN", "AUDITOR", "SIGNED_IN", "ActionRoles", "IsAuditor", "has_role"]



class ActionRoles(BasePermission):
    """The view's ``action_roles`` maps each action to the one role it needs.

    An action missing from the map is refused, so a new endpoint is closed until someone
    decides who may call it.
    """

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        action = getattr(view, "action", None)
        if action is None:
            # A method the route does not offer (PUT, say): let DRF answer 405, which
            # changes nothing, rather than a 403 that suggests another role could.
            return has_role(request.user, SIGNED_IN)
        if action == "metadata":
            # OPTIONS describes the endpoint (as /api/schema/ does) and changes nothing.
            return has_role(request.user, SIGNED_IN)
        role = view.action_roles.get(action)
        if role is None:
            return False
        return has_role(request.user, role)


class IsAuditor(BasePermission):
    message = "Only auditors and admins can read this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return has_role(request.user, AUDITOR)
