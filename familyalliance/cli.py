"""Command-line tasks: ``create-user``, ``demo`` and ``instruments list|load``."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from . import demo, operations, vocab
from .extensions import db
from .instruments import DefinitionError, builtin_instruments
from .models import User
from .registry import installed_instruments


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="The account's password.")
@click.option("--role", type=click.Choice(vocab.USER_ROLES), required=True, help="What the account may do.")
@click.option("--team", "team_name", help="The team the account belongs to (created when new).")
def create_user_command(email: str, password: str, role: str, team_name: str | None) -> None:
    """Create an account."""
    try:
        user = operations.create_user(email, password, role, team_name)
    except operations.OperationError as exc:
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
        rows.append((
            code, inst.version, inst.informant, f"{inst.scale_min}..{inst.scale_max}", str(len(inst.items)),
            str(inst.min_answered), ",".join(inst.audience), "built-in" if code in builtin else "custom",
        ))  # fmt: skip
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
        instrument = operations.install_instrument(text, replace=replace)
    except DefinitionError as exc:
        db.session.rollback()
        lines = "\n".join(f"  - {problem}" for problem in exc.problems)
        raise click.ClickException(f"{file} was not loaded; nothing changed:\n{lines}") from None
    db.session.commit()
    click.echo(f"Installed {instrument.code} version {instrument.version} ({len(instrument.items)} items).")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(instruments_cli)
