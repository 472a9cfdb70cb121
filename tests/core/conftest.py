"""The core tier is pure, as ``familyalliance.core`` is: no app, no database, no web.

Before a test here runs, it is failed if it asks for a fixture that makes an app or touches the
database, or if its module imports Flask, SQLAlchemy, the layers above core, or the helpers that
need them (factories, scenarios). ``pytest tests/core`` takes seconds.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

#: The fixtures of ``tests/conftest.py`` and ``tests/scenarios.py`` that make an app or use the database.
APP_FIXTURES = frozenset({"database_url", "schema", "app", "make_app", "client", "runner", "auth", "scenario"})

#: Modules a core test may not import (a name, or a name and everything under it).
IMPURE = (
    "flask",
    "flask_babel",
    "flask_limiter",
    "flask_login",
    "flask_migrate",
    "flask_sqlalchemy",
    "flask_wtf",
    "werkzeug",
    "wtforms",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "playwright",
    "familyalliance.store",
    "familyalliance.services",
    "familyalliance.web",
    "familyalliance.cli",
    "familyalliance.config",
    "familyalliance.resources",
    "tests.conftest",
    "tests.factories",
    "tests.scenarios",
    "tests.livebrowser",
)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _impure(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in IMPURE)


@functools.cache
def impure_imports(path: Path, package: str) -> list[str]:
    """The modules of IMPURE that the test module at ``path`` imports, anywhere in it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            names = [module] if _impure(module) else [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [name for name in names if _impure(name)]
    return sorted(set(found))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """Fail a core test that would make an app, touch the database or import what does, before any fixture runs."""
    fixtures = sorted(APP_FIXTURES & set(item.fixturenames))
    if fixtures:
        pytest.fail(f"a core test uses no app or database, but {item.nodeid} asks for {', '.join(fixtures)}")
    module = item.module
    imports = impure_imports(Path(module.__file__), module.__package__ or "")
    if imports:
        pytest.fail(f"a core test imports nothing above core, but {module.__name__} imports {', '.join(imports)}")
