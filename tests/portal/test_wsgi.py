"""The web server's application (portal.wsgi): the views are loaded before the first request,
and what was loaded is kept out of the garbage collector's full collections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.system.harness import REPO, portal_env

PROBE = """
import gc, json, sys
import portal.wsgi
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "loaded": [m for m in ("portal.urls", "accessgroups.web.approver") if m in sys.modules],
}))
"""


def test_the_application_loads_its_views_and_freezes_what_it_loaded(tmp_path: Path) -> None:
    env = portal_env(DEBUG="0", SECRET_KEY="x" * 50, PORTAL_VAR_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found["loaded"] == ["portal.urls", "accessgroups.web.approver"]
    # Tens of thousands of objects (modules, classes, functions) are frozen; what the
    # collector still walks is what was made afterwards.
    assert found["frozen"] > 50_000 and found["tracked"] < found["frozen"] // 10
