"""The Celery application.

With ``CELERY_BROKER_URL`` set (``redis://...``) workers are ordinary Celery workers.
Without it, the portal uses kombu's filesystem transport under ``var/`` so that the
embedded worker that ``make run`` starts next to the web server can pick tasks up
without any broker to install; tasks never run inside the web request.
"""

import os
import pkgutil

from celery import Celery

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
