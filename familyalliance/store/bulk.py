"""Bulk writes: many plain rows into one table on the fastest path each database offers.

PostgreSQL gets COPY (psycopg 3), SQLite the driver's executemany; both in the caller's
transaction. A violated constraint surfaces as SQLAlchemy's IntegrityError on every path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import sqlalchemy as sa


def native(connection: sa.Connection, value):
    """A date or time as the driver stores it (on SQLite: the text SQLAlchemy itself would write)."""
    if connection.dialect.name != "sqlite":
        return value
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def insert(
    connection: sa.Connection, table: str, columns: Sequence[str], rows: Iterable[tuple], skip_existing: bool = False
) -> None:
    """Insert plain tuples (in ``columns`` order) into ``table``.

    With ``skip_existing``, rows whose key is already stored are left out (INSERT ... ON CONFLICT DO NOTHING).
    """
    raw = connection.connection.driver_connection
    names = ", ".join(columns)
    postgres = connection.dialect.name == "postgresql"
    try:
        if skip_existing or not postgres:
            marks = ", ".join(["%s" if postgres else "?"] * len(columns))
            conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
            cursor = raw.cursor()
            try:
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}){conflict}", rows)
            finally:
                cursor.close()
        else:
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    except connection.dialect.dbapi.IntegrityError as exc:
        raise sa.exc.IntegrityError(f"bulk insert into {table}", None, exc) from exc
