"""Celery tasks of access reviews."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accessgroups.reviews.services import access_reviews_close_due


# The name it had before reviews got their own package, so the beat schedule of an older
# release still reaches it.
@shared_task(name="accessgroups.tasks.access_reviews_close_task")
def access_reviews_close_task() -> int:
    """Periodic (beat): close the access reviews whose deadline has passed.

    Each review is claimed with a conditional update, so overlapping runs close it once.
    """
    return access_reviews_close_due(now=timezone.now())
