"""The database: the Flask-SQLAlchemy handle, the constraint naming convention and how transactions begin.

SQLite runs with foreign keys enforced (so cascades behave as on PostgreSQL) and WAL; a
request that sends a form takes SQLite's write lock when its transaction begins.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from flask import g, has_app_context, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

# Named constraints so that migrations can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def begin_write() -> None:
    """End the session's transaction; the next one in this request is a writing one.

    On SQLite it then takes the write lock when it begins (BEGIN IMMEDIATE, see
    ``_sqlite_begin``), so a read followed by a write cannot fail on a snapshot another
    request made stale; elsewhere this only ends the transaction.
    """
    db.session.rollback()
    if has_app_context():  # a request's, or a thread's of its own (services.refresher)
        g.write_transaction = True


@sa.event.listens_for(sa.engine.Engine, "connect")
def _connection_settings(dbapi_connection, connection_record) -> None:
    """Make SQLite enforce foreign keys (and so cascades) like PostgreSQL, and use WAL; PostgreSQL without JIT."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
        # SQLAlchemy, not the driver, begins transactions (see _sqlite_begin).
        dbapi_connection.isolation_level = None
    elif "psycopg" in type(dbapi_connection).__module__:
        # PostgreSQL's JIT compiles a statement whose estimated cost is high, such as a count of a large team's
        # caseload (measured: 37 ms instead of 3 ms at 20,000 families); this app's statements are short.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()


@sa.event.listens_for(sa.engine.Engine, "begin")
def _sqlite_begin(connection) -> None:
    """On SQLite, a request that sends a form takes the write lock when its transaction begins.

    A transaction that reads and then writes could otherwise find, at its first write, that
    another request wrote in between, and fail at once ("database is locked"): with BEGIN
    IMMEDIATE, concurrent form posts (two therapists saving one session) wait their turn for
    ``busy_timeout``. Reading pages keep SQLite's deferred transactions, so readers never wait,
    until they call :func:`begin_write` to write (the audit log, the caseload's summaries).
    """
    if connection.dialect.name != "sqlite":
        return
    sending = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
    writing = sending or (has_app_context() and g.get("write_transaction", False))
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")
