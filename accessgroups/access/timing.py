"""Time in the life of a request: a delayed start, and pending requests that time out.

A request may ask for access from a moment up to ``STARTS_AT_MAX_DAYS`` ahead. Once
approved, its membership is written at once (so the slot is held and the requester can still
cancel) but nothing is provisioned: the membership waits, pending, with its due time at the
start, and ``requests_start`` (beat, at least once a minute) hands due ones to provisioning.
Expiry counts from activation as always. A pending request nobody decided within
``PENDING_REQUEST_TTL_HOURS`` turns ``timed_out``. docs/decisions/0017-request-timing.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.mail import notify
from accessgroups.models import AccessGroup, AccessRequest, Membership, RequestStatus

STARTS_AT_MAX_DAYS = 30
# A start a little in the past is "now": the browser's picker has minutes only, and clocks
# differ by seconds. Anything earlier is refused.
STARTS_AT_SLACK = timedelta(minutes=1)
# Requests started or timed out per run; a larger backlog is taken by the next runs.
BATCH = 500


def validate_starts_at(starts_at: datetime | None, *, now: datetime | None = None) -> datetime | None:
    """The requested start: None (at once), or a moment from now up to 30 days ahead."""
    if starts_at is None:
        return None
    now = now or timezone.now()
    if timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at, UTC)
    if starts_at < now - STARTS_AT_SLACK:
        raise ValidationError({"starts_at": "The start is in the past; leave it empty to start at once."})
    if starts_at > now + timedelta(days=STARTS_AT_MAX_DAYS):
        raise ValidationError(
            {"starts_at": f"The start may be at most {STARTS_AT_MAX_DAYS} days ahead."}
        )
    return starts_at if starts_at > now else None


def is_scheduled(request: AccessRequest, now: datetime) -> bool:
    """Approved (or about to be) for a start still ahead: provisioning waits until then."""
    return request.starts_at is not None and request.starts_at > now


def membership_waits_for_start(*, membership_id: int, now: datetime | None = None) -> bool:
    """True while the membership belongs to an approved request whose start is ahead.

    Provisioning asks before it adds anyone: a membership can be sent early by paths that
    know nothing of starts (a group created or re-created, a stale user id healed, the
    dispatcher after a retry), and must still wait.
    """
    return AccessRequest.objects.filter(
        membership_id=membership_id,
        status=RequestStatus.APPROVED,
        starts_at__gt=now or timezone.now(),
        membership__ended_at__isnull=True,
        membership__activated_at__isnull=True,
    ).exists()


def requests_start(*, now: datetime) -> int:
    """Hand every approved request whose start has come to provisioning; returns how many.

    Each is claimed with a conditional update (``approved`` → ``provisioning``), so that two
    runs at once send it once.
    """
    due = AccessRequest.objects.filter(
        status=RequestStatus.APPROVED,
        starts_at__lte=now,
        membership__ended_at__isnull=True,
        membership__activated_at__isnull=True,
    ).values_list("pk", "membership_id")[:BATCH]
    started = 0
    for request_id, membership_id in list(due):
        with transaction.atomic():
            claimed = AccessRequest.objects.filter(
                pk=request_id, status=RequestStatus.APPROVED
            ).update(status=RequestStatus.PROVISIONING, updated_at=now)
            if not claimed:
                continue  # cancelled meanwhile, or another run got there first
            request = AccessRequest.objects.select_related("access_group", "requester").get(pk=request_id)
            membership = Membership.objects.get(pk=membership_id)
            sync.request_sync(membership)
            audit_record(
                action="request.started",
                obj=request,
                access_group=request.access_group,
                subject=request.requester,
                data={"membership": membership_id, "starts_at": request.starts_at},
            )
            started += 1
    return started


def request_time_out(*, request_id: int, now: datetime) -> bool:
    """Time out one pending request, if it is still pending and old enough.

    The row is locked as a decision locks it, so an approval and the time-out racing for
    one request cannot both win: whichever takes the lock second finds it no longer pending.
    """
    cutoff = now - timedelta(hours=settings.PENDING_REQUEST_TTL_HOURS)
    group_id = (
        AccessRequest.objects.filter(pk=request_id).values_list("access_group_id", flat=True).first()
    )
    if group_id is None:
        return False
    with transaction.atomic():
        # The group first, then the request: the order approval takes them in, so that the
        # two wait for each other instead of deadlocking.
        AccessGroup.objects.select_for_update().filter(pk=group_id).first()
        request = (
            AccessRequest.objects.select_for_update(of=("self",))
            .filter(pk=request_id, status=RequestStatus.PENDING, created_at__lte=cutoff)
            .select_related("access_group", "requester")
            .first()
        )
        if request is None:
            return False
        request.status = RequestStatus.TIMED_OUT
        request.save(update_fields=["status", "updated_at"])
        audit_record(
            action="request.timed_out",
            obj=request,
            access_group=request.access_group,
            subject=request.requester,
            data={
                "ttl_hours": settings.PENDING_REQUEST_TTL_HOURS,
                "created_at": request.created_at,
                "approvals_required": request.approvals_required,
            },
        )
        notify.notify_request_timed_out(request)
        notify.notify_request_closed(request)
    return True


def requests_time_out(*, now: datetime) -> int:
    """Time out every pending request older than ``PENDING_REQUEST_TTL_HOURS``."""
    cutoff = now - timedelta(hours=settings.PENDING_REQUEST_TTL_HOURS)
    ids = list(
        AccessRequest.objects.pending()
        .filter(created_at__lte=cutoff)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    return sum(request_time_out(request_id=pk, now=now) for pk in ids)
