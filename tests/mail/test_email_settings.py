"""EMAIL_URL is read into Django's EMAIL_* settings."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import email_from_url


def test_smtp_with_starttls_and_quoted_credentials():
    assert email_from_url("smtp://mailer%40example.com:p%40ss@mail.example.com:587?tls=1") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "mailer@example.com",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_SSL": False,
        "EMAIL_USE_TLS": True,
    }


def test_smtps_defaults_to_port_465_and_implicit_tls():
    settings = email_from_url("smtps://relay.example.com")
    assert (settings["EMAIL_PORT"], settings["EMAIL_USE_SSL"], settings["EMAIL_USE_TLS"]) == (
        465,
        True,
        False,
    )


def test_console():
    assert email_from_url("console://") == {
        "EMAIL_BACKEND": "portal.console_mail.EmailBackend"
    }


def test_an_unknown_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        email_from_url("http://mail.example.com")
