"""Asking again for access one holds with no expiry changes nothing, so it is not offered
and is refused with the reason (an extension of expiring access still is offered)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accessgroups.models import AccessRequest

pytestmark = pytest.mark.django_db


def _card(html: str, name: str) -> str:
    start = html.index(f">{name}</h2>")
    return html[start : html.index("</li>", start)]


def test_the_catalogue_offers_no_request_for_access_without_expiry(
    client_for, alice, readonly, limited, grant
):
    grant(alice, readonly)
    grant(alice, limited, expires_at=timezone.now() + timedelta(hours=2))
    html = client_for(alice).get(reverse("web:catalogue")).content.decode()
    assert "Request access" not in _card(html, "ReadOnly")
    assert "Nothing to request: your access does not expire." in _card(html, "ReadOnly")
    assert "Request access" in _card(html, "Developers")  # an extension


def test_the_form_refuses_with_the_reason(client_for, alice, readonly, grant):
    grant(alice, readonly)
    client = client_for(alice)
    url = reverse("web:request-create", args=[readonly.pk])
    response = client.get(url, follow=True)
    assert "You already have ReadOnly, with no expiry" in response.content.decode()
    response = client.post(url, {"justification": "again", "duration_hours": "4"})
    assert response.status_code == 400
    assert "there is nothing to ask for" in response.content.decode()
    assert not AccessRequest.objects.exists()
