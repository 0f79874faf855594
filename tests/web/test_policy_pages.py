"""The approval policies on the pages, through Django's test client: quorum progress and
high risk on the approver's card, break-glass asked for, marked and reviewed, the policies
on the admin's access group form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accessgroups.access import services
from accessgroups.models import AccessGroup, AccessRequest, Decision, RequestStatus

pytestmark = pytest.mark.django_db

WHY = "production is down, incident 42"


@pytest.fixture
def prod(make_group, sandbox, bob, erin):
    return make_group(
        "Prod", accounts=[sandbox], approvers=[bob, erin], approvals_required=2, risk="high"
    )


@pytest.fixture
def oncall(make_group, sandbox, bob):
    return make_group(
        "OnCall", accounts=[sandbox], approvers=[bob], break_glass=True, max_duration_hours=8
    )


def _approve(client, request, comment=""):
    return client.post(
        reverse("web:request-approve", args=[request.pk]),
        {
            f"r{request.pk}-comment": comment,
            f"r{request.pk}-access_group_version": request.access_group.version,
        },
    )


def test_the_card_shows_the_quorum_and_the_risk(client_for, alice, bob, erin, prod):
    request = services.access_request_create(requester=alice, access_group=prod, justification="x")
    page = client_for(bob).get(reverse("web:approvals")).content.decode()
    assert "0 of 2" in page and "High risk" in page and "needs a comment" in page

    refused = _approve(client_for(bob), request)
    assert refused.status_code == 400
    assert "say why you approve" in refused.content.decode()
    assert not Decision.objects.exists()

    bobs = client_for(bob)
    response = _approve(bobs, request, "checked the incident")
    assert response.status_code == 302
    page = bobs.get(reverse("web:approvals")).content.decode()
    assert "It needs 2 approvals; others must approve too." in page
    assert "alice asks for Prod" not in page  # bob has approved: no longer his to decide
    assert "1 of 2" in client_for(erin).get(reverse("web:approvals")).content.decode()
    mine = client_for(alice).get(reverse("web:my-requests")).content.decode()
    assert "Approved by bob" in mine and "Waiting for 1 more approval" in mine

    _approve(client_for(erin), request, "ok")
    request.refresh_from_db()
    assert request.status != RequestStatus.PENDING


def test_break_glass_from_the_request_form_to_the_review(client_for, alice, bob, oncall):
    form = client_for(alice).get(reverse("web:request-create", args=[oncall.pk])).content.decode()
    assert "Break-glass: an emergency, grant it now" in form
    response = client_for(alice).post(
        reverse("web:request-create", args=[oncall.pk]),
        {"justification": WHY, "duration_hours": "", "break_glass": "on"},
    )
    assert response.status_code == 302
    request = AccessRequest.objects.get()
    assert request.break_glass and request.duration_hours == 4
    mine = client_for(alice).get(reverse("web:my-requests")).content.decode()
    assert "Break-glass" in mine and "Granted at once: break-glass" in mine

    page = client_for(bob).get(reverse("web:approvals")).content.decode()
    assert "Break-glass access to review (1)" in page and WHY in page
    # The requester is no approver: the review is not hers.
    assert (
        client_for(alice)
        .post(reverse("web:break-glass-acknowledge", args=[request.pk]))
        .status_code
        == 403
    )
    response = client_for(bob).post(
        reverse("web:break-glass-acknowledge", args=[request.pk]),
        {f"bg{request.pk}-comment": "seen"},
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.break_glass_review_outcome == "acknowledged"
    assert (
        "Break-glass access to review"
        not in client_for(bob).get(reverse("web:approvals")).content.decode()
    )


def test_break_glass_revoked_from_the_review(client_for, alice, bob, oncall):
    request = services.access_request_create(
        requester=alice, access_group=oncall, justification=WHY, break_glass=True
    )
    services.membership_activated(membership_id=request.membership_id)
    response = client_for(bob).post(reverse("web:break-glass-revoke", args=[request.pk]))
    assert response.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.break_glass_review_outcome) == ("revoked", "revoked")


def test_a_short_break_glass_justification_is_shown_on_the_form(client_for, alice, oncall):
    response = client_for(alice).post(
        reverse("web:request-create", args=[oncall.pk]),
        {"justification": "down", "break_glass": "on"},
    )
    assert response.status_code == 400
    assert "at least 20 characters" in response.content.decode()
    assert not AccessRequest.objects.exists()


def test_no_break_glass_box_on_an_ordinary_group(client_for, alice, readonly):
    form = client_for(alice).get(reverse("web:request-create", args=[readonly.pk])).content.decode()
    assert "Break-glass" not in form


def test_an_automatic_approval_in_my_requests(client_for, alice, make_group):
    group = make_group("Sandbox", auto_approve=True)
    services.access_request_create(requester=alice, access_group=group, justification="try")
    assert (
        "Approved automatically by the portal"
        in client_for(alice).get(reverse("web:my-requests")).content.decode()
    )


def _group_form(**overrides) -> dict:
    data = {
        "name": "Deploy",
        "aws_managed_policies": "arn:aws:iam::aws:policy/AdministratorAccess",
        "customer_managed_policies": "",
        "inline_policy": "",
        "session_duration": "PT1H",
        "requestable": "on",
        "applications_note": "",
        "description": "",
    }
    data.update(overrides)
    return data


def test_the_admin_sets_the_policies(client_for, dave, bob, erin):
    client = client_for(dave)
    response = client.post(
        reverse("web:manage-group-create"),
        _group_form(approvers=["bob", "erin"], approvals_required="2", break_glass="on"),
    )
    assert response.status_code == 302, response.context["form"].errors
    group = AccessGroup.objects.get(name="Deploy")
    # AdministratorAccess: the portal's suggestion, high, is taken when risk is left empty.
    assert (group.approvals_required, group.break_glass, group.auto_approve, group.risk) == (
        2,
        True,
        False,
        "high",
    )
    detail = client.get(reverse("web:manage-group-detail", args=[group.pk])).content.decode()
    assert "Approvals required" in detail and "High" in detail

    edit = client.get(reverse("web:manage-group-edit", args=[group.pk])).content.decode()
    assert "The portal suggests high for these policies." in edit
    response = client.post(
        reverse("web:manage-group-edit", args=[group.pk]),
        _group_form(approvers=["bob"], approvals_required="2", risk="normal"),
    )
    assert response.status_code == 400
    assert "only 1 possible approver" in " ".join(
        response.context["form"].errors["approvals_required"]
    )
    group.refresh_from_db()
    assert group.approvals_required == 2 and group.risk == "high"
