"""docker-compose.yml is valid, and its commands are the ones the system tests run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


def test_readme_override_gives_every_portal_service_the_sso_settings(tmp_path: Path) -> None:
    """The README's docker-compose.override.yml example merges as it says it does."""
    binary = shutil.which("docker-compose")
    require(binary is not None, "docker-compose is not installed (apt-get install docker-compose)")
    readme = (REPO / "README.md").read_text()
    override = re.search(r"```yaml\n(services:\n.*?)```", readme, re.S)
    assert override, "README.md has no docker-compose.override.yml example"
    shutil.copy(REPO / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / "docker-compose.override.yml").write_text(override.group(1))
    env = portal_env(
        SECRET_KEY="compose-config-check",
        EMAIL_URL="smtp://mailer:secret@mail.example.com:587?tls=1",
        PORTAL_BASE_URL="https://access.example.com",
        OIDC_OKTA_CLIENT_ID="portal",
        OIDC_OKTA_CLIENT_SECRET="sso-secret",
        OIDC_OKTA_SERVER_URL="https://example.okta.com",
    )
    result = subprocess.run(
        [binary, "config"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr

    services = yaml.safe_load(result.stdout)["services"]
    for name in ("migrate", "web", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["OIDC_PROVIDERS"] == "okta", name
        assert environment["OIDC_OKTA_SERVER_URL"] == "https://example.okta.com", name
        assert environment["EMAIL_URL"].startswith("smtp://mailer:"), name
        assert environment["PORTAL_BASE_URL"] == "https://access.example.com", name
        # What the base file sets is kept, not replaced by the override.
        assert environment["CELERY_BROKER_URL"] == "redis://redis:6379/0", name


def test_worker_serves_both_queues_with_threads() -> None:
    worker = compose_command("worker")
    assert worker[worker.index("-Q") + 1] == "celery,identity-center"
    assert worker[worker.index("--pool") + 1] == "threads"
    assert compose_command("web")[1] == "portal.wsgi"


def test_web_healthcheck_asks_readyz_and_fails_when_the_portal_is_not_ready(
    live_server, settings
) -> None:
    spec = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    test = spec["services"]["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8000/readyz" in test[3]

    # The probe's own code, run as docker runs it, against a portal of this test.
    probe = test[3].replace("http://127.0.0.1:8000", live_server.url)
    run = [sys.executable, "-c", probe]
    assert subprocess.run(run, capture_output=True, timeout=30).returncode == 0
    # Limits kept in a Redis that is not there: the same probe fails.
    settings.PROVISIONING_REDIS_URL = "redis://127.0.0.1:1/0"
    failed = subprocess.run(run, capture_output=True, text=True, timeout=30)
    assert failed.returncode != 0
    assert "503" in failed.stderr
