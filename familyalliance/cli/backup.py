"""``backup`` and ``restore``: SQLite's backup API while the app runs; pg_dump guidance on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click
import flask_migrate
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext

from familyalliance.services import backup
from familyalliance.store.db import db


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _migrations() -> ScriptDirectory:
    return ScriptDirectory(current_app.extensions["migrate"].directory)


@click.command("backup")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH when it exists.")
def backup_command(path: Path, force: bool) -> None:
    """Write a consistent copy of the SQLite database to PATH, while the app runs.

    The copy is made with SQLite's backup API, written next to PATH under a temporary name,
    checked, and renamed into place. On PostgreSQL this prints the pg_dump command instead.
    """
    url = db.engine.url
    if backup.is_postgresql(url):
        raise click.ClickException(backup.postgres_backup_guidance(url, path))
    try:
        written = backup.backup_sqlite(backup.sqlite_path(url), path, force=force)
    except backup.BackupError as exc:
        raise click.ClickException(f"No backup written: {exc}") from None
    try:
        current = backup.revision_state(written.revisions, _migrations()) == "current"
        state = "the code's head" if current else "older than the code's head"
    except backup.BackupError as exc:
        state = f"warning: {exc}"
    click.echo(f"Wrote {written.path} ({_size(written.size)}, {written.tables} tables, integrity check ok).")
    click.echo(f"Schema revision {written.revision} ({state}); rows: {written.describe()}.")


@click.command("restore")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--upgrade", is_flag=True, help="Afterwards migrate the restored database to the code's schema.")
@click.option(
    "--no-safety-copy", is_flag=True, help="Do not keep the replaced database as <database>.before-restore-<time>."
)
def restore_command(path: Path, yes: bool, upgrade: bool, no_safety_copy: bool) -> None:
    """Replace the SQLite database with a backup made by `backup`. Stop the app first.

    The backup must be an intact database of this app at a schema revision the code knows;
    otherwise nothing changes. On PostgreSQL this prints the pg_restore commands instead.
    """
    url = db.engine.url
    if backup.is_postgresql(url):
        raise click.ClickException(backup.postgres_restore_guidance(url, path))
    migrations = _migrations()
    try:
        live = backup.sqlite_path(url)
        found = backup.inspect(Path(path).resolve())
        state = backup.revision_state(found.revisions, migrations)
    except backup.BackupError as exc:
        raise click.ClickException(f"Nothing restored, nothing changed: {exc}") from None
    head = migrations.get_current_head()
    older = "the code's head" if state == "current" else f"older than the code's head {head}"
    click.echo(f"Backup {found.path}: schema revision {found.revision} ({older}); rows: {found.describe()}.")
    if live.exists():
        try:
            current = backup.inspect(live)
            click.echo(f"Database {live}: schema revision {current.revision}; rows: {current.describe()}.")
        except backup.BackupError as exc:
            click.echo(f"Database {live}: {exc}")
    else:
        click.echo(f"Database {live}: does not exist yet.")
    if not yes:
        click.confirm(f"Replace the database {live} with this backup? The app must be stopped", abort=True)

    db.session.remove()
    db.engine.dispose()  # this process's own connections
    safety = None
    try:
        if live.exists() and not no_safety_copy:
            try:
                safety = backup.backup_sqlite(live, backup.safety_copy_path(live)).path
            except backup.BackupError as exc:
                raise backup.BackupError(
                    f"could not keep a copy of the current database first ({exc}); "
                    "use --no-safety-copy to restore without one."
                ) from None
        restored = backup.restore_sqlite(found.path, live)
    except backup.BackupError as exc:
        kept = f"\nThe replaced database was kept as {safety}." if safety else ""
        raise click.ClickException(f"Restore failed: {exc}{kept}") from None
    click.echo(f"Restored {found.path} into {live}; rows: {restored.describe()}.")
    if safety:
        click.echo(f"The replaced database was kept as {safety}.")
    if state == "older":
        if upgrade:
            flask_migrate.upgrade()
            click.echo(f"Migrated the restored database to the code's schema ({head}).")
        else:
            click.echo(
                f"The backup's schema ({found.revision}) is older than the code's ({head}): "
                "run `flask --app familyalliance db upgrade` before starting the app."
            )
