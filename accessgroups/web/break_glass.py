"""Break-glass on the pages: what the requester reads, and the approver's review of it.

The review (acknowledge, or revoke the access) is accessgroups.access.break_glass's rule;
these views only call it and say what happened.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from accessgroups.access import services
from accessgroups.access.break_glass import access_request_acknowledge
from accessgroups.auth.standing import standing
from accessgroups.core.errors import Conflict
from accessgroups.models import AccessGroup, AccessRequest
from accessgroups.web.requester_forms import CommentForm


def request_sent_message(group: AccessGroup, break_glass: bool) -> str:
    if break_glass:
        return (
            f"Break-glass access to {group.name} is granted and being set up. Its approvers and "
            "the admins have been told; an approver will review it."
        )
    return f"Your request for {group.name} was sent to its approvers."


def _review(request: HttpRequest, pk: int, revoke: bool) -> HttpResponse:
    if not standing(request).decides:
        raise PermissionDenied("Only approvers and admins review break-glass access.")
    access_request = get_object_or_404(
        AccessRequest.objects.visible_to(request.user).select_related("access_group", "requester"),
        pk=pk,
        break_glass=True,
    )
    form = CommentForm(request.POST, prefix=f"bg{pk}")
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        # PermissionDenied (one's own break-glass) becomes a 403 and changes nothing.
        if revoke:
            services.access_request_revoke(
                access_request=access_request, user=request.user, comment=comment
            )
        else:
            access_request_acknowledge(
                access_request=access_request, reviewer=request.user, comment=comment
            )
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        who = f"{access_request.requester.username}'s break-glass access to {access_request.access_group.name}"
        messages.success(request, f"You revoked {who}." if revoke else f"You acknowledged {who}.")
    return redirect("web:approvals")


@require_POST
@login_required
def break_glass_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    return _review(request, pk, revoke=False)


@require_POST
@login_required
def break_glass_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    return _review(request, pk, revoke=True)
