"""The Celery application.

With ``CELERY_BROKER_URL`` set (``redis://...``) workers are ordinary Celery workers.
Without it, the portal uses kombu's filesystem transport under ``var/`` so that the
embedded worker that ``make run`` starts next to the web server can pick tasks up
without any broker to install; tasks never run inside the web request.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
