"""Command-line tasks: ``create-user``, ``demo``, ``instruments list|load``, ``import-ratings``, ``export``,
``backup`` and ``restore``."""

from __future__ import annotations

from pathlib import Path

import click
import flask_migrate
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from familyalliance import config
from familyalliance.core import exports, vocab
from familyalliance.core.instruments import DefinitionError, builtin_instruments
from familyalliance.services import accounts, backup, demo, errors, exporting, importer
from familyalliance.services import instruments as instrument_service
from familyalliance.store.db import db
from familyalliance.store.models import Family, Team, User
from familyalliance.store.registry import installed_instruments


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="The account's password.")
@click.option("--role", type=click.Choice(vocab.USER_ROLES), required=True, help="What the account may do.")
@click.option("--team", "team_name", help="The team the account belongs to (created when new).")
def create_user_command(email: str, password: str, role: str, team_name: str | None) -> None:
    """Create an account."""
    try:
        user = accounts.create_user(email, password, role, team_name)
    except errors.OperationError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    team = f" in team {user.team.name}" if user.team else ""
    click.echo(f"Created {user.role} {user.email}{team}.")


@click.command("demo")
@with_appcontext
@click.option("--owner", "owner_email", required=True, help="Email of the account that gets the demo families.")
def demo_command(owner_email: str) -> None:
    """Load demo families owned by an account (again: nothing changes)."""
    owner = db.session.scalar(sa.select(User).where(User.email == owner_email.strip().lower()))
    if owner is None:
        raise click.ClickException(f"No account {owner_email}; create it first with create-user.")
    created = demo.load_demo(owner, builtin_instruments())
    db.session.commit()
    if created:
        click.echo(f"Loaded {len(created)} demo families for {owner.email}: {', '.join(created)}.")
    else:
        click.echo(f"The demo families of {owner.email} are already there.")


instruments_cli = AppGroup("instruments", help="List and load instrument definitions.")


@instruments_cli.command("list")
def list_instruments() -> None:
    """Show the installed instruments."""
    builtin = builtin_instruments()
    rows = [("code", "version", "informant", "scale", "items", "min/dim", "audience", "source")]
    for code, inst in installed_instruments().items():
        rows.append(
            (
                code,
                inst.version,
                inst.informant,
                f"{inst.scale_min}..{inst.scale_max}",
                str(len(inst.items)),
                str(inst.min_answered),
                ",".join(inst.audience),
                "built-in" if code in builtin else "custom",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@instruments_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace an installed custom instrument that no response uses yet.")
def load_instrument(file: Path, replace: bool) -> None:
    """Validate a definition file (JSON) and install it."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text.") from None
    try:
        instrument = instrument_service.install_instrument(text, replace=replace)
    except DefinitionError as exc:
        db.session.rollback()
        lines = "\n".join(f"  - {problem}" for problem in exc.problems)
        raise click.ClickException(f"{file} was not loaded; nothing changed:\n{lines}") from None
    db.session.commit()
    click.echo(f"Installed {instrument.code} version {instrument.version} ({len(instrument.items)} items).")


@click.command("import-ratings")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace answers the store already holds for the same keys.")
@click.option("--team", "team_name", help="Team of the families the file creates (created when new).")
@click.option("--therapist", "therapist_emails", multiple=True, help="Therapist of the families the file creates.")
def import_ratings_command(file: Path, replace: bool, team_name: str | None, therapist_emails: tuple[str, ...]) -> None:
    """Import a long CSV (metrics.md section 3): every row or none."""
    team = accounts.get_or_create_team(team_name) if team_name else None
    therapists = []
    for email in therapist_emails:
        user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"No account {email}.")
        therapists.append(user)
    try:
        summary = importer.import_long_csv(file, installed_instruments(), replace, team, therapists)
    except importer.ImportRejected as exc:
        lines = "\n".join(f"  {problem}" for problem in exc.problems)
        more = f"\n  ... and {exc.total - len(exc.problems)} more" if exc.total > len(exc.problems) else ""
        raise click.ClickException(
            f"{file} was not imported; nothing was stored. {exc.total} problem(s):\n{lines}{more}"
        ) from None
    created = ", ".join(summary.families_created) or "none"
    click.echo(
        f"Imported {summary.rows} rows ({summary.unanswered} unanswered) from {file}; replaced {summary.replaced}. "
        f"New families: {created}; new members: {summary.members_created}; new sessions: {summary.sessions_created}."
    )


@click.command("export")
@with_appcontext
@click.argument("kind", type=click.Choice(exports.KINDS))
@click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--pseudonymise", is_flag=True, help="Opaque family and member codes, dates shifted or dropped.")
@click.option(
    "--dates",
    type=click.Choice(["shift", "drop"]),
    default="shift",
    show_default=True,
    help="With --pseudonymise: shift dates per family, or leave them out.",
)
@click.option("--family", "family_codes", multiple=True, help="Only this family (repeatable).")
@click.option("--team", "team_name", help="Only this team's families.")
@click.option(
    "--language", type=click.Choice(["en", "nl"]), default="en", show_default=True, help="Language of the SPSS labels."
)
def export_command(kind, fmt, output, pseudonymise, dates, family_codes, team_name, language) -> None:
    """Export one of the tables of metrics.md as CSV (with a codebook), Excel or SPSS."""
    query = sa.select(Family.id, Family.code)
    if family_codes:
        query = query.where(Family.code.in_(family_codes))
    if team_name:
        query = query.join(Team).where(Team.name == team_name)
    found = db.session.execute(query).all()
    missing = sorted(set(family_codes) - {code for _, code in found})
    if missing:
        raise click.ClickException(f"No family {', '.join(missing)}.")
    if team_name and db.session.scalar(sa.select(Team.id).where(Team.name == team_name)) is None:
        raise click.ClickException(f"No team {team_name}.")
    ids = [family_id for family_id, _ in found] if (family_codes or team_name) else None
    settings = config.analytics_settings(current_app)
    pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(current_app), dates) if pseudonymise else None
    count, written = exporting.write_export(kind, fmt, output, ids, settings, pseudonymiser, language)
    click.echo(f"Wrote {count} rows to {', '.join(map(str, written))}.")


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


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(instruments_cli)
    app.cli.add_command(import_ratings_command)
    app.cli.add_command(export_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
