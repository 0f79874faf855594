"""Admins are told, once, about access ended long ago that Identity Center still grants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import F
from django.utils import timezone

from accessgroups.access.services import membership_grant, membership_revoke
from accessgroups.mail.services import removal_alerts_send
from accessgroups.models import Membership, ProvisioningStatus
from tests.mail.helpers import html_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def revoked(alice, dave, readonly, make_user):
    make_user("ops", is_portal_admin=True)
    membership = membership_grant(user=alice, access_group=readonly, granted_by=dave, justification="x")
    Membership.objects.filter(pk=membership.pk).update(provisioning_status=ProvisioningStatus.IN_SYNC)
    membership_revoke(membership=membership, revoked_by=dave)
    Membership.objects.filter(pk=membership.pk).update(
        last_error="<script>x</script> You may not call identitystore:DeleteGroupMembership."
    )
    membership.refresh_from_db()
    mail.outbox.clear()
    return membership


def test_nothing_before_the_alert_delay(revoked, settings):
    assert removal_alerts_send(now=revoked.ended_at + timedelta(minutes=settings.REMOVAL_ALERT_MINUTES - 1)) == 0
    assert mail.outbox == []


def test_each_admin_is_mailed_once_per_removal(revoked, settings, portal_url):
    later = revoked.ended_at + timedelta(minutes=settings.REMOVAL_ALERT_MINUTES + 1)

    assert removal_alerts_send(now=later) == 2

    assert sorted(m.to[0] for m in mail.outbox) == ["dave@example.com", "ops@example.com"]
    message = mail.outbox[0]
    assert "Access not yet removed from AWS: 1 removal pending" in message.subject
    assert "alice in ReadOnly: revoked" in message.body
    assert "You may not call identitystore:DeleteGroupMembership" in message.body
    assert "/manage/provisioning/" in message.body
    html = html_of(message)
    assert "&lt;script&gt;" in html and "<script>x" not in html
    assert "because you are an admin" in html
    assert Membership.objects.get(pk=revoked.pk).removal_alerted_at == later

    mail.outbox.clear()
    assert removal_alerts_send(now=later + timedelta(hours=1)) == 0
    assert mail.outbox == []


def test_a_removal_confirmed_in_time_is_never_mailed(revoked, settings):
    Membership.objects.filter(pk=revoked.pk).update(
        provisioning_status=ProvisioningStatus.IN_SYNC, synced_generation=F("generation")
    )
    assert removal_alerts_send(now=timezone.now() + timedelta(days=1)) == 0
