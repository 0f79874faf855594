"""The Celery application.

With ``CELERY_BROKER_URL`` set (``redis://...``) workers are ordinary Celery workers.
Without it, the portal uses kombu's filesystem transport under ``var/`` so that the
embedded worker that ``make run`` starts next to the web server can pick tasks up
without any broker to install; tasks never run inside the web request.
"""

import os
import pkgutil
import time

from celery import Celery
from celery.signals import task_postrun, task_prerun

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
