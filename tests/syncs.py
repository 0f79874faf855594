"""The one way tests intercept provisioning: the sync port's handlers, recorded.

Inside ``captured_syncs()`` every task that provisioning registered with
accessgroups.core.sync records ``(task name, args)`` instead of reaching a broker, so a test
sees which Celery task each committed change would have sent, and with which id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from accessgroups.core import sync

Sent = list[tuple[str, tuple[Any, ...]]]


@contextmanager
def captured_syncs() -> Iterator[Sent]:
    """Every task provisioning registered with the port records its sends instead: those
    the port makes after a commit, and those a task makes itself (a row that changed while
    it worked is sent again)."""
    sent: Sent = []
    with pytest.MonkeyPatch.context() as patch:
        for task in sync.registered_tasks():
            name = task.name.rsplit(".", 1)[-1]
            patch.setattr(task, "delay", lambda *args, _name=name: sent.append((_name, args)))
            # A send with a countdown (the dispatcher, for a lease about to run out).
            patch.setattr(
                task,
                "apply_async",
                lambda args=(), _name=name, **options: sent.append((_name, tuple(args))),
            )
        yield sent


def run_enqueued(callbacks: list) -> Sent:
    """Run captured on-commit callbacks; return the (task name, args) the port sent."""
    with captured_syncs() as sent:
        for callback in callbacks:
            callback()
    return sent
