"""Destructive actions ask first: the list's button GETs the action's URL, which says what
will happen and POSTs to the same URL; the GET changes nothing. A direct POST acts as
before (scripts, the tests of each page)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accessgroups.access import services
from accessgroups.models import AccessRequest, Membership, RequestStatus, User

pytestmark = pytest.mark.django_db


def _confirm_form(html: str, action: str) -> str:
    """The page's confirmation form (it posts back to its own URL) and its button."""
    form = re.search(r'<form method="post" class="confirm">(.*?)</form>', html, re.S)
    assert form, html
    return form.group(1)


def test_revoke_from_approvals_asks_first(client_for, alice, bob, readonly, grant):
    membership = grant(alice, readonly)
    client = client_for(bob)
    listing = client.get(reverse("web:approvals-access")).content.decode()
    url = reverse("web:approvals-revoke", args=[membership.pk])
    # The list's button only opens the confirmation (a GET form, no token).
    assert f'<form method="get" action="{url}">' in listing
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Revoke alice&#x27;s access to ReadOnly?" in html
    assert "Revoke access</button>" in _confirm_form(html, url)
    assert "Go back" in html
    membership.refresh_from_db()
    assert membership.ended_at is None  # asking changed nothing
    client.post(url)
    membership.refresh_from_db()
    assert membership.ended_at is not None


def test_strangers_do_not_get_a_confirmation(client_for, alice, erin, readonly, grant, make_user):
    membership = grant(alice, readonly)
    assert (
        client_for(alice).get(reverse("web:approvals-revoke", args=[membership.pk])).status_code
        == 403
    )
    other = make_user("olga")
    assert (
        client_for(other).get(reverse("web:my-access-revoke", args=[membership.pk])).status_code
        == 404
    )


def test_reject_asks_for_a_reason(client_for, alice, bob, readonly):
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="logs"
    )
    client = client_for(bob)
    listing = client.get(reverse("web:approvals")).content.decode()
    url = reverse("web:request-reject", args=[request.pk])
    assert (
        f'form="reject-{request.pk}"' in listing
        and f'id="reject-{request.pk}" method="get"' in listing
    )
    html = client.get(url).content.decode()
    assert "Reject alice&#x27;s request for ReadOnly?" in html
    assert "Reason (the requester sees it)" in html and f'name="r{request.pk}-comment"' in html
    assert AccessRequest.objects.get().status == RequestStatus.PENDING
    client.post(url, {f"r{request.pk}-comment": "not needed"})
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED
    assert request.decisions.get().comment == "not needed"
    # Asking again about a decided request goes back to the list, saying why.
    response = client.get(url, follow=True)
    assert "not waiting for your decision" in response.content.decode()


def test_cancel_and_give_up_ask_first(client_for, alice, readonly, limited, grant):
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    membership = grant(alice, limited, expires_at=timezone.now() + timedelta(hours=1))
    client = client_for(alice)
    assert f'<form method="get" action="{reverse("web:request-cancel", args=[request.pk])}">' in (
        client.get(reverse("web:my-requests")).content.decode()
    )
    html = client.get(reverse("web:request-cancel", args=[request.pk])).content.decode()
    assert "Cancel your request for ReadOnly?" in html and "Cancel request</button>" in html
    html = client.get(reverse("web:my-access-revoke", args=[membership.pk])).content.decode()
    assert "Give up your access to Developers?" in html and "Give up access</button>" in html
    request.refresh_from_db()
    membership.refresh_from_db()
    assert request.status == RequestStatus.PENDING and membership.ended_at is None


def test_deactivate_asks_first(client_for, alice, dave):
    client = client_for(dave)
    url = reverse("web:manage-user-deactivate", args=[alice.pk])
    assert (
        f'<form method="get" action="{url}">'
        in client.get(reverse("web:manage-users")).content.decode()
    )
    html = client.get(url).content.decode()
    assert "Deactivate alice?" in html and "Deactivate user</button>" in html
    assert User.objects.get(pk=alice.pk).is_active
    # Not for oneself, nor for a non-admin.
    assert client.get(reverse("web:manage-user-deactivate", args=[dave.pk])).status_code == 302
    assert client_for(alice).get(url).status_code == 403


def test_review_revoke_asks_first(client_for, alice, bob, carol, readonly, grant, in_a_week):
    from accessgroups.reviews.services import access_review_open

    membership = grant(alice, readonly)
    review = access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)
    item = review.items.get()
    client = client_for(bob)
    detail = client.get(reverse("web:review-detail", args=[review.pk])).content.decode()
    assert f'form="revoke-{item.pk}"' in detail
    html = client.get(reverse("web:review-item-revoke", args=[item.pk])).content.decode()
    assert (
        "Revoke alice&#x27;s access to ReadOnly?" in html and f'name="i{item.pk}-comment"' in html
    )
    membership.refresh_from_db()
    assert membership.ended_at is None
    assert (
        client_for(alice).get(reverse("web:review-item-revoke", args=[item.pk])).status_code == 403
    )


def test_every_page_loads_the_submit_guard(client_for, alice):
    html = client_for(alice).get(reverse("web:catalogue")).content.decode()
    assert 'src="/static/js/forms.js"' in html
    assert Membership.objects.count() == 0


def test_token_revoke_asks_first(client_for, alice, dave, token_for):
    from accessgroups.models import ApiToken

    token_for(alice)
    token = ApiToken.objects.get(user=alice)
    for client, name in (
        (client_for(alice), "web:api-token-revoke"),
        (client_for(dave), "web:manage-api-token-revoke"),
    ):
        html = client.get(reverse(name, args=[token.pk])).content.decode()
        assert (
            f"Revoke the token {token.name} ({token.prefix}…)?" in html
            and "Revoke token</button>" in html
        )
    token.refresh_from_db()
    assert token.revoked_at is None
    assert (
        client_for(alice).get(reverse("web:manage-api-token-revoke", args=[token.pk])).status_code
        == 403
    )
