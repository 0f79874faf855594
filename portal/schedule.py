"""What beat sends, and how often: one entry per periodic task (docs/operations.md, "Beat").

The intervals come from the environment; the two that settings also keep for the code that
reads them (the dispatcher's, the drift scan's) are passed in.
"""

from __future__ import annotations

from typing import Any

from portal.env import env_count, env_int


def beat_schedule(*, reconcile_seconds: int, drift_seconds: int) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``; a drift interval of 0 leaves the scan out."""
    schedule: dict[str, dict[str, Any]] = {
        "reconcile-provisioning": {
            "task": "accessgroups.access.tasks.provisioning_reconcile_task",
            "schedule": reconcile_seconds,
        },
        "expire-memberships": {
            "task": "accessgroups.access.tasks.memberships_expire_task",
            "schedule": env_int("EXPIRY_SWEEP_SECONDS", 60),
        },
        "expiry-reminders": {
            "task": "accessgroups.tasks.expiry_reminders_task",
            "schedule": env_int("EXPIRY_REMINDER_SWEEP_SECONDS", 300),
        },
        "close-access-reviews": {
            "task": "accessgroups.tasks.access_reviews_close_task",
            "schedule": env_int("ACCESS_REVIEW_SWEEP_SECONDS", 300),
        },
        "break-glass-reviews-overdue": {
            "task": "accessgroups.access.tasks.break_glass_reviews_overdue_task",
            "schedule": env_count("BREAK_GLASS_SWEEP_SECONDS", 900, least=1, unit="seconds"),
        },
        "lift-session-revocations": {
            "task": "accessgroups.access.tasks.session_revocations_lift_task",
            "schedule": env_count("SESSION_REVOCATION_SWEEP_SECONDS", 60, least=1, unit="seconds"),
        },
    }
    if drift_seconds:
        schedule["drift-scan"] = {
            "task": "provisioning.tasks.drift_scan_task",
            "schedule": drift_seconds,
        }
    return schedule
