"""Helpers for API tests: did a call change anything, and what did it enqueue."""

from __future__ import annotations

import hashlib
import json

from django.apps import apps

_NOTED_ON_USE = {("accessgroups.ApiToken", "last_used_at")}


def database_fingerprint() -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every table the portal has.

    Two fingerprints are equal only if no row was added, removed or changed anywhere,
    including the audit log, tokens and sessions.
    """
    fingerprint = {}
    for model in apps.get_models():
        # Noting when a token was last used is authentication's doing, before and whatever
        # the call then does (at most once a minute): not a change the call made.
        label = model._meta.label
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if (label, f.attname) not in _NOTED_ON_USE
        ]
        rows = list(model._default_manager.order_by("pk").values_list(*fields))
        digest = hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()
        fingerprint[model._meta.label] = (len(rows), digest)
    return fingerprint


def assert_bad_input(response, field: str, before: dict, status: int = 400) -> None:
    """Refused with `status`, the reason keyed by `field`, and nothing changed anywhere."""
    assert response.status_code == status, (response.status_code, getattr(response, "data", None))
    assert field in response.data, response.data
    assert response.data[field], response.data
    assert database_fingerprint() == before, "a refused call changed the database"
