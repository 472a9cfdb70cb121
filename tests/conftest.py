"""Fixtures in the style of Flask's tutorial: ``app``, ``client``, ``runner`` and ``auth``, for every tier.

The tests mirror the package's layers: ``core/`` (pure: no app, no database), ``store/``,
``services/``, ``cli/``, ``web/`` and ``system/`` (browsers, processes, threads, fuzzing).

The suite runs on SQLite by default and on PostgreSQL when ``TEST_DATABASE_URL`` names
one. The schema is built once per run by the real migrations; each test then starts
from empty tables. Every app of the run uses one temporary instance folder
(``instance_folder``), never the checkout's ``instance/``. The people and families of a
shared scenario come from ``scenarios.py`` (the ``scenario`` fixture).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import SimpleNamespace

import flask_migrate
import pytest
import redis
import sqlalchemy as sa

from familyalliance import create_app
from familyalliance.store.db import db

from .factories import PASSWORD

pytest_plugins = ["tests.scenarios"]

#: Where the app looks for its instance folder (``familyalliance.resources.instance_path``).
INSTANCE_ENV = "FAMILYALLIANCE_INSTANCE_PATH"
#: The Redis of the tests marked ``shared_state`` (``make test-postgres`` gives redis://127.0.0.1:6379/15).
REDIS_ENV = "TEST_REDIS_URL"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "scenario(*parts): the families the scenario fixture builds (scenarios.py)")


def pytest_runtest_setup(item) -> None:
    """A ``shared_state`` test without its Redis fails, saying so: a skip would pass unseen in CI."""
    if item.get_closest_marker("shared_state") and not os.environ.get(REDIS_ENV):
        pytest.fail(
            f"{item.nodeid} needs Redis and PostgreSQL: run `make test-postgres`, or set {REDIS_ENV} "
            "(redis://127.0.0.1:6379/15) and TEST_DATABASE_URL (postgresql://...); `make test` deselects it",
            pytrace=False,
        )


@pytest.fixture
def shared_redis():
    """``TEST_REDIS_URL``, a key prefix of this test alone and a client; the test's keys are deleted after."""
    url = os.environ[REDIS_ENV]
    prefix = f"fa-test-{secrets.token_hex(6)}"
    client = redis.Redis.from_url(url)
    yield SimpleNamespace(url=url, prefix=prefix, client=client)
    for name in client.scan_iter(match=f"*{prefix}*", count=1000):
        client.unlink(name)
    client.close()


@pytest.fixture(scope="session", autouse=True)
def instance_folder(tmp_path_factory) -> Path:
    """A temporary instance folder for every app of the run (secret keys, instance/config.py, the Vega cache).

    Set before any app is made (session-scoped and autouse, it comes before ``schema``), so no test
    reads the developer's settings or keys from the checkout's ``instance/`` or writes there;
    processes the tests start inherit it.
    """
    folder = tmp_path_factory.mktemp("instance")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(INSTANCE_ENV, str(folder))
        yield folder


def base_config(database_url: str) -> dict:
    """Settings for a test app: a given database, cheap password hashing, no CSRF."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "PSEUDONYM_KEY": "test-pseudonym-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        # Argon2id stays the algorithm; only its cost is lowered so the suite runs fast.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 8,
        "ARGON2_PARALLELISM": 1,
        # Staff log in with the password alone here; the two-factor tests turn it on (production: on).
        "TWO_FACTOR_ROLES": [],
        # No thread refreshes changed families after a commit, so every test sees what its own requests did; the
        # refresher's tests (tests/services/test_refresher.py) turn it on and wait for it.
        "REFRESH_AHEAD": False,
    }


def pytest_report_header(config) -> str:
    """Say which database the suite runs on."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return "database: SQLite (temporary file)"
    return f"database: {sa.engine.make_url(url).render_as_string(hide_password=True)}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The test database: ``TEST_DATABASE_URL``, or a fresh SQLite file."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite")


@pytest.fixture(scope="session")
def schema(database_url: str) -> str:
    """Drop whatever a previous run left, then build the schema with the migrations.

    The tables are read from the database, not taken from the models: a run of an older version
    leaves tables today's models no longer know (``member_link``), which still hold foreign keys.
    """
    app = create_app(base_config(database_url))
    with app.app_context():
        left = sa.MetaData()
        left.reflect(db.engine)
        left.drop_all(db.engine)
        db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        flask_migrate.upgrade()
        db.engine.dispose()
    return database_url


def empty_tables() -> None:
    """Delete every row, children before parents; the append-only audit log with its guard lifted."""
    for table in reversed(db.metadata.sorted_tables):
        if table.name != "audit_event":
            db.session.execute(table.delete())
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        db.session.execute(sa.text("DELETE FROM audit_event"))
        db.session.execute(sa.text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
    else:
        guards = db.session.execute(
            sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'")
        ).all()
        for name, _ in guards:
            db.session.execute(sa.text(f"DROP TRIGGER {name}"))
        db.session.execute(sa.text("DELETE FROM audit_event"))
        for _, sql in guards:
            db.session.execute(sa.text(sql))
    db.session.commit()


@pytest.fixture
def app(schema: str):
    """A test app on empty tables."""
    app = create_app(base_config(schema))
    yield app
    with app.app_context():
        db.session.remove()
        empty_tables()
        db.engine.dispose()


@pytest.fixture
def make_app(schema: str):
    """Make further apps on the test database with changed settings; their connections are closed after."""
    made = []

    def make(**overrides):
        other = create_app(base_config(schema) | overrides)
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A runner for the app's CLI commands."""
    return app.test_cli_runner()


class AuthActions:
    """Log in and out through the real form."""

    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        return self._client.post("/login", data={"email": email, "password": password}, **kwargs)

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    """Log in and out as a test user."""
    return AuthActions(client)
