"""``instruments list`` and ``instruments load``: the installed instruments and an organisation's own."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from familyalliance.core.instruments import DefinitionError, builtin_instruments
from familyalliance.services import instruments as instrument_service
from familyalliance.store.db import db
from familyalliance.store.registry import installed_instruments

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
