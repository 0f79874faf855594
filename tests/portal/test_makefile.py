"""`make run` installs what the portal needs; only `make test` installs the test tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(target: str, tmp_path: Path) -> list[str]:
    """The commands ``make <target>`` would run on a fresh clone (a virtualenv not made yet)."""
    result = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout.splitlines()


def installs(lines: list[str]) -> list[str]:
    return [line for line in lines if "pip install" in line]


def test_run_installs_the_portal_without_the_test_extras(tmp_path):
    lines = dry_run("run", tmp_path)
    (install,) = installs(lines)
    assert install.endswith(" -e .") and "[test]" not in install
    assert any("manage.py serve --seed-demo" in line for line in lines)


def test_test_adds_the_test_extras(tmp_path):
    lines = dry_run("test", tmp_path)
    assert [line.split()[-1] for line in installs(lines)] == [".", "'.[test]'"]
    assert any("pytest" in line for line in lines if "pip" not in line)
