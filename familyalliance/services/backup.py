"""Online backup and restore of the SQLite database, and the pg_dump/pg_restore commands for PostgreSQL.

SQLite copies go through SQLite's own backup API (``sqlite3.Connection.backup``), never a
file copy: the whole database is copied in one step inside one read transaction, so the
copy is a consistent snapshot of what was committed (including what still sits in the
WAL file) while the app goes on serving and writing. A backup is written to a private
temporary file next to its target, made self-contained (rollback journal instead of WAL),
checked (``PRAGMA integrity_check``, an ``alembic_version`` row) and only then moved into
place. A restore copies the other way, backup file into the live database, as one write
transaction of the live database: other connections see the old database or the restored
one, never a mixture, and a live file in WAL mode stays consistent.

PostgreSQL is backed up with ``pg_dump -Fc`` and restored with ``pg_restore``; this module
only words those commands from the configured URL (without its password).

Everything that can go wrong for a user raises ``BackupError`` with a message fit to show.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shlex
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory

#: The tables whose row counts a backup and a restore report.
MAIN_TABLES = ("family", "member", "therapy_session", "response")
#: How long to wait for a lock held by the running app (milliseconds).
BUSY_TIMEOUT_MS = 10_000


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, for the user."""


@dataclass(frozen=True)
class Summary:
    """What an SQLite database file holds: checked, with its revision and the main tables' row counts."""

    path: Path
    size: int
    tables: int
    counts: dict[str, int]
    revisions: tuple[str, ...]

    def describe(self) -> str:
        """``family 5, member 20, therapy_session 40, response 3456``."""
        return ", ".join(f"{table} {count}" for table, count in self.counts.items())

    @property
    def revision(self) -> str:
        return ", ".join(self.revisions)


# --- which database ---------------------------------------------------------------------------


def is_postgresql(url: sa.engine.URL) -> bool:
    return url.get_backend_name() == "postgresql"


def sqlite_path(url: sa.engine.URL) -> Path:
    """The file of an SQLite URL; other databases and in-memory SQLite are refused."""
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            f"backup and restore handle SQLite and PostgreSQL; this database is {url.get_backend_name()}."
        )
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("the configured SQLite database is not a plain file (in memory or a URI); nothing to copy.")
    return Path(url.database).resolve()


# --- PostgreSQL: the commands to use ----------------------------------------------------------


def _pg_connection_args(url: sa.engine.URL) -> list[str]:
    """``-h HOST -p PORT -U USER -d DB`` for the libpq tools, never the password.

    Connection options in the URL's query (``sslmode=require``, ...) go into ``-d`` as a
    libpq connection string, which the tools accept there.
    """
    args = []
    if url.host:
        args += ["-h", url.host]
    if url.port:
        args += ["-p", str(url.port)]
    if url.username:
        args += ["-U", url.username]
    database = url.database or ""
    if url.query:

        def quote(value: str) -> str:
            if value and not any(c in value for c in " '\\"):
                return value
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

        options = [f"dbname={quote(database)}"]
        for key, value in url.query.items():
            for one in (value,) if isinstance(value, str) else value:
                options.append(f"{key}={quote(one)}")
        database = " ".join(options)
    return [*args, "-d", database]


def _command(*parts: str) -> str:
    return " ".join(shlex.quote(part) for part in parts)


def _password_note(url: sa.engine.URL) -> str:
    if url.password:
        return "The password in the configured URL is not shown: give it through PGPASSWORD or ~/.pgpass."
    return "The tools ask for a password when one is needed, or read it from PGPASSWORD or ~/.pgpass."


def postgres_backup_guidance(url: sa.engine.URL, path: Path | str) -> str:
    """Why ``backup`` does nothing on PostgreSQL, and the ``pg_dump`` command that does it."""
    dump = _command("pg_dump", "-Fc", *_pg_connection_args(url), "-f", str(path))
    return (
        "The database is PostgreSQL: back it up with pg_dump in its custom format (-Fc), "
        "which is consistent while the app runs:\n\n"
        f"  {dump}\n\n"
        f"{_password_note(url)} See docs/operations.md."
    )


def postgres_restore_guidance(url: sa.engine.URL, path: Path | str) -> str:
    """Why ``restore`` does nothing on PostgreSQL, and the ``createdb``/``pg_restore`` commands that do it."""
    args = _pg_connection_args(url)
    server_args = args[:-2]  # the same server, without -d
    name = url.database or "familyalliance"
    restored = f"{name}_restored"
    create = _command("createdb", *server_args, "-T", "template0", restored)
    restore = _command("pg_restore", *server_args, "-d", restored, "--no-owner", "--single-transaction", str(path))
    return (
        "The database is PostgreSQL: restore a pg_dump -Fc file with pg_restore, into an empty database, "
        "with the app stopped:\n\n"
        f"  {create}\n"
        f"  {restore}\n\n"
        f"Then point DATABASE_URL at {restored} (or drop {name}, create it empty and restore into it), "
        "run `flask --app familyalliance db upgrade` and start the app.\n"
        f"{_password_note(url)} See docs/operations.md."
    )


# --- SQLite -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _connect(path: Path, mode: str) -> Iterator[sqlite3.Connection]:
    """An SQLite connection to ``path`` (``mode`` ``ro``, ``rw`` or ``rwc``), closed afterwards."""
    connection = sqlite3.connect(f"{path.as_uri()}?mode={mode}", uri=True, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        yield connection
    finally:
        connection.close()


class _StillLocked(sqlite3.OperationalError):
    """The backup API kept finding a database locked for longer than ``BUSY_TIMEOUT_MS``."""


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """Copy ``source`` into ``target`` with the backup API, all pages in one step (one snapshot).

    Python retries a step that finds a lock forever; the progress callback gives up after
    ``BUSY_TIMEOUT_MS`` instead, and the target is left as it was.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000

    def progress(status: int, remaining: int, total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise _StillLocked("database is locked")

    source.backup(target, pages=-1, progress=progress, sleep=0.05)


def _sqlite_problem(exc: sqlite3.Error, path: Path, when_locked: str = "try again") -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return f"{path} is not an SQLite database (or it is damaged)."
    if "locked" in text or "busy" in text:
        return f"{path} stayed locked by another connection for {BUSY_TIMEOUT_MS / 1000:g} s; {when_locked}."
    return f"{path}: {text}."


def inspect(path: Path) -> Summary:
    """Open an SQLite file read-only and check it: integrity, an ``alembic_version`` row; count the main tables.

    Raises BackupError when the file is missing, not SQLite, damaged, or not a database of this app.
    """
    if not path.exists():
        raise BackupError(f"{path} does not exist.")
    if not path.is_file():
        raise BackupError(f"{path} is not a file.")
    if not os.access(path, os.R_OK):
        raise BackupError(f"{path} cannot be read (permissions).")
    try:
        with _connect(path, "ro") as connection:
            result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                shown = "; ".join(map(str, result[:5]))
                raise BackupError(f"{path} is damaged; SQLite's integrity check found: {shown}")
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "alembic_version" not in tables:
                raise BackupError(
                    f"{path} is an SQLite database, but not one of familyalliance (it has no alembic_version table)."
                )
            revisions = tuple(sorted(row[0] for row in connection.execute("SELECT version_num FROM alembic_version")))
            if not revisions:
                raise BackupError(f"{path} has an empty alembic_version table: its schema version is unknown.")
            missing = [table for table in MAIN_TABLES if table not in tables]
            if missing:
                raise BackupError(
                    f"{path} is not a database of familyalliance: it lacks the table(s) {', '.join(missing)}."
                )
            counts = {
                table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in MAIN_TABLES
            }
    except sqlite3.Error as exc:
        raise BackupError(_sqlite_problem(exc, path)) from None
    return Summary(path, path.stat().st_size, len(tables), counts, revisions)


def revision_state(revisions: tuple[str, ...], scripts: ScriptDirectory) -> str:
    """``"current"`` when ``revisions`` are the migrations' heads, ``"older"`` when they are known but behind.

    Raises BackupError for a revision the migrations do not know (another app, or a newer version of this one).
    """
    known = {script.revision for script in scripts.walk_revisions()}
    unknown = [revision for revision in revisions if revision not in known]
    if unknown:
        raise BackupError(
            f"its schema revision {', '.join(unknown)} is not one of this code's migrations: the file comes from "
            "another application or from a newer version of familyalliance (update the code first)."
        )
    return "current" if set(revisions) == set(scripts.get_heads()) else "older"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _refuse_live_files(target: Path, live: Path, what: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        live_file = live.with_name(live.name + suffix)
        if target.resolve() == live_file or _same_file(target, live_file):
            raise BackupError(f"{target} is the live database{' ' + suffix if suffix else ''} itself; {what}.")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place(tmp: Path, target: Path, force: bool) -> None:
    """Move the finished ``tmp`` to ``target`` atomically; without ``force`` never over an existing file."""
    if force:
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # fails if target exists, even if it appeared a moment ago
        except FileExistsError:
            raise BackupError(f"{target} exists; choose another name or use --force to replace it.") from None
        except OSError:  # a file system without hard links
            if target.exists():
                raise BackupError(f"{target} exists; choose another name or use --force to replace it.") from None
            os.replace(tmp, target)
        else:
            tmp.unlink()
    with contextlib.suppress(OSError):  # make the rename durable where the platform allows
        _fsync(target.parent)


def backup_sqlite(live: Path, target: Path, force: bool = False) -> Summary:
    """Copy the live SQLite database to ``target`` online, check the copy, and return what it holds.

    The copy is written to a temporary file (mode 0600) in ``target``'s directory and renamed
    into place only after it passed the checks; ``target`` is never left half-written.
    """
    target = Path(os.path.abspath(target))
    if target.is_dir():
        raise BackupError(f"{target} is a directory; give the backup file's name.")
    if not target.parent.is_dir():
        raise BackupError(f"the directory {target.parent} does not exist.")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise BackupError(f"cannot write to the directory {target.parent} (permissions).")
    if target.exists() and not force:
        raise BackupError(f"{target} exists; choose another name or use --force to replace it.")
    if target.exists() and not os.access(target, os.W_OK):
        raise BackupError(f"{target} cannot be replaced (permissions).")
    _refuse_live_files(target, live, "a backup must go elsewhere")
    if not live.is_file():
        raise BackupError(f"there is no database at {live}; run `flask --app familyalliance db upgrade` first.")

    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise BackupError(f"cannot write in {target.parent}: {exc.strerror}.") from None
    os.close(fd)
    tmp = Path(name)
    try:
        try:
            with _connect(live, "ro") as source, _connect(tmp, "rw") as copy:
                _copy(source, copy)
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        except sqlite3.Error as exc:
            raise BackupError(f"the backup failed: {_sqlite_problem(exc, live)}") from None
        try:
            summary = inspect(tmp)
        except BackupError as exc:
            raise BackupError(f"the copy did not pass its checks, nothing was written: {exc}") from None
        _fsync(tmp)
        _place(tmp, target, force)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}.") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return Summary(target, summary.size, summary.tables, summary.counts, summary.revisions)


def safety_copy_path(live: Path, now: dt.datetime | None = None) -> Path:
    """Where ``restore`` keeps the database it replaces: ``<live>.before-restore-YYYYmmdd-HHMMSS``."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return live.with_name(f"{live.name}.before-restore-{stamp}")


def restore_sqlite(backup: Path, live: Path) -> Summary:
    """Copy a checked backup file into the live SQLite database with the backup API; return what it holds now.

    The live database is replaced in one write transaction (it waits up to ``BUSY_TIMEOUT_MS``
    for the app's own writes). The caller checks the backup (``inspect``, ``revision_state``) first.
    """
    backup = backup.resolve()
    _refuse_live_files(backup, live, "restore from a backup file")
    expected = inspect(backup)
    if not live.parent.is_dir():
        raise BackupError(f"the directory {live.parent} of the database does not exist.")
    try:
        with _connect(backup, "ro") as source, _connect(live, "rwc") as target:
            _copy(source, target)
            target.execute("PRAGMA wal_checkpoint(PASSIVE)")  # into the main file, as far as no reader holds it
    except sqlite3.Error as exc:
        problem = _sqlite_problem(exc, live, "stop the app and try again")
        raise BackupError(f"the restore failed, the database is unchanged: {problem}") from None
    except OSError as exc:
        raise BackupError(f"the restore failed, the database is unchanged: {exc}.") from None
    restored = inspect(live)
    if restored.counts != expected.counts or restored.revisions != expected.revisions:
        raise BackupError(
            f"the restored database does not match the backup: {live} holds {restored.describe()} "
            f"(revision {restored.revision}), the backup {expected.describe()} (revision {expected.revision})."
        )
    return restored
