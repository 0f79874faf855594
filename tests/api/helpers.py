"""Helpers for API tests: did a call change anything, and what did it enqueue."""

from __future__ import annotations

import hashlib
import json
import sys
import types

import pytest
from django.apps import apps


def database_fingerprint() -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every table the portal has.

    Two fingerprints are equal only if no row was added, removed or changed anywhere,
    including the audit log, tokens and sessions.
    """
    fingerprint = {}
    for model in apps.get_models():
        rows = list(model._default_manager.order_by("pk").values_list())
        digest = hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()
        fingerprint[model._meta.label] = (len(rows), digest)
    return fingerprint


class TaskRecorder(types.ModuleType):
    """Stands in for provisioning.tasks while captured on-commit callbacks run: records
    which task each callback sends, with which ids, instead of reaching a broker."""

    def __init__(self) -> None:
        super().__init__("provisioning.tasks")
        self.sent: list[tuple[str, tuple]] = []

    def __getattr__(self, name: str):
        if not name.endswith("_task"):
            raise AttributeError(name)
        return types.SimpleNamespace(delay=lambda *args: self.sent.append((name, args)))


def run_enqueued(callbacks: list) -> list[tuple[str, tuple]]:
    """Run captured on-commit callbacks; return the (task name, args) they sent.

    Each name must be a real task of provisioning.tasks, so the API cannot enqueue
    something no worker runs.
    """
    import provisioning
    import provisioning.tasks as real_tasks

    recorder = TaskRecorder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "provisioning.tasks", recorder)
        patch.setattr(provisioning, "tasks", recorder, raising=False)
        for callback in callbacks:
            callback()
    for name, _ in recorder.sent:
        assert callable(getattr(real_tasks, name, None)), f"no task provisioning.tasks.{name}"
    return recorder.sent


def assert_bad_input(response, field: str, before: dict, status: int = 400) -> None:
    """Refused with `status`, the reason keyed by `field`, and nothing changed anywhere."""
    assert response.status_code == status, (response.status_code, getattr(response, "data", None))
    assert field in response.data, response.data
    assert response.data[field], response.data
    assert database_fingerprint() == before, "a refused call changed the database"
