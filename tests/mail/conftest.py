"""Mail tests: workflow calls whose on-commit callbacks run, with mail tasks run eagerly.

Provisioning tasks the workflow enqueues are only recorded (tests.syncs.run_enqueued);
mail tasks run at once in this process and land in Django's locmem outbox. Helpers the
tests import (``html_of``, ``grant``) are in tests/mail/helpers.py.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from portal.celery import app
from tests.syncs import run_enqueued


@pytest.fixture(autouse=True)
def eager_tasks() -> Iterator[None]:
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def committed(django_capture_on_commit_callbacks) -> Callable[[], AbstractContextManager[None]]:
    """``with committed(): ...`` runs what the block enqueued on commit, as a commit would."""

    @contextmanager
    def block() -> Iterator[None]:
        with django_capture_on_commit_callbacks() as callbacks:
            yield
        run_enqueued(callbacks)

    return block


@pytest.fixture
def portal_url(settings) -> str:
    settings.PORTAL_BASE_URL = "https://access.example.test/"
    return "https://access.example.test"


class MailServer:
    """What a real SMTP server on localhost received, and the faults it is told to give.

    ``refuse`` holds RCPT numbers (1 for the first recipient the server is ever offered, 2
    for the second...) answered with a temporary failure, as a greylisting or overloaded
    server does; ``down`` refuses every recipient.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []  # (recipient, subject)
        self.refuse: set[int] = set()
        self.down = False
        self.offered = 0

    def recipients(self) -> list[str]:
        return sorted(address for address, _ in self.received)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.offered += 1
        if self.down or self.offered in self.refuse:
            return "451 4.3.2 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        subject = message_from_bytes(envelope.content)["Subject"]
        self.received.extend((address, subject) for address in envelope.rcpt_tos)
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings) -> Iterator[MailServer]:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that Django's SMTP backend sends to."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = MailServer()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield server
    finally:
        controller.stop()
