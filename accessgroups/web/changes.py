"""Change request pages: the list, one change with what it changes and what provisioning
will do, and its decisions (accessgroups.changes.services). Approve takes an optional
comment at once; Reject and Withdraw go through the confirmation step (web/confirm.py)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accessgroups.changes import services as changes
from accessgroups.core.errors import Conflict
from accessgroups.models import ChangeRequest, ChangeStatus, User
from accessgroups.web.common import paginate
from accessgroups.web.confirm import render_confirm
from accessgroups.web.requester_forms import CommentForm

PROPOSED_MESSAGE = "Change proposed; another admin must approve it."
STATUS_CHOICES = [("", "All")] + list(ChangeStatus.choices)


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise PermissionDenied("Only admins can open the change requests.")


def _shown(value: Any) -> str:
    """One side of a from → to line, in words."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(
            f"{v.get('path', '/')}{v.get('name', '')}" if isinstance(v, dict) else str(v)
            for v in value
        )
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def change_lines(change: ChangeRequest) -> list[dict[str, str]]:
    return [
        {
            "field": field.replace("_", " ").capitalize(),
            "from": _shown(values.get("from")),
            "to": _shown(values.get("to")),
        }
        for field, values in (change.changes or {}).items()
    ]


def _change(pk: int) -> ChangeRequest:
    return get_object_or_404(
        ChangeRequest.objects.select_related("access_group", "proposed_by", "decided_by"), pk=pk
    )


@require_GET
@login_required
def change_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request.user)
    status = request.GET.get("status", "")
    if status not in ChangeStatus.values:
        status = ""
    rows = ChangeRequest.objects.select_related(
        "access_group", "proposed_by", "decided_by"
    ).pending_first()
    if status:
        rows = rows.filter(status=status)
    return render(
        request,
        "accessgroups/manage/change_requests.html",
        {"page": paginate(request, rows), "status": status, "status_choices": STATUS_CHOICES},
    )


@require_GET
@login_required
def change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request.user)
    change = _change(pk)
    return render(
        request,
        "accessgroups/manage/change_request.html",
        {
            "change": change,
            "lines": change_lines(change),
            "may_decide": change.is_pending and change.proposed_by_id != request.user.pk,
            "may_withdraw": change.is_pending and change.proposed_by_id == request.user.pk,
            "approve_form": CommentForm(),
        },
    )


def _refused(request: HttpRequest, refusal: Exception) -> None:
    if isinstance(refusal, ValidationError):
        text = " ".join(str(m) for m in refusal.messages)
    elif isinstance(refusal, Conflict):
        text = refusal.message
    else:
        text = str(refusal)
    messages.error(request, text)


@require_POST
@login_required
def change_approve(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request.user)
    change = _change(pk)
    form = CommentForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        changes.change_approve(actor=request.user, change_request=change, comment=comment)
    except (ValidationError, Conflict, PermissionDenied) as refusal:
        _refused(request, refusal)
    else:
        messages.success(
            request, "Change approved and applied; Identity Center is being updated."
        )
    return redirect("web:manage-change-request", pk=change.pk)


def _facts(change: ChangeRequest) -> list[tuple[str, str]]:
    return [
        ("Access group", change.group_name),
        ("Action", change.get_action_display()),
        ("Proposed by", change.proposed_by.username),
    ]


@require_http_methods(["GET", "POST"])
@login_required
def change_reject(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm, with a reason; POST rejects."""
    _require_admin(request.user)
    change = _change(pk)
    back = reverse("web:manage-change-request", args=[change.pk])
    form = CommentForm(request.POST or None)
    if request.method == "POST":
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        try:
            changes.change_reject(actor=request.user, change_request=change, comment=comment)
        except ValidationError as refusal:
            if "comment" not in getattr(refusal, "message_dict", {}):
                _refused(request, refusal)
                return redirect(back)
            form.add_error("comment", refusal.message_dict["comment"])
        except (Conflict, PermissionDenied) as refusal:
            _refused(request, refusal)
            return redirect(back)
        else:
            messages.success(request, "Change rejected; nothing was applied.")
            return redirect(back)
    return render_confirm(
        request,
        title=f"Reject the change of {change.group_name}",
        consequence="Nothing of it is applied; the proposer sees your reason.",
        button="Reject change",
        back=back,
        facts=_facts(change),
        comment_form=form,
        comment_label="Reason",
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def change_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST withdraws (the proposer only)."""
    _require_admin(request.user)
    change = _change(pk)
    back = reverse("web:manage-change-request", args=[change.pk])
    if request.method == "GET":
        return render_confirm(
            request,
            title=f"Withdraw your change of {change.group_name}",
            consequence="Nothing of it is applied and nobody can approve it any more.",
            button="Withdraw change",
            back=back,
            facts=_facts(change),
        )
    try:
        changes.change_withdraw(actor=request.user, change_request=change)
    except (Conflict, PermissionDenied) as refusal:
        _refused(request, refusal)
    else:
        messages.success(request, "Change withdrawn.")
    return redirect(back)
