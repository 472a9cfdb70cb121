"""``import-ratings`` and ``export``: the long CSV in; the tables of metrics.md, FHIR and REDCap out."""

from __future__ import annotations

import json
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from familyalliance import config
from familyalliance.core import exports
from familyalliance.services import accounts, errors, exporting, fhir, importer
from familyalliance.store.db import db
from familyalliance.store.models import User
from familyalliance.store.registry import installed_instruments


@click.command("import-ratings")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace answers the store already holds for the same keys.")
@click.option("--team", "team_name", help="Team of the families the file creates (created when new).")
@click.option("--therapist", "therapist_emails", multiple=True, help="Therapist of the families the file creates.")
def import_ratings_command(file: Path, replace: bool, team_name: str | None, therapist_emails: tuple[str, ...]) -> None:
    """Import a long CSV (metrics.md section 3), or a FHIR Bundle of QuestionnaireResponses (.json): all or none."""
    team = accounts.get_or_create_team(team_name) if team_name else None
    therapists = []
    for email in therapist_emails:
        user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"No account {email}.")
        therapists.append(user)
    if file.suffix.lower() == ".json":
        _import_bundle(file, replace, team, therapists)
        return
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


def _import_bundle(file: Path, replace: bool, team, therapists) -> None:
    """A FHIR Bundle of QuestionnaireResponses (.json), through the same import as the long CSV."""
    base_url = current_app.config.get("PUBLIC_URL")
    if not base_url:
        raise click.ClickException("Set PUBLIC_URL: a bundle's Questionnaires and references are read under it.")
    try:
        bundle = json.loads(file.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file} is not JSON: {exc}") from None
    try:
        done = fhir.import_bundle(bundle, base_url, None, replace, team, therapists)
    except fhir.BundleRejected as exc:
        lines = "\n".join(f"  {issue.diagnostics}" for issue in exc.issues)
        more = f"\n  ... and {exc.total - len(exc.issues)} more" if exc.total > len(exc.issues) else ""
        raise click.ClickException(
            f"{file} was not imported; nothing was stored. {exc.total} problem(s):\n{lines}{more}"
        ) from None
    summary = done.summary
    created = ", ".join(summary.families_created) or "none"
    click.echo(
        f"Imported {done.forms} forms ({summary.rows} rows, {summary.unanswered} unanswered) from {file}; "
        f"replaced {summary.replaced}. New families: {created}; new members: {summary.members_created}; "
        f"new sessions: {summary.sessions_created}."
    )


@click.command("export")
@with_appcontext
@click.argument("kind", type=click.Choice(exports.ALL_KINDS))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(exports.ALL_FORMATS),
    help="csv, xlsx or sav for the tables (default csv); json for fhir, csv for redcap (their default).",
)
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
    "--language",
    type=click.Choice(["en", "nl"]),
    default="en",
    show_default=True,
    help="Language of the SPSS labels, REDCap's data dictionary and the FHIR Questionnaires.",
)
def export_command(kind, fmt, output, pseudonymise, dates, family_codes, team_name, language) -> None:
    """Export a table of metrics.md or the research statistics (CSV with a codebook, Excel, SPSS), FHIR or REDCap.

    fhir is a FHIR R4 collection Bundle as JSON, its addresses under PUBLIC_URL; without
    --pseudonymise it names the members as the family page does. redcap writes REDCap's records
    (CSV) with its data dictionary and a note on importing them beside it.
    """
    fmt = fmt or exports.KIND_FORMATS[kind][0]
    try:
        ids = exporting.select_families(family_codes, team_name)
        settings = config.analytics_settings(current_app)
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(current_app), dates) if pseudonymise else None
        count, written = exporting.write_export(
            kind, fmt, output, ids, settings, pseudonymiser, language, current_app.config.get("PUBLIC_URL")
        )
    except errors.OperationError as exc:
        raise click.ClickException(str(exc)) from None
    unit = "entries" if kind == "fhir" else "rows"
    click.echo(f"Wrote {count} {unit} to {', '.join(map(str, written))}.")
