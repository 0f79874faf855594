"""The console mail backend of `make run`: one line per message (recipients and subject),
the whole message only at LOG_LEVEL=DEBUG, so that the terminal stays readable."""

from __future__ import annotations

from django.conf import settings
from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend
from django.core.mail.message import EmailMessage


class EmailBackend(DjangoConsoleBackend):
    def write_message(self, message: EmailMessage) -> None:
        if settings.LOG_LEVEL == "DEBUG":
            super().write_message(message)
            return
        recipients = ", ".join(message.recipients())
        self.stream.write(f"mail to {recipients}: {message.subject}\n")
