"""Access becomes active, expires or is revoked: the member is told, unless they acted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_activated,
    membership_revoke,
    memberships_expire,
)
from accessgroups.models import Membership
from tests.mail.helpers import html_of

HOSTILE = "<img src=x onerror=alert(1)> & co"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt; &amp; co"


@pytest.fixture
def approved(alice, bob, readonly) -> Membership:
    request = access_request_create(
        requester=alice, access_group=readonly, justification="on call", duration_hours=8
    )
    return access_request_approve(access_request=request, approver=bob).membership


@pytest.fixture
def active(approved) -> Membership:
    membership_activated(membership_id=approved.pk)
    approved.refresh_from_db()
    return approved


def test_activation_mails_the_member_once(committed, portal_url, approved):
    with committed():
        membership_activated(membership_id=approved.pk)
    with committed():
        membership_activated(membership_id=approved.pk)  # provisioning ran again: no second mail

    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    message = mail.outbox[0]
    assert message.subject == "Active: your access to ReadOnly"
    approved.refresh_from_db()
    assert approved.expires_at.strftime("%Y-%m-%d %H:%M UTC") in message.body
    assert f'href="{portal_url}/my/access/"' in html_of(message)


def test_expiry_mails_the_member(committed, active):
    past = timezone.now() - timedelta(hours=9)
    Membership.objects.filter(pk=active.pk).update(
        granted_at=past, activated_at=past, expires_at=past + timedelta(hours=8)
    )
    with committed():
        assert memberships_expire(now=timezone.now()) == 1

    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert mail.outbox[0].subject == "Expired: your access to ReadOnly"


def test_revocation_mails_the_member_with_who_and_why(committed, active, bob):
    with committed():
        membership_revoke(membership=active, revoked_by=bob, comment=HOSTILE)

    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    message = mail.outbox[0]
    assert message.subject == "Revoked: your access to ReadOnly"
    assert "revoked by Bob Example" in message.body and HOSTILE in message.body
    html = html_of(message)
    assert ESCAPED in html and "<img" not in html


def test_giving_up_ones_own_access_mails_nobody(committed, active, alice):
    with committed():
        membership_revoke(membership=active, revoked_by=alice)
    assert mail.outbox == []


def test_an_inactive_member_gets_nothing(committed, active, alice, bob):
    alice.is_active = False
    alice.save()
    with committed():
        membership_revoke(membership=active, revoked_by=bob)
    assert mail.outbox == []


def test_a_member_without_email_gets_nothing(committed, active, alice, bob):
    alice.email = ""
    alice.save()
    with committed():
        membership_revoke(membership=active, revoked_by=bob)
    assert mail.outbox == []
