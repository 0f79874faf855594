"""The Identity Center groups page (admins): the groups an access group may name as approver
or eligible groups, the last refresh and its error, and a refresh on demand.

It reads the cache (accessgroups.directory.selectors); a worker reads Identity Center.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accessgroups.core.roles import require_admin
from accessgroups.directory import services
from accessgroups.directory.selectors import identity_center_groups, last_group_sync
from accessgroups.web.common import paginate

PAGE_SIZE = 50


@require_GET
@login_required
def groups_page(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    listed = (
        identity_center_groups()
        .exclude(services.portal_group_filter())
        .annotate(
            approves=Count(
                "approver_for", filter=Q(approver_for__archived_at__isnull=True), distinct=True
            ),
            gates=Count(
                "eligible_for", filter=Q(eligible_for__archived_at__isnull=True), distinct=True
            ),
        )
    )
    return render(
        request,
        "accessgroups/manage/identity_center_groups.html",
        {
            "page": paginate(request, listed, per_page=PAGE_SIZE),
            "run": last_group_sync(),
            "interval": settings.GROUP_SYNC_SECONDS,
        },
    )


@require_POST
@login_required
def groups_refresh(request: HttpRequest) -> HttpResponse:
    services.group_sync_request(actor=request.user)
    messages.success(
        request,
        "A worker is reading the groups and their members from Identity Center; "
        "reload this page in a moment.",
    )
    return redirect("web:manage-identity-center-groups")
