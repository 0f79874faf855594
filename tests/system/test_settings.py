"""Settings refuse an unsafe production start; `createsuperuser --noinput` works from env."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from accessgroups.models import User

REPO = Path(__file__).resolve().parents[2]


LOAD_SETTINGS = (
    "import django; django.setup(); from django.conf import settings; print(settings.{})"
)


def start_settings(show: str = "DEBUG", **env: str) -> subprocess.CompletedProcess:
    """Load portal.settings in a fresh interpreter, with only ``env`` configured, and print
    the setting ``show``."""
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "portal.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", LOAD_SETTINGS.format(show)],
        cwd=REPO, env=base, capture_output=True, text=True, timeout=60,
    )


def test_production_refuses_to_start_without_secret_key(tmp_path: Path) -> None:
    result = start_settings(PORTAL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_production_refuses_an_empty_secret_key(tmp_path: Path) -> None:
    result = start_settings(PORTAL_VAR_DIR=str(tmp_path), SECRET_KEY="", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_starts_with_a_secret_key(tmp_path: Path) -> None:
    result = start_settings(PORTAL_VAR_DIR=str(tmp_path), SECRET_KEY="a-long-random-value-for-this-test")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_development_starts_without_a_secret_key(tmp_path: Path) -> None:
    result = start_settings(PORTAL_VAR_DIR=str(tmp_path), DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_secret_key_fallbacks_are_read_from_the_environment(tmp_path: Path) -> None:
    result = start_settings(
        "SECRET_KEY_FALLBACKS",
        PORTAL_VAR_DIR=str(tmp_path),
        SECRET_KEY="the-key-of-this-test",
        SECRET_KEY_FALLBACKS="the-old-key, an-older-key",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['the-old-key', 'an-older-key']"


def test_the_drift_scan_runs_every_15_minutes_and_reverts_by_default(tmp_path: Path) -> None:
    result = start_settings(
        "CELERY_BEAT_SCHEDULE['drift-scan']['schedule'], settings.DRIFT_POLICY",
        PORTAL_VAR_DIR=str(tmp_path),
        DEBUG="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["900", "revert"]


def test_a_drift_interval_of_0_schedules_no_scan(tmp_path: Path) -> None:
    result = start_settings(
        "CELERY_BEAT_SCHEDULE.get('drift-scan')",
        PORTAL_VAR_DIR=str(tmp_path),
        DEBUG="1",
        DRIFT_SCAN_INTERVAL_SECONDS="0",
        DRIFT_POLICY="Report",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


@pytest.mark.parametrize(
    ("name", "value"), [("DRIFT_POLICY", "fix"), ("DRIFT_SCAN_INTERVAL_SECONDS", "15m")]
)
def test_drift_settings_are_refused_when_not_understood(tmp_path: Path, name, value) -> None:
    result = start_settings(PORTAL_VAR_DIR=str(tmp_path), DEBUG="1", **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr


def test_groups_are_refreshed_every_5_minutes_by_default_and_0_turns_it_off(tmp_path: Path) -> None:
    expr = "CELERY_BEAT_SCHEDULE.get('identity-center-groups'), settings.GROUP_SYNC_SECONDS"
    result = start_settings(expr, PORTAL_VAR_DIR=str(tmp_path), DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "'schedule': 300" in result.stdout and result.stdout.split()[-1] == "300"
    result = start_settings(expr, PORTAL_VAR_DIR=str(tmp_path), DEBUG="1", GROUP_SYNC_SECONDS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "0"]
    result = start_settings(PORTAL_VAR_DIR=str(tmp_path), DEBUG="1", GROUP_SYNC_SECONDS="5m")
    assert result.returncode != 0 and "GROUP_SYNC_SECONDS" in result.stderr


@pytest.mark.django_db
def test_createsuperuser_noinput_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a fine long passphrase")
    call_command("createsuperuser", interactive=False, verbosity=0)
    user = User.objects.get(username="root")
    assert user.email == "root@example.com"
    assert user.is_superuser and user.is_staff
    assert user.is_admin, "superusers are admins of the portal"
    assert user.check_password("a fine long passphrase")


def test_change_approval_is_off_by_default_and_refused_when_not_understood(tmp_path: Path) -> None:
    result = start_settings("CHANGE_APPROVAL", PORTAL_VAR_DIR=str(tmp_path), DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "off"
    result = start_settings(
        "CHANGE_APPROVAL", PORTAL_VAR_DIR=str(tmp_path), DEBUG="1", CHANGE_APPROVAL="Required"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "required"
    result = start_settings(PORTAL_VAR_DIR=str(tmp_path), DEBUG="1", CHANGE_APPROVAL="yes")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CHANGE_APPROVAL" in result.stderr
