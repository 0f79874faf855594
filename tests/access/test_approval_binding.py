"""An approval grants exactly what the approver saw, within the group's current cap, and
nobody approves, grants or extends their own access."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_grant,
)
from accessgroups.catalogue.services import access_group_update
from accessgroups.core.errors import Conflict
from accessgroups.core.roles import SELF_GRANT_REFUSED
from accessgroups.models import AccessGroup, AuditEvent, Decision, Membership, RequestStatus
from tests.api.helpers import database_fingerprint
from tests.workflow import approved_and_active

pytestmark = pytest.mark.django_db

ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.fixture
def pending(alice, readonly):
    return access_request_create(requester=alice, access_group=readonly, justification="logs")


@pytest.fixture
def production(make_account):
    return make_account("production")


def _widen(group: AccessGroup, dave, production) -> AccessGroup:
    """What an admin does between the approver opening the card and pressing Approve."""
    return access_group_update(
        actor=dave,
        access_group=group,
        accounts=[a.account_id for a in group.current_accounts()] + [production.account_id],
        aws_managed_policies=[ADMIN_ACCESS],
    )


# --- the version ------------------------------------------------------------------------------


def test_the_version_grows_with_what_the_group_grants_or_who_approves_it(
    readonly, dave, erin, production
):
    assert readonly.version == 1
    group = access_group_update(actor=dave, access_group=readonly, description="new words")
    assert group.version == 1  # a description grants nothing
    group = access_group_update(actor=dave, access_group=group, max_duration_hours=8)
    assert group.version == 1  # the cap is checked at approval on its own
    group = access_group_update(actor=dave, access_group=group, approvers=["bob", "erin"])
    assert group.version == 2
    group = access_group_update(actor=dave, access_group=group, session_duration="PT2H")
    assert group.version == 3
    group = _widen(group, dave, production)
    assert group.version == 4
    event = AuditEvent.objects.filter(action="access_group.updated").order_by("-sequence")[0]
    assert event.data["version"] == {"from": 3, "to": 4}


def test_an_approval_of_an_older_version_is_refused_saying_what_changed(
    pending, bob, dave, readonly, production
):
    seen = readonly.version
    _widen(readonly, dave, production)
    before = database_fingerprint()
    with pytest.raises(Conflict) as refused:
        access_request_approve(access_request=pending, approver=bob, access_group_version=seen)
    assert refused.value.field == "access_group_version"
    assert "accounts, AWS managed policies" in refused.value.message
    assert f"version {seen}, now {seen + 1}" in refused.value.message
    assert database_fingerprint() == before


def test_the_current_version_is_approved_and_the_audit_event_says_what_it_grants(
    pending, bob, dave, readonly, production
):
    group = _widen(readonly, dave, production)
    request = access_request_approve(
        access_request=pending, approver=bob, access_group_version=group.version
    )
    assert request.status == RequestStatus.APPROVED
    event = AuditEvent.objects.get(action="request.approved")
    assert event.data["access_group_version"] == group.version
    assert event.data["grants"] == {
        "account_ids": sorted(a.account_id for a in group.current_accounts()),
        "aws_managed_policies": [ADMIN_ACCESS],
        "customer_managed_policies": [],
        "inline_policy": None,
        "session_duration": "PT1H",
    }


# --- the cap ----------------------------------------------------------------------------------


def test_a_duration_over_a_cap_set_since_the_request_is_refused_at_approval(
    alice, bob, dave, readonly
):
    request = access_request_create(
        requester=alice, access_group=readonly, justification="x", duration_hours=48
    )
    access_group_update(actor=dave, access_group=readonly, max_duration_hours=8)
    with pytest.raises(Conflict) as refused:
        access_request_approve(access_request=request, approver=bob)
    assert refused.value.field == "duration_hours"
    assert "at most 8 hours" in refused.value.message and "48 hours" in refused.value.message
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING and not Decision.objects.exists()


def test_access_without_expiry_is_refused_once_the_group_has_a_cap(pending, bob, dave, readonly):
    access_group_update(actor=dave, access_group=readonly, max_duration_hours=4)
    with pytest.raises(Conflict) as refused:
        access_request_approve(access_request=pending, approver=bob)
    assert "access that does not expire" in refused.value.message
    assert not Membership.objects.exists()


def test_a_duration_within_the_lowered_cap_is_approved(alice, bob, dave, readonly):
    request = access_request_create(
        requester=alice, access_group=readonly, justification="x", duration_hours=4
    )
    access_group_update(actor=dave, access_group=readonly, max_duration_hours=4)
    assert access_request_approve(access_request=request, approver=bob).status == "approved"


# --- no self-grant ----------------------------------------------------------------------------


def test_an_admin_cannot_grant_themselves_access(dave, readonly):
    with pytest.raises(PermissionDenied) as refused:
        membership_grant(user=dave, access_group=readonly, granted_by=dave, justification="me")
    assert str(refused.value) == SELF_GRANT_REFUSED
    assert not Membership.objects.exists()


def test_an_admin_cannot_extend_their_own_access(dave, bob, readonly):
    membership = approved_and_active(dave, readonly, bob, hours=2).membership
    expires = membership.expires_at
    with pytest.raises(PermissionDenied):
        membership_grant(
            user=dave,
            access_group=readonly,
            granted_by=dave,
            justification="more",
            duration_hours=99,
        )
    membership.refresh_from_db()
    assert membership.expires_at == expires


def test_nobody_approves_their_own_request_in_the_same_words(bob, readonly):
    own = access_request_create(requester=bob, access_group=readonly, justification="me")
    with pytest.raises(PermissionDenied) as refused:
        access_request_approve(access_request=own, approver=bob)
    assert str(refused.value) == SELF_GRANT_REFUSED


# --- through the API and the page -------------------------------------------------------------


def test_the_api_refuses_a_self_grant_with_403(api, dave, readonly):
    client = api(dave)
    before = database_fingerprint()
    response = client.post(
        "/api/v1/memberships/",
        {"user": "dave", "access_group": readonly.pk, "justification": "me"},
        format="json",
    )
    assert response.status_code == 403
    assert response.data["detail"] == SELF_GRANT_REFUSED
    assert database_fingerprint() == before


def test_the_api_shows_the_version_and_refuses_a_stale_approval_with_409(
    api, pending, bob, dave, readonly, production
):
    url = f"/api/v1/access-requests/{pending.pk}/"
    seen = api(bob).get(url).data["access_group_version"]
    _widen(readonly, dave, production)
    response = api(bob).post(
        f"{url}approve/", {"comment": "ok", "access_group_version": seen}, format="json"
    )
    assert response.status_code == 409, response.data
    assert "accounts, AWS managed policies" in str(response.data)
    assert api(bob).get(url).data["status"] == "pending"
    fresh = api(bob).get(url).data["access_group_version"]
    assert fresh == seen + 1
    response = api(bob).post(
        f"{url}approve/", {"comment": "ok", "access_group_version": fresh}, format="json"
    )
    assert response.status_code == 202, response.data


def test_the_api_refuses_a_duration_over_the_current_cap_with_409(api, alice, bob, dave, readonly):
    request = access_request_create(
        requester=alice, access_group=readonly, justification="x", duration_hours=24
    )
    access_group_update(actor=dave, access_group=readonly, max_duration_hours=8)
    response = api(bob).post(f"/api/v1/access-requests/{request.pk}/approve/", {}, format="json")
    assert response.status_code == 409
    assert "at most 8 hours" in str(response.data)


def test_the_approval_card_approves_the_version_it_showed(
    client_for, pending, bob, dave, readonly, production
):
    client = client_for(bob)
    page = client.get(reverse("web:approvals")).content.decode()
    field = f'name="r{pending.pk}-access_group_version" value="{readonly.version}"'
    assert field in page
    _widen(readonly, dave, production)  # while bob reads the card
    response = client.post(
        reverse("web:request-approve", args=[pending.pk]),
        {f"r{pending.pk}-comment": "", f"r{pending.pk}-access_group_version": readonly.version},
        follow=True,
    )
    assert "has changed since you opened this request" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == RequestStatus.PENDING and not Decision.objects.exists()


def test_an_approval_post_without_the_version_is_refused(client_for, pending, bob):
    response = client_for(bob).post(
        reverse("web:request-approve", args=[pending.pk]), {f"r{pending.pk}-comment": ""}
    )
    assert response.status_code == 400
    pending.refresh_from_db()
    assert pending.status == RequestStatus.PENDING
