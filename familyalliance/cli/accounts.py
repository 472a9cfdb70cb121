"""``create-user`` and ``demo``: accounts and the demo families."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from familyalliance.core import vocab
from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import accounts, demo, errors
from familyalliance.store.db import db
from familyalliance.store.models import User


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
