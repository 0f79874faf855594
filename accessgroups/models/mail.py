"""Mail the portal has handed to the SMTP server, so a retry mails nobody twice."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accessgroups.models.identity import User


class MailDelivery(models.Model):
    """One mail that reached the mail server: a message about one thing, to one person.

    A mail task sends one mail per recipient and records each as it goes, so a task that is
    retried after the server failed half-way, or delivered twice by the broker, sends only
    the mails still missing. ``subject`` names the thing the message is about, such as
    ``request:42`` or ``membership:7``. The record is written just after the server accepted
    the mail: a worker that dies between the two may send that one mail again, never lose it.
    """

    message = models.CharField(max_length=64)
    subject = models.CharField(max_length=128)
    recipient = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "message", "subject", "recipient", name="maildelivery_once_per_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message} about {self.subject} to {self.recipient}"
