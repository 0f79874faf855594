"""One set of input limits for every surface: the hour cap, text lengths and the NUL rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_activated,
    membership_grant,
)
from accessgroups.catalogue.services import access_group_update
from accessgroups.core import limits
from accessgroups.models import AccessGroup, AccessRequest, Membership

HOURS_MAX = limits.HOURS_MAX
TOO_MANY = [HOURS_MAX + 1, 2_000_000_000, 2_147_483_647]


def test_the_cap_is_ten_years() -> None:
    assert HOURS_MAX == 87_840 == 24 * 366 * 10


@pytest.mark.parametrize("hours", TOO_MANY)
def test_the_workflow_refuses_more_than_the_cap(alice, dave, readonly, hours) -> None:
    with pytest.raises(ValidationError) as refused:
        access_request_create(
            requester=alice, access_group=readonly, justification="x", duration_hours=hours
        )
    assert refused.value.message_dict == {"duration_hours": [limits.HOURS_MAX_MESSAGE]}
    with pytest.raises(ValidationError) as refused:
        membership_grant(
            user=alice,
            access_group=readonly,
            granted_by=dave,
            justification="x",
            duration_hours=hours,
        )
    assert "duration_hours" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        access_group_update(actor=dave, access_group=readonly, max_duration_hours=hours)
    assert "max_duration_hours" in refused.value.message_dict
    assert not AccessRequest.objects.exists() and not Membership.objects.exists()
    assert AccessGroup.objects.get(pk=readonly.pk).max_duration_hours is None


@pytest.mark.parametrize("hours", TOO_MANY)
def test_the_request_form_refuses_more_than_the_cap(client_for, alice, readonly, hours) -> None:
    response = client_for(alice).post(
        reverse("web:request-create", args=[readonly.pk]),
        {"justification": "incident", "duration_hours": str(hours)},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["duration_hours"]
    assert not AccessRequest.objects.exists()


@pytest.mark.parametrize("hours", TOO_MANY)
def test_the_group_form_refuses_more_than_the_cap(client_for, dave, readonly, hours) -> None:
    response = client_for(dave).post(
        reverse("web:manage-group-edit", args=[readonly.pk]),
        {
            "description": "read only",
            "accounts": [link.account_id for link in readonly.account_links.all()],
            "aws_managed_policies": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "approvers": [a.pk for a in readonly.approvers.all()],
            "requestable": "on",
            "max_duration_hours": str(hours),
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["max_duration_hours"]
    assert AccessGroup.objects.get(pk=readonly.pk).max_duration_hours is None


@pytest.mark.parametrize("hours", TOO_MANY)
def test_the_api_refuses_more_than_the_cap(api, alice, readonly, hours) -> None:
    response = api(alice).post(
        "/api/v1/access-requests/",
        {"access_group": readonly.pk, "justification": "x", "duration_hours": hours},
        format="json",
    )
    assert response.status_code == 400
    assert response.data["duration_hours"] == [limits.HOURS_MAX_MESSAGE]
    assert not AccessRequest.objects.exists()


def test_the_longest_accepted_grant_activates_with_an_expiry(alice, bob, readonly) -> None:
    request = access_request_create(
        requester=alice, access_group=readonly, justification="x", duration_hours=HOURS_MAX
    )
    request = access_request_approve(access_request=request, approver=bob)
    membership_activated(membership_id=request.membership_id)
    membership = Membership.objects.get(pk=request.membership_id)
    assert (membership.expires_at - membership.activated_at).total_seconds() == HOURS_MAX * 3600


def test_a_row_stored_before_the_cap_activates_at_the_cap_instead_of_overflowing(
    alice, bob, readonly
) -> None:
    # What a form once accepted: the worker used to crash here with OverflowError, after
    # Identity Center had already made the membership.
    request = access_request_create(
        requester=alice, access_group=readonly, justification="x", duration_hours=1
    )
    request = access_request_approve(access_request=request, approver=bob)
    Membership.objects.filter(pk=request.membership_id).update(duration_hours=2_000_000_000)
    membership_activated(membership_id=request.membership_id)
    membership = Membership.objects.get(pk=request.membership_id)
    assert (membership.expires_at - membership.activated_at).total_seconds() == HOURS_MAX * 3600


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "x" * (limits.SEARCH_MAX + 1)])
def test_a_query_parameter_with_a_nul_or_too_long_is_refused_by_name(value) -> None:
    with pytest.raises(ValidationError) as refused:
        limits.query_text(value, "q")
    assert list(refused.value.message_dict) == ["q"]


def test_a_query_parameter_is_stripped_and_may_be_absent() -> None:
    assert limits.query_text("  ops ", "q") == "ops"
    assert limits.query_text(None, "q") == ""


def test_the_api_and_the_pages_refuse_a_nul_the_same_way(api, client_for, dave) -> None:
    response = api(dave).get("/api/v1/access-requests/", {"requester": "a\x00"})
    assert response.status_code == 400
    assert response.data == {"requester": [limits.NUL_MESSAGE]}
    response = client_for(dave).get(reverse("web:manage-users"), {"q": "a\x00"})
    assert response.status_code == 400
    assert f"q: {limits.NUL_MESSAGE}" in response.content.decode()


@pytest.mark.parametrize("login", ["a" * 100_000, "%" * 60_000, "_%" * 30_000])
def test_the_sign_in_form_refuses_an_overlong_login_without_a_query(client, alice, login) -> None:
    response = client.post(reverse("account_login"), {"login": login, "password": "x"})
    assert response.status_code == 200
    assert response.context["form"].errors["login"]
    assert "_auth_user_id" not in client.session


def test_an_extension_stored_before_the_cap_extends_to_the_cap(alice, bob, readonly) -> None:
    from tests.workflow import approved_and_active

    membership = approved_and_active(alice, readonly, bob, hours=1).membership
    request = access_request_create(
        requester=alice, access_group=readonly, justification="x", duration_hours=1
    )
    AccessRequest.objects.filter(pk=request.pk).update(duration_hours=2_000_000_000)
    request.refresh_from_db()
    before = timezone.now()
    access_request_approve(access_request=request, approver=bob)
    membership.refresh_from_db()
    assert before + timedelta(hours=HOURS_MAX) <= membership.expires_at
    assert membership.expires_at <= timezone.now() + timedelta(hours=HOURS_MAX)
