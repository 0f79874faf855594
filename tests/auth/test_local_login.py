"""Local accounts: sign in by username or email, no signup, sign out, password reset by email."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

PASSWORD = "correct horse battery staple"  # tests/conftest.py's make_user


def sign_in(client, login: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": login, "password": password})


def signed_in_as(client):
    from django.contrib.auth import get_user

    return get_user(client)


@pytest.mark.django_db
def test_login_page_uses_the_portal_layout_with_labelled_fields(client):
    response = client.get(reverse("account_login"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="site-header"' in html  # base.html, not allauth's bare layout
    assert re.search(r'<label for="id_login">Username or email</label>', html)
    assert re.search(r'<label for="id_password">Password</label>', html)
    assert "sign up" not in html.lower()


def test_login_url_is_allauth_and_pages_send_people_there(client, db):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/")


def test_login_with_username(client, alice):
    response = sign_in(client, "alice")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_as(client) == alice


def test_login_with_email_in_any_case(client, alice):
    response = sign_in(client, "ALICE@Example.com")

    assert response.status_code == 302
    assert signed_in_as(client) == alice


def test_wrong_password_is_refused_by_the_field(client, alice):
    response = sign_in(client, "alice", "not the password")

    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert not signed_in_as(client).is_authenticated


def test_inactive_user_cannot_sign_in(client, make_user):
    make_user("frank", is_active=False)

    sign_in(client, "frank")

    assert not signed_in_as(client).is_authenticated


def test_signup_is_closed(client, db):
    from accessgroups.models import User

    response = client.post(
        reverse("account_signup"),
        {
            "username": "mallory",
            "email": "mallory@example.com",
            "password1": "a long enough password 1",
            "password2": "a long enough password 1",
        },
    )

    assert response.status_code == 200
    assert "Sign Up Closed" in response.content.decode()
    assert not User.objects.filter(username="mallory").exists()


def test_sign_out_is_a_post_button_in_every_page_and_ends_the_session(client, alice):
    sign_in(client, "alice")
    page = client.get(reverse("web:catalogue")).content.decode()
    assert re.search(r'<form method="post" action="/accounts/logout/"', page)
    assert "Two-factor authentication" in page

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert not signed_in_as(client).is_authenticated
    assert client.get(reverse("web:catalogue")).status_code == 302


def test_password_reset_mail_link_sets_a_new_password(client, alice):
    response = client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", message.body).group(1)

    # allauth swaps the key in the URL for a session-held one and redirects.
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    response = client.post(
        form_url, {"password1": "a brand new passphrase 7", "password2": "a brand new passphrase 7"}
    )
    assert response.status_code == 302

    client.logout()
    sign_in(client, "alice", "a brand new passphrase 7")
    assert signed_in_as(client) == alice
    alice.refresh_from_db()
    assert not alice.check_password(PASSWORD)


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, alice):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert all("nobody@example.com" not in m.to for m in mail.outbox)
    assert not any("reset/key" in m.body for m in mail.outbox)


@pytest.mark.parametrize("path", ["/api-auth/login/", "/admin/login/"])
def test_the_password_only_login_pages_send_people_to_the_portal_sign_in(client, alice, path):
    # Django's own login would open a session on a password alone, past the second factor.
    response = client.post(
        f"{path}?next=/api/v1/", {"username": "alice", "password": PASSWORD, "next": "/api/v1/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fapi%2Fv1%2F"
    assert not signed_in_as(client).is_authenticated
    page = client.get(f"{path}?next=https://evil.example/")
    assert page["Location"] == "/accounts/login/"  # never an open redirect
