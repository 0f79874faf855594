"""Beat's entries for request timing: a start is checked at least once a minute."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.schedule import beat_schedule


def schedule():
    return beat_schedule(reconcile_seconds=300, drift_seconds=0)


def test_the_sweeps_are_scheduled_with_their_defaults(monkeypatch):
    for name in ("REQUEST_START_SWEEP_SECONDS", "REQUEST_TIMEOUT_SWEEP_SECONDS",
                 "APPROVAL_REMINDER_SWEEP_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    entries = schedule()
    assert entries["start-scheduled-requests"] == {
        "task": "accessgroups.access.tasks.requests_start_task", "schedule": 60,
    }
    assert entries["time-out-pending-requests"]["schedule"] == 300
    assert entries["approval-reminders"]["schedule"] == 300


def test_a_shorter_start_sweep_is_fine(monkeypatch):
    monkeypatch.setenv("REQUEST_START_SWEEP_SECONDS", "5")
    assert schedule()["start-scheduled-requests"]["schedule"] == 5


@pytest.mark.parametrize("value", ["61", "0", "soon"])
def test_a_start_sweep_over_a_minute_or_malformed_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("REQUEST_START_SWEEP_SECONDS", value)
    with pytest.raises(ImproperlyConfigured, match="REQUEST_START_SWEEP_SECONDS"):
        schedule()
