"""familyalliance: the working alliance in family treatment, member by member."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, g, has_request_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config
from .extensions import babel, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """Make SQLite enforce foreign keys (and so cascades) like PostgreSQL, and use WAL."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
        # SQLAlchemy, not the driver, begins transactions (see _sqlite_begin).
        dbapi_connection.isolation_level = None


@sa.event.listens_for(sa.engine.Engine, "begin")
def _sqlite_begin(connection) -> None:
    """On SQLite, a request that sends a form takes the write lock when its transaction begins.

    A transaction that reads and then writes could otherwise find, at its first write, that
    another request wrote in between, and fail at once ("database is locked"): with BEGIN
    IMMEDIATE, concurrent form posts (two therapists saving one session) wait their turn for
    ``busy_timeout``. Reading pages keep SQLite's deferred transactions, so readers never wait,
    until they call ``extensions.begin_write`` to write (the audit log, the caseload's summaries).
    """
    if connection.dialect.name != "sqlite":
        return
    writing = has_request_context() and (request.method not in ("GET", "HEAD", "OPTIONS") or g.get("write_transaction"))
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    config.configure(app, test_config)

    if app.config["PROXY_FIX_X_FOR"]:
        hops = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)

    from . import (
        access,
        admin,
        audit,
        auth,
        cli,
        data,
        errors,
        families,
        health,
        i18n,
        questionnaire,
        rounds,
        security,
        vega,
    )

    i18n.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    auth.init_app(app)  # ends expired sessions, before the access guard looks at the user
    app.before_request(access.guard)
    app.add_template_global(access.may)
    audit.init_app(app)
    cli.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(families.bp)
    app.register_blueprint(data.bp)
    app.register_blueprint(questionnaire.bp)
    app.register_blueprint(vega.bp)
    app.register_blueprint(admin.bp)
    rounds.init_app(app)
    app.add_url_rule("/", endpoint="index", view_func=families.index)
    return app


__all__ = ["create_app", "babel", "login_manager"]
