"""What beat sends, and how often: one entry per periodic task (docs/operations.md, "Beat").

The intervals come from the environment; those that settings also keep for the code that
reads them (the dispatcher's, the drift scan's, the group refresh's) are passed in.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from portal.env import env_count, env_int

# A delayed start is checked at least once a minute (docs/decisions/0017-request-timing.md).
START_SWEEP_MAX_SECONDS = 60


def start_sweep_seconds() -> int:
    seconds = env_count("REQUEST_START_SWEEP_SECONDS", 60, least=1, unit="seconds")
    if seconds > START_SWEEP_MAX_SECONDS:
        raise ImproperlyConfigured(
            f"REQUEST_START_SWEEP_SECONDS must be at most {START_SWEEP_MAX_SECONDS}; got {seconds}."
        )
    return seconds


def beat_schedule(
    *, reconcile_seconds: int, drift_seconds: int, group_seconds: int = 300
) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``; a drift or group interval of 0 leaves that task out."""
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
        "start-scheduled-requests": {
            "task": "accessgroups.access.tasks.requests_start_task",
            "schedule": start_sweep_seconds(),
        },
        "time-out-pending-requests": {
            "task": "accessgroups.access.tasks.requests_time_out_task",
            "schedule": env_count("REQUEST_TIMEOUT_SWEEP_SECONDS", 300, least=1, unit="seconds"),
        },
        "approval-reminders": {
            "task": "accessgroups.access.tasks.approval_reminders_task",
            "schedule": env_count("APPROVAL_REMINDER_SWEEP_SECONDS", 300, least=1, unit="seconds"),
        },
        "lift-session-revocations": {
            "task": "accessgroups.access.tasks.session_revocations_lift_task",
            "schedule": env_count("SESSION_REVOCATION_SWEEP_SECONDS", 60, least=1, unit="seconds"),
        },
    }
    # Accounts, OUs and the links of access groups by OU, from AWS Organizations; 0: only on demand.
    organizations_seconds = env_count("ORGANIZATIONS_SYNC_SECONDS", 3600, least=0, unit="seconds")
    if organizations_seconds:
        schedule["organizations-sync"] = {
            "task": "provisioning.tasks.accounts_sync_task",
            "schedule": organizations_seconds,
        }
    if drift_seconds:
        schedule["drift-scan"] = {
            "task": "provisioning.tasks.drift_scan_task",
            "schedule": drift_seconds,
        }
    if group_seconds:
        schedule["identity-center-groups"] = {
            "task": "provisioning.tasks.group_sync_task",
            "schedule": group_seconds,
        }
    return schedule
