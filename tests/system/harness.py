"""Real processes for the system tests: start, wait until ready, stop, keep their logs.

Each process runs in its own process group, so stopping it also stops what it forked
(gunicorn's workers). Output goes to a log file per process; when a test fails, the tails
of the logs are attached to its report (see conftest.py).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import requests
import yaml

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
POSTGRES_URL = (
    os.environ.get("DATABASE_URL", "")
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    else "postgres://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("SYSTEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
VENV_BIN = Path(sys.executable).parent

# Variables of the test run that must not leak into the portal's processes.
_PRIVATE_ENV = (
    "DJANGO_", "DATABASE_URL", "CELERY_", "AWS_", "PORTAL_", "IDENTITY_", "SECRET_KEY", "DEBUG",
    "PYTEST_", "SECURE_", "SESSION_",
)


def require(available: bool, reason: str) -> None:
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: this must not be skipped)")
    pytest.skip(reason)


def portal_env(**extra: str) -> dict[str, str]:
    """The environment of a portal process: the machine's, without the test run's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV)}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


def compose_command(service: str, *, port: int | None = None, var_dir: Path | None = None) -> list[str]:
    """The command docker-compose.yml gives ``service``, made to run here.

    Programs come from this virtualenv, the web server binds to 127.0.0.1:``port``, and
    paths under the image's /var/lib/portal move to ``var_dir``.
    """
    spec = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = list(spec["services"][service]["command"])
    command[0] = str(VENV_BIN / command[0]) if (VENV_BIN / command[0]).exists() else command[0]
    if port is not None:
        command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    if var_dir is not None:
        command = [arg.replace("/var/lib/portal", str(var_dir)) for arg in command]
    return command


@dataclass
class Proc:
    name: str
    command: list[str]
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Processes:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.started: list[Proc] = []
        self.runs: list[Path] = []

    def start(self, name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path = REPO) -> Proc:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            log.write(f"$ {shlex.join(command)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                list(command), env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, process_group=0,
            )
        proc = Proc(name, list(command), process, log_path)
        self.started.append(proc)
        return proc

    def run(
        self, name: str, command: Sequence[str], *, env: Mapping[str, str], timeout: float = 120, cwd: Path = REPO
    ) -> str:
        """Run a command to completion; its output is returned and kept with the logs."""
        result = subprocess.run(
            list(command), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        log_path = self.log_dir / f"{name}.log"
        log_path.write_text(f"$ {shlex.join(command)}\n{result.stdout}{result.stderr}")
        self.runs.append(log_path)
        if result.returncode != 0:
            raise AssertionError(
                f"{name} exited with {result.returncode}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        return result.stdout

    def wait_http(
        self, url: str, proc: Proc, *, timeout: float = 60, headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        """Wait until ``url`` answers 200; fail early when ``proc`` dies."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited with {proc.process.returncode} before {url} answered")
            try:
                response = requests.get(url, headers=dict(headers or {}), timeout=5)
                if response.status_code == 200:
                    return response
                last = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        raise AssertionError(f"{url} did not answer 200 within {timeout:.0f} s (last: {last})")

    def wait_for_log(self, proc: Proc, text: str, *, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = proc.log()
            if text in log:
                return log
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited with {proc.process.returncode} before logging {text!r}")
            time.sleep(0.2)
        raise AssertionError(f"{proc.name} did not log {text!r} within {timeout:.0f} s")

    def stop(self, proc: Proc, *, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the process (not its group: it must stop its own children) and wait."""
        if proc.alive():
            proc.process.send_signal(sig)
            try:
                proc.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                proc.process.wait()
                raise AssertionError(
                    f"{proc.name} did not stop within {timeout:.0f} s of {signal.Signals(sig).name}"
                ) from None
        return proc.process.returncode

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            if proc.alive():
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.process.wait(20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            _kill_group(proc.pid)
            if proc.alive():
                proc.process.wait()

    def report(self, tail_lines: int = 80) -> str:
        """The end of every log, for a failed test's report."""
        parts = []
        for path in [*(p.log_path for p in self.started), *self.runs]:
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            parts.append(f"----- {path.name} (last {tail_lines} of {len(lines)} lines) -----")
            parts.extend(lines[-tail_lines:])
        return "\n".join(parts)


def wait_until(check: Callable[[], T], *, timeout: float, what: str, interval: float = 0.5) -> T:
    """Call ``check`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def descendants(pid: int) -> set[int]:
    """Live (not zombie) processes below ``pid``, read from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after it.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, ppid = fields[0], int(fields[1])
        if state != "Z":
            parents[int(entry)] = ppid
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"
