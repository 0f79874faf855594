"""The Celery application.

With ``CELERY_BROKER_URL`` set (``redis://...``) workers are ordinary Celery workers.
Without it, the portal uses kombu's filesystem transport under ``var/`` so that the
embedded worker that ``make run`` starts next to the web server can pick tasks up
without any broker to install; tasks never run inside the web request.
"""

import os
import pkgutil
import time
from pathlib import Path

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_ready

from provisioning import counters

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")


def task_packages() -> list[str]:
    """Every installed app and each of its subject packages: tasks live next to their subject
    (accessgroups/access/tasks.py), so a worker must look for ``tasks`` in each of them."""
    from django.apps import apps

    packages = []
    for config in apps.get_app_configs():
        packages.append(config.name)
        packages.extend(
            f"{config.name}.{module.name}"
            for module in pkgutil.iter_modules([config.path])
            if module.ispkg and module.name not in ("migrations", "management")
        )
    return packages


app.autodiscover_tasks(task_packages)


# How long each task runs, for /metrics (provisioning.counters): workers record, the web
# process reads. The start is kept per task id: a threads worker runs several at once.
_started: dict[str, float] = {}


@task_prerun.connect
def _task_started(task_id: str | None = None, **_: object) -> None:
    if task_id:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _task_finished(task_id: str | None = None, task: object = None, **_: object) -> None:
    started = _started.pop(task_id, None) if task_id else None
    name = getattr(task, "name", None)
    if started is not None and name:
        counters.record_task_duration(task=name, seconds=time.monotonic() - started)


# `manage.py serve` prints the demo users once its worker and beat have started, so that
# their start-up lines come before the printout: each says so with a file in this folder.
SERVE_READY_DIR = "PORTAL_SERVE_READY_DIR"


def _say_ready(name: str) -> None:
    folder = os.environ.get(SERVE_READY_DIR)
    if folder:
        Path(folder, name).touch()


@worker_ready.connect
def _worker_ready(**_: object) -> None:
    _say_ready("worker")


@beat_init.connect
def _beat_ready(**_: object) -> None:
    _say_ready("beat")
