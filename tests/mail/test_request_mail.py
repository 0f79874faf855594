"""A request arrives (mail to those who can decide it) and is decided (mail to the requester)."""

from __future__ import annotations

import pytest
from django.core import mail

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    access_request_reject,
)
from tests.mail.helpers import html_of

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_a_new_request_mails_each_approver_once_with_the_justification(
    committed, portal_url, alice, bob, erin, readonly
):
    readonly.approvers.add(erin)
    with committed():
        access_request_create(
            requester=alice, access_group=readonly, justification=HOSTILE, duration_hours=4
        )

    assert recipients() == ["bob@example.com", "erin@example.com"]
    assert all(len(message.to) == 1 for message in mail.outbox)  # nobody sees who else was told
    message = mail.outbox[0]
    assert message.subject == "Access request: alice asks for ReadOnly"
    assert HOSTILE in message.body and "4 hours" in message.body
    assert f"{portal_url}/approvals/" in message.body
    html = html_of(message)
    assert ESCAPED in html and "<script>" not in html
    assert f'href="{portal_url}/approvals/"' in html
    assert "sandbox (" in html  # the accounts it grants


def test_without_approvers_the_admins_are_told(
    committed, make_user, make_group, alice, carol, dave
):
    make_user("frank", is_superuser=True)
    make_user("gina", is_portal_admin=True, is_active=False)
    make_user("hank", is_portal_admin=True, email="")
    group = make_group("Orphans")
    with committed():
        access_request_create(requester=alice, access_group=group, justification="why")

    # Auditors never decide; an inactive admin and one without email get nothing.
    assert recipients() == ["dave@example.com", "frank@example.com"]


def test_an_approver_is_not_told_of_their_own_request(committed, bob, erin, dave, readonly):
    readonly.approvers.add(erin)
    with committed():
        access_request_create(requester=bob, access_group=readonly, justification="mine")
    assert recipients() == ["erin@example.com"]


def test_the_only_approvers_own_request_goes_to_the_admins(committed, bob, dave, readonly):
    with committed():
        access_request_create(requester=bob, access_group=readonly, justification="mine")
    assert recipients() == ["dave@example.com"]


def test_inactive_approvers_get_nothing(committed, alice, bob, erin, readonly):
    readonly.approvers.add(erin)
    erin.is_active = False
    erin.save()
    with committed():
        access_request_create(requester=alice, access_group=readonly, justification="why")
    assert recipients() == ["bob@example.com"]


@pytest.fixture
def pending(alice, readonly):
    return access_request_create(
        requester=alice, access_group=readonly, justification="incident 42"
    )


def test_approval_mails_the_requester_with_the_comment(committed, portal_url, pending, bob):
    with committed():
        access_request_approve(access_request=pending, approver=bob, comment=HOSTILE)

    assert recipients() == ["alice@example.com"]  # not bob, who acted
    message = mail.outbox[0]
    assert message.subject == "Approved: your request for ReadOnly"
    assert HOSTILE in message.body and "Bob Example approved" in message.body
    html = html_of(message)
    assert ESCAPED in html and "<script>" not in html
    assert f'href="{portal_url}/my/requests/"' in html


def test_rejection_mails_the_requester_with_the_comment(committed, pending, bob):
    with committed():
        access_request_reject(access_request=pending, approver=bob, comment=HOSTILE)

    assert recipients() == ["alice@example.com"]
    message = mail.outbox[0]
    assert message.subject == "Rejected: your request for ReadOnly"
    assert HOSTILE in message.body
    assert ESCAPED in html_of(message)


def test_a_requester_deactivated_meanwhile_is_not_told(committed, pending, alice, bob):
    alice.is_active = False
    alice.save()
    with committed():
        access_request_reject(access_request=pending, approver=bob, comment="no")
    assert mail.outbox == []


def test_a_refused_decision_mails_nobody(committed, pending, alice):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied), committed():
        access_request_approve(access_request=pending, approver=alice)
    assert mail.outbox == []
