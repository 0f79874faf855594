"""`manage.py serve`: the portal with everything it needs, as one process tree.

Starts, as child processes: a fake Identity Center (unless ``AWS_ENDPOINT_URL`` is set), a
Celery worker on the queues ``celery`` and ``identity-center``, Celery beat, and the web
server. With no ``CELERY_BROKER_URL`` the worker and the web server share kombu's
filesystem transport under the var folder, so no broker has to be installed; tasks still
run in the worker, never inside a web request.

Each child runs in its own process group, so a Ctrl+C in the terminal reaches this process
only, which then stops the children in order (web first, fake last) and waits for them.
On Linux the children are also told to stop if this process dies without cleaning up.
"""

from __future__ import annotations

import ctypes
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.celery import SERVE_READY_DIR
from provisioning.fake import FakeIdentityCenter, wait_for_http

QUEUES = "celery,identity-center"
# How long a child may take to stop after SIGTERM: a worker finishes its running tasks.
STOP_TIMEOUT_SECONDS = 30
# How long the demo printout waits for the provisioning that seeding enqueued, so that the
# worker's lines about it come before the printout rather than after (it never blocks more).
SETTLE_SECONDS = 20


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the parent dies (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_for_provisioning(timeout: float) -> None:
    """Until nothing waits for provisioning, or ``timeout`` seconds."""
    from accessgroups.models import AccessGroup, Membership, ProvisioningStatus, User

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(
            model.objects.filter(provisioning_status=ProvisioningStatus.PENDING).exists()
            for model in (User, AccessGroup, Membership)
        ):
            # The worker's last lines (and the mails that follow) a moment to be written.
            time.sleep(1)
            return
        time.sleep(0.3)


class StopRequested(BaseException):
    """Raised by the signal handler: not an Exception, so no ``except Exception`` eats it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    stopped: bool = field(default=False)

    def signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


class Supervisor:
    """Starts children, notices when one dies, and stops them all."""

    def __init__(self, env: dict[str, str], log) -> None:
        self.env = env
        self.log = log
        self.children: list[Child] = []

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            command,
            env=self.env,
            cwd=str(settings.BASE_DIR),
            process_group=0,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self.children.append(Child(name, process))
        self.log(f"started {name} (pid {process.pid})")
        return process

    def adopt(self, name: str, process: subprocess.Popen) -> None:
        self.children.append(Child(name, process))

    @staticmethod
    def request_stop(signum: int, frame: FrameType | None) -> None:
        raise StopRequested(signum)

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop_all(self) -> None:
        # Newest first: the web server stops taking requests before the worker goes away.
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.signal_group(signal.SIGTERM)
                try:
                    child.process.wait(STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    self.log(f"{child.name} did not stop within {STOP_TIMEOUT_SECONDS} s; killing it")
                    child.signal_group(signal.SIGKILL)
                    child.process.wait()
            # Anything the child left behind in its group (e.g. gunicorn's workers).
            child.signal_group(signal.SIGKILL)
            self.log(f"stopped {child.name}")


class Command(BaseCommand):
    help = (
        "Serve the portal with an embedded Celery worker and beat, and a fake Identity Center "
        "unless AWS_ENDPOINT_URL is set. Stops them all on Ctrl+C or SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--server",
            choices=("runserver", "gunicorn"),
            default="runserver",
            help="runserver (serves static files with DEBUG on) or gunicorn (as in production).",
        )
        parser.add_argument("--concurrency", type=int, default=4, help="Threads of the embedded worker.")
        parser.add_argument(
            "--fake-port", type=int, default=0, help="Port of the fake Identity Center (0: any free port)."
        )
        parser.add_argument("--seed-demo", action="store_true", help="Run seed_demo once the portal answers.")
        parser.add_argument("--ready-timeout", type=float, default=120)

    def log(self, message: str) -> None:
        self.stdout.write(f"[serve] {message}")
        self.stdout.flush()

    def handle(self, *args, **options) -> None:
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = settings.SETTINGS_MODULE
        env["PYTHONUNBUFFERED"] = "1"
        supervisor = Supervisor(env, self.log)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, supervisor.request_stop)

        base_url = f"http://{options['host']}:{options['port']}"
        # Links in mail point at this server unless the environment says otherwise.
        env.setdefault("PORTAL_BASE_URL", base_url)
        failed: str | None = None
        ready_dir = tempfile.mkdtemp(prefix="portal-serve-")
        env[SERVE_READY_DIR] = ready_dir
        try:
            self._start(supervisor, options, base_url)
            self._wait_for_celery(supervisor, Path(ready_dir), options["ready_timeout"])
            if options["seed_demo"]:
                # In this process, after the web server answers and the worker and beat have
                # started, so that the printout comes after their start-up lines; the worker
                # picks up what seeding enqueues, and its lines about that come first too.
                printout = io.StringIO()
                call_command("seed_demo", base_url=base_url, stdout=printout)
                _wait_for_provisioning(SETTLE_SECONDS)
                self.stdout.write(printout.getvalue(), ending="")
            self.log(f"the portal is ready at {base_url}/ (Ctrl+C stops everything)")
            while (dead := supervisor.dead_child()) is None:
                time.sleep(0.5)
            failed = f"{dead.name} exited with code {dead.process.returncode}"
        except StopRequested as stop:
            self.log(f"{stop}: stopping")
        except Exception as exc:
            failed = f"{type(exc).__name__}: {exc}"
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
            supervisor.stop_all()
            shutil.rmtree(ready_dir, ignore_errors=True)
        if failed:
            raise CommandError(f"stopped because {failed}")

    def _wait_for_celery(self, supervisor: Supervisor, ready_dir: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all((ready_dir / name).exists() for name in ("worker", "beat")):
            if (dead := supervisor.dead_child()) is not None:
                raise CommandError(f"{dead.name} exited with code {dead.process.returncode}")
            if time.monotonic() > deadline:
                self.log(f"the worker or beat did not say it was ready within {timeout:.0f} s")
                return
            time.sleep(0.2)

    def _start(self, supervisor: Supervisor, options: dict, base_url: str) -> None:
        env = supervisor.env
        python = sys.executable
        if not env.get("AWS_ENDPOINT_URL"):
            fake = FakeIdentityCenter(port=options["fake_port"])
            fake.start(
                env=env,
                process_group=0,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
            supervisor.adopt("fake Identity Center", fake.process)
            env.update(fake.environment())
            self.log(f"fake Identity Center (moto server) at {fake.endpoint_url}")
        else:
            self.log(f"Identity Center endpoint: {env['AWS_ENDPOINT_URL']}")

        var_dir = str(settings.VAR_DIR)
        # -q: no banner (the tasks it knows, its configuration); its log lines stay.
        celery = [python, "-m", "celery", "-A", "portal", "-q"]
        loglevel = settings.LOG_LEVEL
        supervisor.spawn(
            "worker",
            [
                *celery, "worker",
                "-Q", QUEUES,
                "--pool", "threads",
                "--concurrency", str(options["concurrency"]),
                "--hostname", f"embedded-{os.getpid()}@%h",
                "--without-mingle", "--without-gossip",
                "--loglevel", loglevel,
            ],
        )
        supervisor.spawn(
            "beat",
            [
                *celery, "beat",
                "--schedule", os.path.join(var_dir, "celerybeat-schedule"),
                "--loglevel", loglevel,
            ],
        )
        address = f"{options['host']}:{options['port']}"
        if options["server"] == "gunicorn":
            web = [python, "-m", "gunicorn", "portal.wsgi", "--bind", address, "--workers", "2"]
            if not settings.ACCESS_LOG:  # else the portal writes the access lines itself
                web += ["--access-logfile", "-"]
        else:
            # --nostatic: WhiteNoise serves static files (from the finders with DEBUG), so
            # that they pass the access log and get the portal's headers, as in production.
            web = [python, "-m", "django", "runserver", "--noreload", "--nostatic", address]
        process = supervisor.spawn("web", web)
        wait_for_http(f"{base_url}/api/schema/", timeout=options["ready_timeout"], process=process)
