"""Mail tests: workflow calls whose on-commit callbacks run, with mail tasks run eagerly.

Provisioning tasks the workflow enqueues are only recorded (tests.api.helpers.run_enqueued);
mail tasks run at once in this process and land in Django's locmem outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from portal.celery import app
from tests.api.helpers import run_enqueued


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


def html_of(message) -> str:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return html
