"""Security keys and passkeys (WebAuthn) in a real browser, with Chromium's virtual authenticator.

Chromium's DevTools protocol plugs a software authenticator into the page (``WebAuthn``
domain): the portal's pages, allauth's JavaScript and the browser's own WebAuthn code all run
for real; only the touch of a physical key is simulated. The live server is reached at
http://localhost, a secure context whose host is a valid relying-party id, which the server
accepts as an origin without ``MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN``: these tests keep that
setting off, so the origin check runs as in production.
"""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


class VirtualAuthenticator:
    """A software authenticator plugged into one page through the DevTools protocol."""

    def __init__(self, page) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        self.id: str | None = None

    def plug_in(self) -> VirtualAuthenticator:
        # A platform authenticator with a PIN or biometrics that the person always passes.
        options = {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        self.id = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})[
            "authenticatorId"
        ]
        return self

    def unplug(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})
        self.id = None

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})[
            "credentials"
        ]

    def add_credential(self, credential: dict) -> None:
        self.cdp.send(
            "WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential}
        )


@pytest.fixture
def authenticator(page, live_server, settings) -> VirtualAuthenticator:
    # Browsers refuse IP addresses as relying-party ids ("This is an invalid domain"):
    # the page must be on a host name, and http://localhost is a secure context.
    assert urlsplit(live_server.url).hostname == "localhost", live_server.url
    # The server checks the origin in the browser's signed data, as in production.
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False
    return VirtualAuthenticator(page).plug_in()


@pytest.fixture
def mfa_required(settings):
    settings.REQUIRE_MFA_FOR_APPROVERS = True


def unlabelled_fields(page) -> list[str]:
    """Names of the visible form fields on the page that have no label."""
    return page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && e.labels.length === 0)
            .map(e => e.name || e.id)"""
    )


def add_security_key(page, name: str, *, passwordless: bool = False) -> None:
    """From the two-factor page: add a key, confirming the password first, as a person does."""
    page.get_by_role("heading", name="Security keys").wait_for()
    page.get_by_role("link", name="Add").click()
    # Adding a second factor asks for the password again.
    expect(page.get_by_text("Enter your password")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Add a security key")).to_be_visible()
    assert unlabelled_fields(page) == []
    page.get_by_label("Name").fill(name)
    if passwordless:
        page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add").click()
    # The first key comes with recovery codes, which the person is shown next.
    page.wait_for_url("**/2fa/recovery-codes/")
    expect(page.get_by_text("Security key added.")).to_be_visible()
    assert unlabelled_fields(page) == []


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"**{reverse('account_login')}")


def signed_in_as(page, display_name: str) -> None:
    expect(page.locator(".site-header .who")).to_have_text(display_name)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def webauthn_keys(user) -> list[Authenticator]:
    return list(Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN))


def test_an_approver_adds_a_security_key_and_it_satisfies_the_mfa_rule(
    page, login, bob, readonly, authenticator, mfa_required, live_server
):
    origins: set[str] = set()
    page.on("request", lambda request: origins.add(urlsplit(request.url).netloc))
    login(page, bob, via_form=True)
    # An approver without a second factor is sent to the two-factor page first.
    assert page.url == live_server.url + reverse("mfa_index")
    page.get_by_role("link", name="Approvals").click()
    assert page.url == live_server.url + reverse("mfa_index")

    add_security_key(page, "Bob's laptop")

    page.get_by_role("link", name="Two-factor authentication").click()
    expect(page.get_by_text("You have added 1 security key.")).to_be_visible()
    page.get_by_role("link", name="Manage").click()
    expect(page.get_by_role("heading", name="Security keys")).to_be_visible()
    expect(page.get_by_role("cell", name="Bob's laptop")).to_be_visible()
    [key] = webauthn_keys(bob)
    assert key.wrap().name == "Bob's laptop"
    # The browser holds the private key; the portal stored the public one for this site.
    [credential] = authenticator.credentials()
    assert credential["rpId"] == "localhost"
    assert key.wrap().authenticator_data.credential_data.credential_id == base64.b64decode(
        credential["credentialId"]
    )
    # A security key alone satisfies the rule for approvers (no authenticator app).
    assert not Authenticator.objects.filter(user=bob, type=Authenticator.Type.TOTP).exists()
    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
    assert page.url == live_server.url + reverse("web:approvals")
    # Everything, allauth's WebAuthn scripts included, came from the portal itself.
    assert origins == {urlsplit(live_server.url).netloc}


def test_signing_in_asks_for_the_key_after_the_password(
    page, login, bob, readonly, authenticator, mfa_required, live_server
):
    login(page, bob, via_form=True)
    add_security_key(page, "Bob's key")
    sign_out(page)

    login(page, bob, via_form=True)

    # The password alone does not sign in: the second step asks for the key.
    assert page.url == live_server.url + reverse("mfa_authenticate")
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert unlabelled_fields(page) == []
    page.get_by_role("button", name="Use a security key").click()
    page.wait_for_url(live_server.url + "/")
    signed_in_as(page, "Bob Example")
    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
    [key] = webauthn_keys(bob)
    assert key.last_used_at is not None


def test_a_key_not_registered_for_the_user_does_not_sign_in(
    page, login, bob, readonly, authenticator, mfa_required, live_server
):
    login(page, bob, via_form=True)
    add_security_key(page, "Bob's key")
    sign_out(page)
    # Bob's key is gone; another authenticator, which never registered here, is plugged in.
    authenticator.unplug()
    authenticator.plug_in()

    login(page, bob, via_form=True)
    page.get_by_role("button", name="Use a security key").click()

    # The browser finds no credential of bob's and says so; nothing reaches the server.
    expect(page.get_by_role("alert")).to_contain_text("No security key or passkey answered")
    assert page.url == live_server.url + reverse("mfa_authenticate")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    # Opening the portal leads back to the pending second step, not into the portal.
    page.goto("/")
    assert page.url == live_server.url + reverse("mfa_authenticate")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    [key] = webauthn_keys(bob)
    assert key.last_used_at is None


def test_an_assertion_signed_with_another_private_key_is_refused(
    page, login, bob, readonly, authenticator, mfa_required, live_server
):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    login(page, bob, via_form=True)
    add_security_key(page, "Bob's key")
    sign_out(page)
    [genuine] = authenticator.credentials()
    # A forged key: bob's credential id, so the browser offers it, but a private key of its own.
    authenticator.unplug()
    authenticator.plug_in()
    forged_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    authenticator.add_credential(
        {**genuine, "privateKey": base64.b64encode(forged_key).decode(), "signCount": 0}
    )

    login(page, bob, via_form=True)
    page.get_by_role("button", name="Use a security key").click()

    # The browser signs and posts; the server checks the signature against bob's public key.
    errors = page.locator(".errorlist")
    expect(errors).to_contain_text("This security key or passkey was not accepted.")
    expect(errors).not_to_contain_text("Hidden field")
    assert page.url == live_server.url + reverse("mfa_authenticate")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    [key] = webauthn_keys(bob)
    assert key.last_used_at is None

    # The same page still works with the genuine key: the refusal was the signature's.
    authenticator.unplug()
    authenticator.plug_in()
    authenticator.add_credential(genuine)
    page.get_by_role("button", name="Use a security key").click()
    page.wait_for_url(live_server.url + "/")
    signed_in_as(page, "Bob Example")


def test_a_passkey_signs_in_without_the_password(
    page, login, bob, readonly, authenticator, mfa_required, live_server
):
    login(page, bob, via_form=True)
    add_security_key(page, "Bob's passkey", passwordless=True)
    page.get_by_role("link", name="Two-factor authentication").click()
    page.get_by_role("link", name="Manage").click()
    expect(page.get_by_role("cell", name="Bob's passkey")).to_contain_text("Passkey")
    [credential] = authenticator.credentials()
    assert credential["isResidentCredential"] is True
    sign_out(page)

    page.get_by_role("button", name="Sign in with a passkey").click()

    page.wait_for_url(live_server.url + "/")
    signed_in_as(page, "Bob Example")
    [key] = webauthn_keys(bob)
    assert key.last_used_at is not None
