"""The command line (``flask --app familyalliance ...``): command groups that call the services.

``create-user``, ``demo``, ``instruments list|load``, ``import-ratings``, ``export``, ``rescore``,
``refresh-summaries``, ``refresh-expected``, ``backup`` and ``restore``; each module holds one group of
commands and does its work through ``services``.
"""

from __future__ import annotations

from flask import Flask

from familyalliance.cli import accounts, backup, data, instruments, reminders, scores

COMMANDS = (
    accounts.create_user_command,
    accounts.demo_command,
    instruments.instruments_cli,
    data.import_ratings_command,
    data.export_command,
    scores.rescore_command,
    scores.refresh_summaries_command,
    scores.refresh_expected_command,
    backup.backup_command,
    backup.restore_command,
    reminders.send_reminders_command,
)


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in COMMANDS:
        app.cli.add_command(command)
