"""Helpers the mail tests share."""

from __future__ import annotations

from datetime import datetime, timedelta

from accessgroups.access.services import membership_grant
from accessgroups.models import Membership


def html_of(message) -> str:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return html


def grant(user, group, admin, *, hours: int, activated_at: datetime) -> Membership:
    """An active membership of ``hours`` that became active at ``activated_at``."""
    membership = membership_grant(
        user=user, access_group=group, granted_by=admin, justification="test", duration_hours=hours
    )
    Membership.objects.filter(pk=membership.pk).update(
        granted_at=activated_at,
        activated_at=activated_at,
        expires_at=activated_at + timedelta(hours=hours),
    )
    membership.refresh_from_db()
    return membership
