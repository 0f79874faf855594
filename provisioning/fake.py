"""The embedded fake Identity Center: a moto server that `make run` starts when no
``AWS_ENDPOINT_URL`` is given, so a fresh clone has something to provision into.

It runs as its own process (not a thread of the portal) so that it cannot slow the
supervisor down and dies with a plain signal. It starts empty every time: ids stored in the
database from an earlier run are then stale, and provisioning heals them (see DESIGN.md).
The system tests start the same server to reach it over HTTP, as real AWS would be.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

DEFAULT_REGION = "us-east-1"

# moto accepts any credentials; boto3 only needs some to sign requests.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "fake-identity-center",
    "AWS_SECRET_ACCESS_KEY": "fake-identity-center",
}


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers over HTTP (any status code counts as up).

    Raises RuntimeError when ``process`` exits first or ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited with code {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # It answered; the status code does not matter here.
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last_error = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s ({last_error})")


class FakeIdentityCenter:
    """A moto server child process on 127.0.0.1.

    ``environment()`` is what every process that talks to it needs: the endpoint, dummy
    credentials and a region. Use as a context manager or call start()/stop().
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = DEFAULT_REGION,
        log: IO[bytes] | int | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.region = region
        self._log = log if log is not None else subprocess.DEVNULL
        self.process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **DUMMY_CREDENTIALS,
        }

    def command(self) -> list[str]:
        # The console script of moto[server], next to the interpreter running us, so the
        # fake is the same moto as the project's (and works without an activated venv).
        script = Path(sys.executable).with_name("moto_server")
        program = [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]
        return [*program, "-H", self.host, "-p", str(self.port)]

    def start(self, *, timeout: float = 30, env: Mapping[str, str] | None = None, **popen_kwargs) -> None:
        base = dict(os.environ if env is None else env)
        # moto's own server must not be pointed at itself or at real AWS.
        base.pop("AWS_ENDPOINT_URL", None)
        base.update(DUMMY_CREDENTIALS)
        self.process = subprocess.Popen(
            self.command(), env=base, stdout=self._log, stderr=subprocess.STDOUT, **popen_kwargs
        )
        try:
            wait_for_http(f"{self.endpoint_url}/moto-api/", timeout=timeout, process=self.process)
        except RuntimeError:
            self.stop()
            raise

    def stop(self, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> FakeIdentityCenter:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
