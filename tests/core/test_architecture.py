"""The architecture contract (pyproject.toml [tool.importlinter]) holds, and catches a breach."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("accessgroups", "provisioning", "portal")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    # The tree's own packages come first on the path, ahead of the installed project.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the project's packages and contracts to break on purpose."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_project_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_domain_importing_provisioning_breaks_the_contract(tree: Path) -> None:
    _append(
        tree / "accessgroups/access/services.py",
        "from provisioning.tasks import membership_sync_task",
    )
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "The domain (accessgroups) never imports provisioning BROKEN" in result.stdout


def test_an_import_hidden_in_a_function_is_caught_too(tree: Path) -> None:
    _append(
        tree / "accessgroups/catalogue/services.py",
        "def _sneaky():\n    from provisioning import tasks\n    return tasks",
    )
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "The domain (accessgroups) never imports provisioning BROKEN" in result.stdout


def test_core_importing_a_subject_breaks_the_layers(tree: Path) -> None:
    _append(tree / "accessgroups/core/roles.py", "from accessgroups.access import services")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "Surfaces over subjects over core BROKEN" in result.stdout
