"""Which queue each task goes to: Identity Center work apart, database work on the default."""

from __future__ import annotations

import pytest

from accessgroups.access.tasks import (
    approval_reminders_task,
    memberships_expire_task,
    requests_start_task,
    requests_time_out_task,
    session_revocations_lift_task,
)
from accessgroups.mail import tasks as mail_tasks
from accessgroups.reviews.tasks import access_reviews_close_task
from portal.celery import app
from provisioning import tasks as provisioning_tasks


def queue_of(task) -> str:
    route = app.amqp.router.route({}, task.name, (), {})
    return route["queue"].name


@pytest.mark.parametrize(
    "task",
    [
        provisioning_tasks.user_onboard_task,
        provisioning_tasks.access_group_sync_task,
        provisioning_tasks.membership_sync_task,
        provisioning_tasks.accounts_sync_task,
        provisioning_tasks.drift_scan_task,
        provisioning_tasks.group_sync_task,
    ],
)
def test_identity_center_work_goes_to_its_own_queue(task) -> None:
    assert queue_of(task) == "identity-center"


@pytest.mark.parametrize(
    "task",
    [
        memberships_expire_task,
        session_revocations_lift_task,
        access_reviews_close_task,
        mail_tasks.expiry_reminders_task,
        mail_tasks.request_submitted_mail_task,
        requests_start_task,
        requests_time_out_task,
        approval_reminders_task,
        mail_tasks.request_timed_out_mail_task,
        mail_tasks.request_closed_mail_task,
    ],
)
def test_database_work_and_mail_go_to_the_default_queue(task) -> None:
    assert queue_of(task) == "celery"


def test_beat_sends_tasks_that_exist() -> None:
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_a_worker_process_registers_every_task_beat_sends() -> None:
    # In a fresh process, as a worker starts: only what autodiscovery imports is registered.
    import json
    import subprocess
    import sys

    script = (
        "import django; django.setup()\n"
        "import json\n"
        "from portal.celery import app\n"
        "app.loader.import_default_modules()\n"
        "print(json.dumps({'tasks': sorted(app.tasks), "
        "'beat': sorted(e['task'] for e in app.conf.beat_schedule.values())}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(found["beat"]) <= set(found["tasks"]), set(found["beat"]) - set(found["tasks"])
    for name in (
        "accessgroups.access.tasks.memberships_expire_task",
        "accessgroups.tasks.request_submitted_mail_task",
        "provisioning.tasks.membership_sync_task",
    ):
        assert name in found["tasks"]
