"""The layer rule holds by itself: ``make lint`` runs import-linter, which refuses a forbidden import.

Each case copies the package, adds one import that breaks a contract, and runs ``lint-imports`` on
the copy with the project's own contracts; the unchanged copy passes, so a failure is the import's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from familyalliance.resources import CHECKOUT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter over the package copy in ``root``, with the project's contracts."""
    env = os.environ | {"PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path) -> Path:
    """The package and its contracts, copied where the copy is the one imported."""
    shutil.copytree(CHECKOUT / "familyalliance", tmp_path / "familyalliance", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(CHECKOUT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(copy):
    result = lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/scoring.py", "import flask", "core is pure"),
        ("core/vocab.py", "from familyalliance.store import models", "Layers"),
        ("store/bulk.py", "from familyalliance.services import responses", "Layers"),
        ("services/demo.py", "from familyalliance.web import access", "Layers"),
        ("cli/data.py", "from familyalliance.web import audit", "Layers"),
        ("config.py", "from familyalliance.store import db", "config and resources"),
    ],
)
def test_a_forbidden_import_breaks_the_lint(copy, module, line, contract):
    path = copy / "familyalliance" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = lint(copy)
    assert result.returncode != 0
    assert "0 broken" not in result.stdout
    assert contract in result.stdout.split("Broken contracts")[1]
