"""SAML: a provider configured from the environment answers its metadata and login URLs.

The end-to-end SSO proof is the OIDC test; this checks the SAML wiring (python3-saml on
Debian's xmlsec1) with an IdP given by entity id, sign-in URL and certificate.
"""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.urls import reverse

from portal.sso import SSOConfigurationError, saml_apps

IDP_SSO_URL = "https://idp.example.com/saml/sso"
# python3-saml reads the Host header, which browsers always send and the test client does not.
HOST = "portal.example.com"  # python3-saml refuses single-label hosts


def self_signed_certificate() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def saml_idp(settings):
    environ = {
        "SAML_PROVIDERS": "identity-center",
        "SAML_IDENTITY_CENTER_NAME": "AWS IAM Identity Center",
        "SAML_IDENTITY_CENTER_ENTITY_ID": "https://idp.example.com/saml/metadata",
        "SAML_IDENTITY_CENTER_SSO_URL": IDP_SSO_URL,
        "SAML_IDENTITY_CENTER_X509CERT": self_signed_certificate(),
    }
    settings.SOCIALACCOUNT_PROVIDERS = {"saml": {"APPS": saml_apps(environ)}}
    settings.ALLOWED_HOSTS = [HOST, "testserver"]


def test_metadata_names_the_portal_as_service_provider(client, saml_idp, db):
    response = client.get(reverse("saml_metadata", args=["identity-center"]), HTTP_HOST=HOST)

    assert response.status_code == 200
    xml = response.content.decode()
    assert "EntityDescriptor" in xml
    assert f"http://{HOST}/accounts/saml/identity-center/acs/" in xml


def test_login_redirects_to_the_identity_provider_with_a_request(client, saml_idp, db):
    response = client.post(reverse("saml_login", args=["identity-center"]), HTTP_HOST=HOST)

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == IDP_SSO_URL
    assert "SAMLRequest" in parse_qs(target.query)


def test_login_page_offers_the_saml_provider(client, saml_idp, db):
    page = client.get(reverse("account_login")).content.decode()

    assert "Sign in with AWS IAM Identity Center" in page


def test_a_provider_named_without_its_variables_stops_the_start():
    with pytest.raises(SSOConfigurationError, match="SAML_OKTA_ENTITY_ID"):
        saml_apps({"SAML_PROVIDERS": "okta"})
    with pytest.raises(SSOConfigurationError, match="lower-case"):
        saml_apps({"SAML_PROVIDERS": "Okta Prod"})
