"""The request workflow driven through its services, for tests that need access in place."""

from __future__ import annotations

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_activated,
)


def approved_and_active(requester, access_group, approver, *, hours=None, justification="work"):
    """A request made, approved and confirmed by provisioning, through the services."""
    request = access_request_create(
        requester=requester, access_group=access_group, justification=justification, duration_hours=hours
    )
    request = access_request_approve(access_request=request, approver=approver)
    membership_activated(membership_id=request.membership_id)
    request.refresh_from_db()
    return request
