"""docker-compose.yml is valid, and its commands are the ones the system tests run."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.system.harness import REPO, compose_command, portal_env, require

pytestmark = pytest.mark.slow


def test_docker_compose_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    require(binary is not None, "docker-compose is not installed (apt-get install docker-compose)")
    # As an operator would run it, with nothing but the required secret set.
    env = portal_env(SECRET_KEY="compose-config-check")
    result = subprocess.run(
        [binary, "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_worker_serves_both_queues_with_threads() -> None:
    worker = compose_command("worker")
    assert worker[worker.index("-Q") + 1] == "celery,identity-center"
    assert worker[worker.index("--pool") + 1] == "threads"
    assert compose_command("web")[1] == "portal.wsgi"
