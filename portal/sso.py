"""Single sign-on providers read from the environment, for allauth's SOCIALACCOUNT_PROVIDERS.

No secret lives in code: each provider is named in a list variable and described by
variables of its own. This module imports nothing from Django, so settings can use it.

    OIDC_PROVIDERS=okta,entra
    OIDC_OKTA_SERVER_URL=https://example.okta.com     (issuer; /.well-known/... is appended)
    OIDC_OKTA_CLIENT_ID=...   OIDC_OKTA_CLIENT_SECRET=...   OIDC_OKTA_NAME=Okta

    SAML_PROVIDERS=identity-center
    SAML_IDENTITY_CENTER_METADATA_URL=https://portal.sso.../saml/metadata/...
    SAML_IDENTITY_CENTER_ENTITY_ID=https://portal.sso.../saml/assertion/...
    SAML_IDENTITY_CENTER_NAME=AWS IAM Identity Center
    SAML_IDENTITY_CENTER_EMAIL_VERIFIED=true   (trust this IdP's email addresses)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TRUE = ("1", "true", "yes", "on")


class SSOConfigurationError(ValueError):
    """A provider is named but its variables are missing or wrong."""


def _prefix(kind: str, provider_id: str) -> str:
    return f"{kind}_{re.sub(r'[^A-Za-z0-9]', '_', provider_id).upper()}_"


def _ids(environ: Mapping[str, str], name: str) -> list[str]:
    ids = [item.strip() for item in environ.get(name, "").split(",") if item.strip()]
    for provider_id in ids:
        # The id is part of callback URLs (/accounts/oidc/<id>/login/callback/).
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", provider_id):
            raise SSOConfigurationError(
                f"{name}: provider id {provider_id!r} must be lower-case letters, digits and '-'."
            )
    return ids


def _required(environ: Mapping[str, str], variable: str) -> str:
    value = environ.get(variable, "").strip()
    if not value:
        raise SSOConfigurationError(f"{variable} is not set.")
    return value


def oidc_apps(environ: Mapping[str, str]) -> list[dict]:
    """allauth openid_connect APPS entries, one per id in OIDC_PROVIDERS."""
    apps = []
    for provider_id in _ids(environ, "OIDC_PROVIDERS"):
        prefix = _prefix("OIDC", provider_id)
        apps.append(
            {
                "provider_id": provider_id,
                "name": environ.get(prefix + "NAME", "").strip() or provider_id,
                "client_id": _required(environ, prefix + "CLIENT_ID"),
                "secret": _required(environ, prefix + "CLIENT_SECRET"),
                "settings": {
                    "server_url": _required(environ, prefix + "SERVER_URL"),
                    # Verified email is how an SSO identity finds its portal user.
                    "email_authentication": True,
                    # PKCE costs nothing and protects the code in transit.
                    "oauth_pkce_enabled": environ.get(prefix + "PKCE", "true").lower() in _TRUE,
                },
            }
        )
    return apps


def saml_apps(environ: Mapping[str, str]) -> list[dict]:
    """allauth saml APPS entries, one per id in SAML_PROVIDERS."""
    apps = []
    for provider_id in _ids(environ, "SAML_PROVIDERS"):
        prefix = _prefix("SAML", provider_id)
        idp: dict[str, str] = {"entity_id": _required(environ, prefix + "ENTITY_ID")}
        if environ.get(prefix + "METADATA_URL", "").strip():
            idp["metadata_url"] = environ[prefix + "METADATA_URL"].strip()
        else:
            # Without metadata, the IdP's sign-in URL and signing certificate are given.
            idp["sso_url"] = _required(environ, prefix + "SSO_URL")
            idp["x509cert"] = _required(environ, prefix + "X509CERT")
        app_settings: dict = {
            "idp": idp,
            "email_authentication": True,
            # SAML IdPs rarely send an "email verified" attribute. An IdP the company runs
            # (Identity Center, Okta, Entra ID) is trusted for its addresses only when an
            # admin says so; otherwise a first sign-in cannot match an existing user.
            "verified_email": environ.get(prefix + "EMAIL_VERIFIED", "").lower() in _TRUE,
            # Without a "uid" attribute allauth identifies the person by the NameID.
            "attribute_mapping": {
                "email": [
                    "email",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                ],
                "email_verified": ["email_verified"],
                "username": ["username", "preferred_username"],
                "first_name": [
                    "given_name",
                    "firstName",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                ],
                "last_name": [
                    "family_name",
                    "lastName",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                ],
            },
        }
        if environ.get(prefix + "SP_ENTITY_ID", "").strip():
            app_settings["sp"] = {"entity_id": environ[prefix + "SP_ENTITY_ID"].strip()}
        apps.append(
            {
                "provider_id": provider_id,
                "name": environ.get(prefix + "NAME", "").strip() or provider_id,
                # allauth uses client_id as the "organization slug" in SAML URLs.
                "client_id": provider_id,
                "settings": app_settings,
            }
        )
    return apps
