"""Refusals and errors in the portal's own layout, saying what happened and what to do."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_a_refusal_says_why_inside_the_layout(client_for, alice):
    response = client_for(alice).get(reverse("web:who-has-access"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "You cannot open this page" in page
    assert "Only auditors and admins can open the reports." in page
    # The person keeps their navigation: the layout, not a bare error.
    assert 'aria-label="Main"' in page and ">My requests</a>" in page


def test_an_unknown_address_is_a_page_not_found(client_for, alice):
    response = client_for(alice).get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page and 'aria-label="Main"' in page


def test_an_expired_form_says_nothing_changed(alice, readonly):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(
        reverse("web:request-create", args=[readonly.pk]), {"justification": "x"}
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page and "Nothing was changed." in page
    assert readonly.requests.count() == 0


def test_a_server_error_page_needs_nothing_but_itself(rf):
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and "/static/css/portal.css" in page
