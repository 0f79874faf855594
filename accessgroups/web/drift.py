"""The drift page: what the drift scans found, for auditors and admins; admins ask for a scan.

It reads the selector the API's /api/v1/drift/ reads, so that a page and the API agree on
what "open" means; a page of findings is one query.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accessgroups.drift import services
from accessgroups.drift.selectors import drift_findings, last_drift_scan
from accessgroups.web.auditor import REPORT_PAGE_SIZE, require_auditor
from accessgroups.web.common import paginate

SHOW = {"open": True, "resolved": False, "all": None}


class DriftFilters(forms.Form):
    show = forms.ChoiceField(
        label="Findings",
        required=False,
        choices=[("open", "Open"), ("resolved", "Resolved"), ("all", "All")],
    )

    def open(self) -> bool | None:
        return SHOW[self.cleaned_data.get("show") or "open"]


@require_GET
@login_required
def drift_page(request: HttpRequest) -> HttpResponse:
    require_auditor(request.user)
    form = DriftFilters(request.GET)
    valid = form.is_valid()
    findings = drift_findings(open=form.open()) if valid else drift_findings().none()
    return render(
        request,
        "accessgroups/reports/drift.html",
        {
            "form": form,
            "page": paginate(request, findings, per_page=REPORT_PAGE_SIZE),
            "scan": last_drift_scan(),
            "policy": settings.DRIFT_POLICY,
            "may_scan": request.user.is_admin,
        },
        status=200 if valid else 400,
    )


@require_POST
@login_required
def drift_scan(request: HttpRequest) -> HttpResponse:
    if not request.user.is_admin:
        raise PermissionDenied("Only admins ask for a drift scan.")
    services.drift_scan_request(actor=request.user)
    messages.success(
        request,
        "A worker is comparing Identity Center with the portal; "
        "findings appear here when it is done.",
    )
    return redirect("web:drift")
