"""Mail about change requests (four eyes, docs/decisions/0018-change-requests.md): when an
admin proposes a change of an access group, the other admins are told, since one of them
must approve it."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from accessgroups.core.roles import admins
from accessgroups.mail.services import _mailable, _send
from accessgroups.models import ChangeRequest, ChangeStatus, User


def change_proposed_recipients(change: ChangeRequest) -> list[User]:
    """Every active admin with an email, but the proposer."""
    return _mailable(admins().order_by("username"), actor_id=change.proposed_by_id)


def change_proposed_send(*, change_id: int) -> int:
    change = (
        ChangeRequest.objects.select_related("proposed_by", "access_group")
        .filter(pk=change_id, status=ChangeStatus.PENDING)
        .first()
    )
    if change is None:  # decided or withdrawn before the mail went: nothing to ask
        return 0
    link = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "web:manage-change-request", args=[change.pk]
    )
    context = {
        "change": change,
        "proposer": change.proposed_by,
        "steps": [step.get("text", "") for step in change.plan],
        "link": link,
    }
    return _send(
        "change_proposed",
        change_proposed_recipients(change),
        context,
        about=f"change_request:{change.pk}",
    )
