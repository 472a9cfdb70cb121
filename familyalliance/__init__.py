"""familyalliance: the working alliance in family treatment, member by member."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from . import config
from .extensions import babel, csrf, db, login_manager, migrate

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

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)

    from . import auth, cli, data, errors, families, health, i18n, questionnaire, rounds, security, vega

    i18n.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    cli.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(families.bp)
    app.register_blueprint(data.bp)
    app.register_blueprint(questionnaire.bp)
    app.register_blueprint(vega.bp)
    rounds.init_app(app)
    app.add_url_rule("/", endpoint="index", view_func=families.index)
    return app


__all__ = ["create_app", "babel", "login_manager"]
