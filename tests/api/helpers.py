"""Helpers for API tests: did a call change anything, and what did it enqueue."""

from __future__ import annotations

import hashlib
import json

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


def assert_bad_input(response, field: str, before: dict, status: int = 400) -> None:
    """Refused with `status`, the reason keyed by `field`, and nothing changed anywhere."""
    assert response.status_code == status, (response.status_code, getattr(response, "data", None))
    assert field in response.data, response.data
    assert response.data[field], response.data
    assert database_fingerprint() == before, "a refused call changed the database"
