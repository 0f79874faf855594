"""What the portal writes to its console: the logging configuration, one line per request
while developing, and one line (not a traceback) for an ordinary 403 or 404.

In production gunicorn writes the access log (``--access-logfile -``); with DEBUG the
development server's own request lines (``django.server``) carry no duration and repeat what
``django.request`` says about a 404, so the portal writes one line per request itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

access_logger = logging.getLogger("portal.access")


def logging_settings(*, level: str, access_log: bool, debug: bool = False) -> dict:
    """``LOGGING`` for ``level`` (LOG_LEVEL); ``access_log``: this process writes the
    request lines (AccessLogMiddleware), so the development server's are silenced; ``debug``:
    the embedded worker of `make run` says when a task ends, not also when it arrives."""
    loggers = {
        "botocore": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["request"]},
        # Django's own console handler (DEBUG only) would print a second copy, traceback
        # and all: everything goes through the handler below instead.
        "django": {"handlers": [], "propagate": True},
    }
    if debug and level != "DEBUG":
        # "Task ... received": production keeps it, to tell a stuck task from a lost one.
        loggers["celery.worker.strategy"] = {"level": "WARNING"}
    if access_log:
        # Its 4xx lines are WARNING and its 5xx ERROR: above the level would still double.
        loggers["django.server"] = {"level": "CRITICAL", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request": {"()": "portal.logs.RequestLogFilter", "access_log": access_log},
            "one_line": {"()": "portal.logs.RequestLogFilter"},
        },
        # On the handler too: django.security.<Name> (a refused Host header...) logs on
        # loggers of its own, worth a line each, never a traceback.
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["one_line"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers,
    }


class RequestLogFilter(logging.Filter):
    """``django.request`` logs a 403 or 404 raised as an exception with its traceback: that
    is an ordinary answer, so one line. With the access log on, that line already says 404,
    and the record is dropped. A 5xx keeps its traceback."""

    def __init__(self, access_log: bool = False) -> None:
        super().__init__()
        self.access_log = access_log

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) >= 500:
            return True
        if self.access_log:
            return False
        record.exc_info = None
        record.exc_text = None
        return True


class AccessLogMiddleware:
    """One line per request: method, path (without the query, which may carry a secret),
    status and milliseconds."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = (time.perf_counter() - started) * 1000
        status = response.status_code
        level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        access_logger.log(level, "%s %s %s %.0f ms", request.method, request.path, status, elapsed)
        return response
