"""Hooks the workflow calls inside its transactions: each sends one mail task after commit.

The tasks take ids only and read the rows again (accessgroups.mail.tasks), so a rolled-back
change mails nobody and no mail is sent inside a web request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from accessgroups.mail.tasks import (
    break_glass_granted_mail_task,
    change_proposed_mail_task,
    membership_active_mail_task,
    membership_ended_mail_task,
    request_closed_mail_task,
    request_decided_mail_task,
    request_submitted_mail_task,
    request_timed_out_mail_task,
)
from accessgroups.models import AccessRequest, ChangeRequest, Membership


def _send_on_commit(send: Callable[[int], object], object_id: int) -> None:
    # robust: the change is committed by then; a broker that cannot take the mail is logged,
    # and must not turn the person's successful request into an error page.
    transaction.on_commit(lambda: send(object_id), robust=True)


def notify_request_submitted(request: AccessRequest) -> None:
    _send_on_commit(request_submitted_mail_task.delay, request.pk)


def notify_request_decided(request: AccessRequest) -> None:
    _send_on_commit(request_decided_mail_task.delay, request.pk)


def notify_membership_activated(membership: Membership) -> None:
    _send_on_commit(membership_active_mail_task.delay, membership.pk)


def notify_membership_ended(membership: Membership) -> None:
    _send_on_commit(membership_ended_mail_task.delay, membership.pk)


def notify_break_glass_granted(request: AccessRequest) -> None:
    _send_on_commit(break_glass_granted_mail_task.delay, request.pk)


def notify_request_timed_out(request: AccessRequest) -> None:
    _send_on_commit(request_timed_out_mail_task.delay, request.pk)


def notify_request_closed(request: AccessRequest) -> None:
    """The approvers told of a pending request: it is decided, by whom (mail.reminders)."""
    _send_on_commit(request_closed_mail_task.delay, request.pk)


def notify_change_proposed(change: ChangeRequest) -> None:
    """The other admins: one of them must approve it (four eyes)."""
    _send_on_commit(change_proposed_mail_task.delay, change.pk)
