"""IDENTITY_SOURCE and IDENTITY_MATCH: read at start-up, refused when not understood."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import identity_source_settings
from tests.system.test_settings import start_settings


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("identity_center", "username")),
        ({"IDENTITY_MATCH": "username"}, ("identity_center", "username")),
        ({"IDENTITY_SOURCE": "external"}, ("external", "email")),
        ({"IDENTITY_SOURCE": " External "}, ("external", "email")),
        ({"IDENTITY_SOURCE": "external", "IDENTITY_MATCH": "username"}, ("external", "username")),
        (
            {"IDENTITY_SOURCE": "external", "IDENTITY_MATCH": "external_id"},
            ("external", "external_id"),
        ),
    ],
)
def test_understood_values(monkeypatch, env, expected) -> None:
    monkeypatch.delenv("IDENTITY_SOURCE", raising=False)
    monkeypatch.delenv("IDENTITY_MATCH", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert identity_source_settings() == expected


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"IDENTITY_SOURCE": "scim"}, "IDENTITY_SOURCE must be one of identity_center, external"),
        (
            {"IDENTITY_SOURCE": "external", "IDENTITY_MATCH": "upn"},
            "IDENTITY_MATCH must be one of email, username, external_id; got 'upn'",
        ),
        ({"IDENTITY_MATCH": "email"}, "IDENTITY_MATCH=email needs IDENTITY_SOURCE=external"),
    ],
)
def test_values_not_understood_are_refused_with_words(monkeypatch, env, words) -> None:
    monkeypatch.delenv("IDENTITY_SOURCE", raising=False)
    monkeypatch.delenv("IDENTITY_MATCH", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=words):
        identity_source_settings()


def test_the_portal_refuses_to_start_with_an_unknown_source(tmp_path) -> None:
    result = start_settings(PORTAL_VAR_DIR=str(tmp_path), DEBUG="1", IDENTITY_SOURCE="okta")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "IDENTITY_SOURCE" in result.stderr


def test_the_portal_starts_in_external_mode(tmp_path) -> None:
    result = start_settings(
        "IDENTITY_SOURCE, settings.IDENTITY_MATCH",
        PORTAL_VAR_DIR=str(tmp_path),
        DEBUG="1",
        IDENTITY_SOURCE="external",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "external email"
