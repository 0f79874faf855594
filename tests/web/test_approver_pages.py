"""Approval pages through Django's test client: who may open them, deciding with a comment,
never one's own request, past decisions and revoking access, each list a page of its own."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accessgroups.access import services
from accessgroups.models import AccessRequest, Decision, Membership, RequestStatus

pytestmark = pytest.mark.django_db


def test_users_who_approve_nothing_get_403(client_for, alice, carol, readonly):
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    for user in (alice, carol):  # a requester, an auditor
        client = client_for(user)
        for page in ("web:approvals", "web:approvals-access", "web:approvals-decisions"):
            assert client.get(reverse(page)).status_code == 403
        assert client.post(reverse("web:request-approve", args=[request.pk])).status_code == 403
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING and not Decision.objects.exists()
    assert "Approvals" not in client_for(alice).get(reverse("web:catalogue")).content.decode()


def test_queue_shows_what_the_approver_decides(
    client_for, alice, bob, erin, dave, readonly, make_group
):
    other = make_group("Billing", approvers=[erin])
    mine = services.access_request_create(
        requester=alice, access_group=readonly, justification="read the logs"
    )
    services.access_request_create(requester=alice, access_group=other, justification="invoices")
    page = client_for(bob).get(reverse("web:approvals")).content.decode()
    assert "alice asks for ReadOnly" in page and "read the logs" in page
    assert "sandbox (100000000001)" in page and "no expiry" in page
    # What approving grants, not only where.
    assert "ReadOnlyAccess</span>" in page and "1 hour per sign-in" in page
    assert "Billing" not in page  # erin's group
    assert page.count("Approve</button>") == 1 and f'for="id_r{mine.pk}-comment">Comment' in page
    # An admin decides for every group.
    assert (
        client_for(dave).get(reverse("web:approvals")).content.decode().count("Approve</button>")
        == 2
    )


def test_approve_with_a_comment(client_for, alice, bob, readonly):
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    client = client_for(bob)
    response = client.post(
        reverse("web:request-approve", args=[request.pk]),
        {
            f"r{request.pk}-comment": "fine for the audit",
            f"r{request.pk}-access_group_version": readonly.version,
        },
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    decision = request.decisions.get()
    assert (decision.decided_by, decision.comment, decision.outcome) == (
        bob,
        "fine for the audit",
        "approve",
    )
    page = client.get(reverse("web:approvals")).content.decode()
    assert "Nothing is waiting for you." in page
    assert "fine for the audit" not in page  # past decisions have a page of their own
    page = client.get(reverse("web:approvals-decisions")).content.decode()
    assert "Your past decisions (1)" in page and "fine for the audit" in page
    # Deciding again: a message, nothing changes.
    response = client.post(reverse("web:request-reject", args=[request.pk]), follow=True)
    assert "cannot be decided again" in response.content.decode()
    assert Decision.objects.count() == 1


def test_reject(client_for, alice, bob, readonly):
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    client_for(bob).post(
        reverse("web:request-reject", args=[request.pk]), {f"r{request.pk}-comment": "no"}
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED and not Membership.objects.exists()


def test_a_too_long_comment_is_shown_by_the_field_and_nothing_is_decided(
    client_for, alice, bob, readonly
):
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    response = client_for(bob).post(
        reverse("web:request-approve", args=[request.pk]), {f"r{request.pk}-comment": "x" * 4001}
    )
    assert response.status_code == 400
    page = response.content.decode()
    label = page.index(f'for="id_r{request.pk}-comment"')
    assert (
        label < page.index("at most 4000 characters") < page.index(f'id="id_r{request.pk}-comment"')
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING and not Decision.objects.exists()


def test_an_approver_never_approves_their_own_request(client_for, bob, dave, readonly):
    readonly.approvers.add(dave)
    own = services.access_request_create(
        requester=bob, access_group=readonly, justification="me too"
    )
    client = client_for(bob)
    page = client.get(reverse("web:approvals")).content.decode()
    assert "bob asks for ReadOnly" not in page and "Approve</button>" not in page
    for name in ("web:request-approve", "web:request-reject"):
        response = client.post(
            reverse(name, args=[own.pk]),
            {f"r{own.pk}-comment": "self", f"r{own.pk}-access_group_version": readonly.version},
        )
        assert response.status_code == 403
    own.refresh_from_db()
    assert own.status == RequestStatus.PENDING and not Decision.objects.exists()
    # dave (an approver of the group and an admin) still sees it.
    assert (
        "bob asks for ReadOnly" in client_for(dave).get(reverse("web:approvals")).content.decode()
    )


def test_an_approver_of_another_group_cannot_decide(client_for, alice, erin, readonly, make_group):
    make_group("Billing", approvers=[erin])
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    response = client_for(erin).post(reverse("web:request-approve", args=[request.pk]))
    assert response.status_code == 404  # not even visible to erin
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING


def _active(requester, group, approver) -> Membership:
    request = services.access_request_create(
        requester=requester, access_group=group, justification="x"
    )
    services.access_request_approve(access_request=request, approver=approver)
    request.refresh_from_db()
    services.membership_activated(membership_id=request.membership_id)
    return request.membership


def test_revoke_active_access(client_for, alice, bob, erin, readonly, make_group):
    billing = make_group("Billing", approvers=[erin])
    membership = _active(alice, readonly, bob)
    theirs = _active(alice, billing, erin)
    client = client_for(bob)
    page = client.get(reverse("web:approvals-access")).content.decode()
    assert "alice in ReadOnly" in page and "alice in Billing" not in page
    assert "alice in ReadOnly" not in client.get(reverse("web:approvals")).content.decode()
    # Not bob's group: refused, nothing ends.
    assert client.post(reverse("web:approvals-revoke", args=[theirs.pk])).status_code == 403
    assert Membership.objects.get(pk=theirs.pk).ended_at is None
    assert client.post(reverse("web:approvals-revoke", args=[membership.pk])).status_code == 302
    membership.refresh_from_db()
    assert membership.ended_by == bob and membership.end_reason == "revoked"
    assert AccessRequest.objects.get(membership=membership).status == RequestStatus.REVOKED
    # Twice: a message, not an error.
    response = client.post(reverse("web:approvals-revoke", args=[membership.pk]), follow=True)
    assert response.status_code == 200 and "already ended" in response.content.decode()
    assert response.redirect_chain == [(reverse("web:approvals-access"), 302)]


def test_each_list_has_its_page_and_the_pages_link_each_other(
    client_for, alice, bob, readonly, make_user
):
    pages = {
        "web:approvals": "Waiting for your decision",
        "web:approvals-access": "Active access you can revoke",
        "web:approvals-decisions": "Your past decisions",
    }
    client = client_for(bob)
    for name, label in pages.items():
        html = client.get(reverse(name)).content.decode()
        tabs = html[html.index('<nav class="subnav"') :]
        tabs = tabs[: tabs.index("</nav>")]
        # Every page links all three; the one shown is marked current, the others are not.
        for other, other_label in pages.items():
            current = ' aria-current="page"' if other == name else ""
            assert f'<a href="{reverse(other)}"{current}>{other_label}</a>' in tabs
        # The menu's Approvals item stays current on all three.
        assert '<a href="/approvals/" aria-current="page">Approvals</a>' in html


def test_access_and_decisions_pages_go_page_by_page(client_for, bob, readonly, make_user):
    people = [make_user(f"person{n:02d}") for n in range(25)]
    for person in people:
        membership = _active(person, readonly, bob)
        assert membership.is_active
    client = client_for(bob)
    first = client.get(reverse("web:approvals-access")).content.decode()
    second = client.get(reverse("web:approvals-access") + "?page=2").content.decode()
    assert "Active access you can revoke (25)" in first and "Page 1 of 2" in first
    assert "person00 in ReadOnly" in first and "person24 in ReadOnly" not in first
    assert "person24 in ReadOnly" in second and "person00 in ReadOnly" not in second
    decisions = client.get(reverse("web:approvals-decisions")).content.decode()
    assert "Your past decisions (25)" in decisions and 'href="?page=2"' in decisions


@pytest.mark.django_db
def test_a_queued_cards_ids_are_never_localized(client_for, alice, bob, readonly, settings):
    # With thousands separators on, an id of 12,345 must still name its fields as the form
    # reads them: r12345-comment, not r12,345-comment.
    settings.USE_THOUSAND_SEPARATOR = True
    request = AccessRequest.objects.create(
        pk=12345, requester=alice, access_group=readonly, justification="x"
    )
    page = client_for(bob).get(reverse("web:approvals")).content.decode()
    assert 'id="request-12345"' in page and 'name="r12345-comment"' in page
    assert 'name="r12345-access_group_version"' in page and "12,345" not in page
    assert reverse("web:request-approve", args=[request.pk]) in page


def test_a_cards_empty_comment_box_is_the_forms_own(client_for, alice, bob, readonly, limited):
    # The queue writes its empty boxes without a form per card: the same label and textarea
    # as CommentForm renders, which the approve and reject views read.
    from accessgroups.web.requester_forms import CommentForm

    requests = [
        services.access_request_create(
            requester=alice, access_group=group, justification="x", duration_hours=hours
        )
        for group, hours in ((readonly, None), (limited, 4))
    ]
    page = client_for(bob).get(reverse("web:approvals")).content.decode()
    for request in requests:
        field = CommentForm(prefix=f"r{request.pk}")["comment"]
        assert f'<label for="{field.id_for_label}">Comment</label>' in page
        assert str(field) in page
    # A refused comment comes back in its own form, with its error, on its own card only.
    response = client_for(bob).post(
        reverse("web:request-approve", args=[requests[0].pk]),
        {f"r{requests[0].pk}-comment": "y" * 4001, f"r{requests[0].pk}-access_group_version": 1},
    )
    page = response.content.decode()
    assert response.status_code == 400 and page.count("at most 4000 characters") == 1
    assert (
        page.count("y" * 4001) == 1
        and str(CommentForm(prefix=f"r{requests[1].pk}")["comment"]) in page
    )
