"""`manage.py check --deploy` is clean with the environment docker-compose.yml gives its web
service, as an operator starts it: `SECRET_KEY=$(openssl rand -hex 32) docker-compose up`."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

from tests.system.harness import REPO, VENV_BIN

_REFERENCE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def compose_environment(service: str, operator: dict[str, str]) -> dict[str, str]:
    """The service's environment as docker-compose makes it from the operator's variables:
    ``NAME`` passes NAME through when set, ``NAME=${OTHER:-default}`` is interpolated."""
    spec = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    environment = {}
    for entry in spec["services"][service]["environment"]:
        name, has_value, value = entry.partition("=")
        if not has_value:
            if name in operator:
                environment[name] = operator[name]
            continue
        environment[name] = _REFERENCE.sub(
            lambda m: operator.get(m.group(1)) or (m.group(2) or ""), value
        )
    return environment


def check_deploy(tmp_path: Path, **operator: str) -> subprocess.CompletedProcess:
    env = {
        **compose_environment("web", {"SECRET_KEY": secrets.token_hex(32), **operator}),
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        # The image keeps its files under /var/lib/portal; here, a folder of the test's.
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )


def test_the_compose_environment_is_what_production_gets():
    env = compose_environment("web", {"SECRET_KEY": "k"})
    assert env["DEBUG"] == "0"
    assert env["ALLOWED_HOSTS"] == "127.0.0.1,localhost"
    assert env["DATABASE_URL"].startswith("postgres://portal:portal@postgres:5432/")
    # The hardening variables pass through, so production gets the portal's defaults.
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_IDLE_MINUTES"):
        assert name not in env
        assert compose_environment("web", {"SECRET_KEY": "k", name: "1"})[name] == "1"


def test_check_deploy_is_clean_with_the_compose_environment(tmp_path):
    result = check_deploy(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output and "(security.W" not in output, output
    assert "System check identified no issues" in output


def test_check_deploy_behind_a_balancer_is_clean_too(tmp_path):
    result = check_deploy(
        tmp_path,
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto,https",
        ALLOWED_HOSTS="access.example.com",
        CSRF_TRUSTED_ORIGINS="https://access.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_does_catch_what_an_operator_turns_off(tmp_path):
    # The same check, with the redirect and HSTS turned off: proof that it is looking.
    result = check_deploy(tmp_path, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "(security.W004)" in output and "(security.W008)" in output
