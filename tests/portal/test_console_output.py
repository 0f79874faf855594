"""What the portal writes to its console: an ordinary 403 or 404 in one line, a 500 with its
traceback, one access line per request while developing, one line per mail."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.mail import EmailMessage
from django.http import HttpResponse
from django.urls import reverse

from portal.console_mail import EmailBackend
from portal.logs import AccessLogMiddleware, RequestLogFilter, logging_settings

pytestmark = pytest.mark.django_db


def _request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


def test_a_404_is_one_line_without_traceback(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/no-such-page/").status_code == 404
    (record,) = _request_records(caplog)
    assert (record.levelname, record.getMessage()) == ("WARNING", "Not Found: /no-such-page/")
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_a_403_is_one_line_without_traceback(client_for, alice, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client_for(alice).get(reverse("web:manage-api-tokens")).status_code == 403
    (record,) = _request_records(caplog)
    assert record.getMessage().startswith("Forbidden")
    assert record.exc_info is None and "Traceback" not in caplog.text


def _record(status: int) -> logging.LogRecord:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", (), sys.exc_info())
    record.status_code = status
    return record


def test_a_500_keeps_its_traceback():
    record = _record(500)
    assert RequestLogFilter(access_log=True).filter(record) and record.exc_info is not None


def test_with_the_access_log_a_4xx_is_said_once():
    assert not RequestLogFilter(access_log=True).filter(_record(404))
    config = logging_settings(level="INFO", access_log=True)
    assert config["loggers"]["django.server"] == {"level": "CRITICAL", "propagate": False}
    assert "django.server" not in logging_settings(level="INFO", access_log=False)["loggers"]


def test_the_embedded_worker_says_when_a_task_ends_not_when_it_arrives():
    quiet = logging_settings(level="INFO", access_log=True, debug=True)["loggers"]
    assert quiet["celery.worker.strategy"] == {"level": "WARNING"}
    assert "celery.worker.strategy" not in logging_settings(level="INFO", access_log=False)["loggers"]
    assert "celery.worker.strategy" not in logging_settings(level="DEBUG", access_log=True, debug=True)["loggers"]


def test_the_access_line_says_method_path_status_and_milliseconds(rf, caplog):
    middleware = AccessLogMiddleware(lambda request: HttpResponse(status=201))
    with caplog.at_level(logging.INFO, logger="portal.access"):
        middleware(rf.post("/api/v1/requests/?token=secret"))
    (record,) = [r for r in caplog.records if r.name == "portal.access"]
    method, path, status, ms, unit = record.getMessage().split()
    assert (method, path, status, unit) == ("POST", "/api/v1/requests/", "201", "ms")
    assert ms.isdigit() and "secret" not in record.getMessage()


def _mail() -> EmailMessage:
    return EmailMessage(
        "Access request #7 waits for you", "Alice asks for Developers.", "portal@example.com",
        ["bob@example.com", "dave@example.com"],
    )


def test_a_mail_is_one_line_on_the_console(settings):
    settings.LOG_LEVEL = "INFO"
    stream = io.StringIO()
    EmailBackend(stream=stream).send_messages([_mail()])
    assert stream.getvalue() == (
        "mail to bob@example.com, dave@example.com: Access request #7 waits for you\n"
    )


def test_the_whole_mail_at_debug(settings):
    settings.LOG_LEVEL = "DEBUG"
    stream = io.StringIO()
    EmailBackend(stream=stream).send_messages([_mail()])
    assert "Subject: Access request #7 waits for you" in stream.getvalue()
    assert "Alice asks for Developers." in stream.getvalue()
