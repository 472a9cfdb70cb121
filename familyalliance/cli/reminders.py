"""``send-reminders``: e-mail the reminders due today, run daily from cron or a systemd timer (docs/operations.md)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from familyalliance.services import invitations, mail


@click.command("send-reminders")
@with_appcontext
def send_reminders_command() -> None:
    """Send a reminder for every questionnaire still open REMINDER_DAYS after its link (at most once a day)."""
    public = current_app.config.get("PUBLIC_URL")
    if not public:
        raise click.ClickException(
            "PUBLIC_URL is not set: the reminders' links need the address members reach the app at "
            "(for example FAMILYALLIANCE_PUBLIC_URL='\"https://alliance.example.org\"')."
        )
    try:
        outcome = invitations.send_reminders(lambda token: f"{public.rstrip('/')}/r/{token}")
    except mail.MailError as exc:
        raise click.ClickException(f"No reminders sent: {exc.detail}") from None
    click.echo(f"Reminders sent: {len(outcome.sent)}; not sent: {len(outcome.failed)}.")
    for _name, kind in outcome.failed:
        click.echo(f"  not sent to one member ({kind}); their earlier link still works.", err=True)
    if outcome.failed:
        raise SystemExit(1)
