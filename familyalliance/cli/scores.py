"""``rescore`` and ``refresh-summaries``: stored scores and caseload summaries computed again for every family.

Run ``rescore`` after an upgrade that changes an instrument's definition, and ``refresh-summaries``
after ``db upgrade`` and after changing a threshold: requests compute only the families that changed
since (docs/architecture.md).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from familyalliance.services import rescoring


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
