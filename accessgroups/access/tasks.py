"""Celery tasks of the access workflow: database work, on the default queue."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accessgroups.access.services import memberships_expire
from accessgroups.access.sessions import session_revocations_lift


@shared_task
def memberships_expire_task() -> int:
    """Periodic (beat): end the memberships whose expiry has passed.

    Each ending asks provisioning to remove the Identity Center membership after commit.
    """
    return memberships_expire(now=timezone.now())


@shared_task
def session_revocations_lift_task() -> int:
    """Periodic (beat): lift the session revocations whose sessions have all ended.

    Each group that lost a revocation asks provisioning to sync its permission set.
    """
    return session_revocations_lift(now=timezone.now())
