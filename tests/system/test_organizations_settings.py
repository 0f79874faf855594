"""The Organizations sync's settings: beat's interval and the fleet-wide rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.system.test_settings import start_settings


def test_organizations_are_read_every_hour_at_5_calls_a_second_by_default(tmp_path: Path) -> None:
    result = start_settings(
        "CELERY_BEAT_SCHEDULE['organizations-sync'], settings.ORGANIZATIONS_TPS",
        PORTAL_VAR_DIR=str(tmp_path),
        DEBUG="1",
    )
    assert result.returncode == 0, result.stderr
    assert "'task': 'provisioning.tasks.accounts_sync_task', 'schedule': 3600}" in result.stdout
    assert result.stdout.split()[-1] == "5"


def test_an_interval_of_0_reads_only_on_demand(tmp_path: Path) -> None:
    result = start_settings(
        "CELERY_BEAT_SCHEDULE.get('organizations-sync')",
        PORTAL_VAR_DIR=str(tmp_path),
        DEBUG="1",
        ORGANIZATIONS_SYNC_SECONDS="0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


@pytest.mark.parametrize(("name", "value"), [("ORGANIZATIONS_SYNC_SECONDS", "1h"), ("ORGANIZATIONS_TPS", "0")])
def test_organizations_settings_are_refused_when_not_understood(tmp_path: Path, name, value) -> None:
    result = start_settings(PORTAL_VAR_DIR=str(tmp_path), DEBUG="1", **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
