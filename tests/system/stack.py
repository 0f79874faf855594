"""The production stack as real processes, for the tests that drive it: the web, worker and
beat commands of docker-compose.yml against PostgreSQL, Redis and a moto server over HTTP."""

from __future__ import annotations

import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

from provisioning.fake import FakeIdentityCenter, free_port
from tests.system.harness import Proc, Processes, compose_command, portal_env

MANAGE = [sys.executable, "manage.py"]
# The test plays the load balancer that terminates TLS in front of gunicorn: it sends what
# the balancer adds to every request it forwards (docs/security.md, "Production settings").
BALANCER = {"X-Forwarded-Proto": "https"}


@dataclass
class Stack:
    env: dict[str, str]
    base_url: str
    database_url: str
    fake: FakeIdentityCenter
    processes: Processes
    var_dir: Path
    # Names of worker processes that exited and were started again under another name.
    replaced: set[str] = field(default_factory=set)

    def manage(self, name: str, *args: str, **extra_env: str) -> str:
        return self.processes.run(name, [*MANAGE, *args], env={**self.env, **extra_env})

    def token(self, username: str) -> str:
        output = self.manage(f"token-{username}", "drf_create_token", username)
        match = re.search(r"\b([0-9a-f]{40})\b", output)
        assert match, output
        return match.group(1)

    def api(
        self, method: str, path: str, token: str, expect: int | tuple[int, ...], *, timeout: float = 15, **kwargs
    ) -> dict:
        response = requests.request(
            method, f"{self.base_url}/api/v1/{path}",
            headers={"Authorization": f"Token {token}", **BALANCER}, timeout=timeout, **kwargs,
        )
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def sql(self, query: str, *params: object) -> list[tuple]:
        """Rows of a query; an UPDATE gives no rows and is committed."""
        with psycopg.connect(self.database_url) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description is not None else []

    def start_worker(self, name: str = "worker") -> Proc:
        worker = self.processes.start(name, compose_command("worker"), env=self.env)
        self.processes.wait_for_log(worker, " ready.")
        return worker

    def start_beat(self) -> Proc:
        return self.processes.start("beat", compose_command("beat", var_dir=self.var_dir), env=self.env)


def start_stack(
    processes: Processes,
    *,
    database_url: str,
    fake: FakeIdentityCenter,
    var_dir: Path,
    worker: bool = True,
    beat: bool = True,
    **settings: str,
) -> Stack:
    """Migrate, then start gunicorn (and a worker and beat) with ``settings`` as environment."""
    var_dir.mkdir(exist_ok=True)
    env = portal_env(
        SECRET_KEY=secrets.token_urlsafe(40),
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        PORTAL_VAR_DIR=str(var_dir),
        **{**fake.environment(), **settings},
    )
    processes.run("migrate", compose_command("migrate"), env=env)
    port = free_port()
    web = processes.start("web", compose_command("web", port=port), env=env)
    stack = Stack(env, f"http://127.0.0.1:{port}", database_url, fake, processes, var_dir)
    if worker:
        stack.start_worker()
    if beat:
        stack.start_beat()
    processes.wait_http(f"{stack.base_url}/api/schema/", web, headers=BALANCER)
    return stack
