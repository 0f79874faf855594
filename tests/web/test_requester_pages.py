"""Requester pages through Django's test client: catalogue, request form, My requests,
My access. The rules are the services'; these tests check the pages use them and show
their refusals by the field, saving nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accessgroups.access import services
from accessgroups.models import AccessRequest, Membership, RequestStatus

pytestmark = pytest.mark.django_db


def test_pages_require_sign_in(client):
    for name in ("web:catalogue", "web:my-requests", "web:my-access", "web:my-requests-fragment"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert "login" in response["Location"]


def test_catalogue_shows_what_each_group_grants(
    client_for, alice, readonly, limited, make_group, bob
):
    make_group("Hidden", requestable=False, approvers=[bob])
    page = client_for(alice).get(reverse("web:catalogue")).content.decode()
    assert "ReadOnly" in page and "Developers" in page
    assert "Hidden" not in page  # not requestable
    assert "sandbox (100000000001)" in page
    assert "ReadOnlyAccess (AWS managed)" in page
    assert "8 hours" in page and "no limit" in page
    assert "<dd>1 hour</dd>" in page and "bob" in page  # the session duration, PT1H
    assert page.count("Request access</a>") == 2
    assert "You have this access" not in page


def test_catalogue_says_which_groups_one_already_has(client_for, alice, dave, readonly, limited):
    services.membership_grant(
        user=alice, access_group=limited, granted_by=dave, justification="on call", duration_hours=4
    )
    membership = Membership.objects.get(user=alice)
    services.membership_activated(membership_id=membership.pk)
    membership.refresh_from_db()

    page = client_for(alice).get(reverse("web:catalogue")).content.decode()
    assert page.count("You have this access") == 1
    assert f"until <time datetime=\"{membership.expires_at.isoformat()}\">" in page
    # Both groups can still be asked for: for limited, that asks for more time.
    assert page.count("Request access</a>") == 2


def test_catalogue_search_and_filters(client_for, alice, make_group, make_account, bob):
    prod = make_account("prod")
    make_group(
        "Billing", description="invoices and cost explorer", approvers=[bob], max_duration_hours=4
    )
    make_group("Operators", accounts=[prod], approvers=[bob])
    client = client_for(alice)

    def names(**params) -> set[str]:
        response = client.get(reverse("web:catalogue"), params)
        assert response.status_code == 200
        return {g.name for g in response.context["page"].object_list}

    assert names() == {"Billing", "Operators"}
    assert names(q="invoice") == {"Billing"}  # description
    assert names(q="oper") == {"Operators"}  # name, any case
    assert names(account=prod.account_id) == {"Operators"}
    assert names(limited="yes") == {"Billing"}
    assert names(limited="no") == {"Operators"}
    assert names(q="nothing-like-this") == set()
    assert names(page="-1") == {"Billing", "Operators"}
    # A NUL or an overlong filter is refused, naming the parameter, as the API refuses it.
    for bad in ({"q": "a\x00b"}, {"account": "x" * 500}):
        response = client.get(reverse("web:catalogue"), bad)
        assert response.status_code == 400
        (name,) = bad
        assert f"{name}: " in response.content.decode()


def test_request_form_creates_a_request_through_the_service(client_for, alice, limited):
    client = client_for(alice)
    url = reverse("web:request-create", args=[limited.pk])
    form = client.get(url).content.decode()
    assert "Justification" in form and "Duration (hours)" in form and "at most 8 hours" in form
    response = client.post(url, {"justification": "debug the outage", "duration_hours": "4"})
    assert response.status_code == 302 and response["Location"] == reverse("web:my-requests")
    request = AccessRequest.objects.get()
    assert (request.requester, request.access_group, request.duration_hours) == (alice, limited, 4)
    assert request.status == RequestStatus.PENDING


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"justification": "", "duration_hours": "2"}, "justification", "Say why you need this"),
        (
            {"justification": "   ", "duration_hours": "2"},
            "justification",
            "Say why you need this access.",
        ),
        ({"justification": "x", "duration_hours": ""}, "duration_hours", "This field is required."),
        (
            {"justification": "x", "duration_hours": "9"},
            "duration_hours",
            "less than or equal to 8",
        ),
        (
            {"justification": "x", "duration_hours": "0"},
            "duration_hours",
            "greater than or equal to 1",
        ),
        (
            {"justification": "x", "duration_hours": "two"},
            "duration_hours",
            "Enter a whole number.",
        ),
        ({"justification": "x" * 4001, "duration_hours": "2"}, "justification", "at most 4000"),
        ({"justification": "a\x00b", "duration_hours": "2"}, "justification", "Null characters"),
    ],
)
def test_bad_input_shows_the_error_by_the_field_and_saves_nothing(
    client_for, alice, limited, data, field, message
):
    response = client_for(alice).post(reverse("web:request-create", args=[limited.pk]), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    # The error is rendered right by its field's label.
    page = response.content.decode()
    label = page.index(f'for="id_{field}"')
    assert page.index(message.split(" ")[0], label) < page.index(f'id="id_{field}"', label) + 200
    assert not AccessRequest.objects.exists()


def test_a_second_open_request_shows_a_clear_message(client_for, alice, readonly):
    client = client_for(alice)
    url = reverse("web:request-create", args=[readonly.pk])
    assert client.post(url, {"justification": "first"}).status_code == 302
    response = client.post(url, {"justification": "second"})
    assert response.status_code == 400
    assert "You already have an open request for this access group." in response.content.decode()
    assert AccessRequest.objects.count() == 1


def test_request_form_of_an_unrequestable_group_is_not_found(client_for, alice, make_group, bob):
    hidden = make_group("Hidden", requestable=False, approvers=[bob])
    client = client_for(alice)
    assert client.get(reverse("web:request-create", args=[hidden.pk])).status_code == 404
    assert (
        client.post(
            reverse("web:request-create", args=[hidden.pk]), {"justification": "x"}
        ).status_code
        == 404
    )
    assert not AccessRequest.objects.exists()


def test_my_requests_timeline_and_polling(client_for, alice, bob, readonly, limited):
    pending = services.access_request_create(
        requester=alice, access_group=readonly, justification="read logs"
    )
    decided = services.access_request_create(
        requester=alice, access_group=limited, justification="deploy", duration_hours=2
    )
    services.access_request_reject(access_request=decided, approver=bob, comment="use the pipeline")
    client = client_for(alice)
    response = client.get(reverse("web:my-requests"))
    page = response.content.decode()
    assert "Submitted" in page and "Waiting for an approver" in page
    assert "Rejected by bob" in page and "use the pipeline" in page
    # An open request on the page: the list fetches itself again every 2 s.
    assert 'hx-trigger="every 2s"' in page
    assert reverse("web:my-requests-fragment") in page
    assert page.count("Cancel request</button>") == 1

    services.access_request_cancel(access_request=pending, user=alice)
    fragment = client.get(reverse("web:my-requests-fragment")).content.decode()
    assert fragment.lstrip().startswith('<div id="request-list"')
    assert "hx-trigger" not in fragment  # nothing left to change by itself: polling stops
    assert "<html" not in fragment


def test_timeline_follows_provisioning_to_active(client_for, alice, bob, readonly):
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    services.access_request_approve(access_request=request, approver=bob, comment="ok for a week")
    client = client_for(alice)
    page = client.get(reverse("web:my-requests")).content.decode()
    assert "Approved by bob" in page and "ok for a week" in page
    assert "Being set up in Identity Center" in page
    request.refresh_from_db()
    services.membership_activated(membership_id=request.membership_id)
    page = client.get(reverse("web:my-requests-fragment")).content.decode()
    assert "status-active" in page and "Does not expire" in page
    assert "hx-trigger" not in page


def test_cancel_request(client_for, alice, erin, readonly):
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    # Someone else's request is not found, and stays as it was.
    assert (
        client_for(erin).post(reverse("web:request-cancel", args=[request.pk])).status_code == 404
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    client = client_for(alice)
    # GET only asks to confirm.
    assert client.get(reverse("web:request-cancel", args=[request.pk])).status_code == 200
    response = client.post(reverse("web:request-cancel", args=[request.pk]), follow=True)
    assert "was cancelled" in response.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED
    # Cancelling twice: a message, not an error page.
    response = client.post(reverse("web:request-cancel", args=[request.pk]), follow=True)
    assert response.status_code == 200
    assert "only open requests can be cancelled" in response.content.decode()


def test_my_access_lists_and_gives_up_own_access(client_for, alice, erin, bob, readonly, limited):
    request = services.access_request_create(
        requester=alice, access_group=limited, justification="x", duration_hours=3
    )
    services.access_request_approve(access_request=request, approver=bob)
    request.refresh_from_db()
    services.membership_activated(membership_id=request.membership_id)
    other = services.access_request_create(requester=erin, access_group=readonly, justification="x")
    services.access_request_approve(access_request=other, approver=bob)
    other.refresh_from_db()

    client = client_for(alice)
    page = client.get(reverse("web:my-access")).content.decode()
    membership = Membership.objects.get(user=alice)
    assert "Developers" in page and "ReadOnly" not in page  # only her own
    assert f"{membership.expires_at:%Y-%m-%d %H:%M}" in page
    assert "Revoke</button>" in page

    # erin's membership is not alice's to give up.
    assert (
        client.post(reverse("web:my-access-revoke", args=[other.membership_id])).status_code == 404
    )
    assert Membership.objects.get(pk=other.membership_id).ended_at is None

    response = client.post(reverse("web:my-access-revoke", args=[membership.pk]))
    assert response.status_code == 302
    membership.refresh_from_db()
    request.refresh_from_db()
    assert membership.ended_at is not None and membership.ended_by == alice
    assert request.status == RequestStatus.REVOKED
    assert list(client.get(reverse("web:my-access")).context["page"].object_list) == []


def test_ids_are_never_localized(client_for, alice, bob, make_group, sandbox, settings):
    # With thousands separators on, element ids and links still carry plain ids.
    settings.USE_THOUSAND_SEPARATOR = True
    asked = make_group("Asked", pk=23456, accounts=[sandbox], approvers=[bob])
    held = make_group("Held", pk=34567, accounts=[sandbox], approvers=[bob])
    AccessRequest.objects.create(pk=45678, requester=alice, access_group=asked, justification="x")
    now = timezone.now()
    Membership.objects.create(
        pk=56789, user=alice, access_group=held, source="admin", granted_at=now, activated_at=now
    )
    client = client_for(alice)
    pages = {
        "web:catalogue": ['id="group-23456"', 'id="group-34567"'],
        "web:my-requests": ['id="request-45678"', "Request #45678"],
        "web:my-access": ['id="membership-56789"', "/my/access/56789/"],
    }
    for name, expected in pages.items():
        page = client.get(reverse(name)).content.decode()
        assert all(text in page for text in expected), name
        assert not any(f"{n // 1000},{n % 1000}" in page for n in (23456, 34567, 45678, 56789))
