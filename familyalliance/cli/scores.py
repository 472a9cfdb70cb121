"""``rescore`` and ``refresh-summaries``: stored scores and caseload summaries computed again for every family.

Run ``rescore`` after an upgrade that changes an instrument's definition, and ``refresh-summaries``
after ``db upgrade`` and after changing a threshold: requests compute only the families that changed
since (docs/architecture.md).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from familyalliance.services import rescoring, trajectories
from familyalliance.store.db import begin_write, db


@click.command("rescore")
@with_appcontext
def rescore_command() -> None:
    """Score every stored form again from its answers (after an instrument's definition changed)."""
    families, changed = rescoring.rescore()
    click.echo(f"Scored the forms of {families} families again; the scores of {changed} changed.")


@click.command("refresh-summaries")
@with_appcontext
def refresh_summaries_command() -> None:
    """Compute every family's caseload summary with the thresholds of now (after an upgrade or a changed setting)."""
    count = rescoring.refresh_summaries()
    click.echo(f"Stored the summaries of {count} families.")


@click.command("refresh-expected")
@click.option("--force", is_flag=True, help="Compute it even when no data changed since.")
@with_appcontext
def refresh_expected_command(force: bool) -> None:
    """Compute the expected trajectory from the stored scores when the data changed since (for cron)."""
    begin_write()
    done = trajectories.refresh(force=force)
    db.session.commit()
    click.echo("Stored the expected trajectory." if done else "The expected trajectory is up to date.")
