"""Data in and out through the browser: exports for researchers and team leads, import for admins.

Thin views over ``exports``/``queries`` and ``importer``; the CLI does the same work.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user

from familyalliance import config
from familyalliance.core import exports
from familyalliance.core.validation import Problem
from familyalliance.services import exporting, importer, policy
from familyalliance.store.db import db
from familyalliance.store.models import Family, Team
from familyalliance.store.registry import installed_instruments
from familyalliance.web import access, audit
from familyalliance.web.data.forms import ExportForm, ImportForm

bp = Blueprint("data", __name__)

MEDIA = {
    "csv": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sav": "application/x-spss-sav",
    "json": "application/fhir+json",
}


@bp.route("/exports/", methods=["GET", "POST"])
@access.roles("team_lead", "researcher")
def export():
    """Choose and download an export of the families the user may export (researchers: pseudonymised only).

    A FHIR bundle's addresses are under ``PUBLIC_URL``, else the address this page was asked at;
    without pseudonymising it names the members, as the family pages the team lead may open do.
    """
    forced = policy.must_pseudonymise(current_user)
    form = ExportForm()
    if forced:
        form.pseudonymise.data = True
    ids = list(db.session.scalars(policy.exportable_families(current_user).with_only_columns(Family.id)))
    if form.validate_on_submit():
        settings = config.analytics_settings(current_app)
        pseudonymise = forced or form.pseudonymise.data
        pseudonymiser = (
            exports.Pseudonymiser(config.pseudonym_key(current_app), form.dates.data) if pseudonymise else None
        )
        name = f"familyalliance-{form.kind.data}{'-pseudonymised' if pseudonymise else ''}"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.{form.fmt.data}"
            base_url = current_app.config.get("PUBLIC_URL") or request.url_root
            _, written = exporting.write_export(
                form.kind.data, form.fmt.data, path, ids, settings, pseudonymiser, form.language.data, base_url
            )
            if form.fmt.data == "csv":
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                    for file in written:
                        archive.write(file, file.name)
                data, filename = buffer.getvalue(), f"{name}.zip"
            else:
                data, filename = path.read_bytes(), path.name
        audit.record_now(
            "export",
            detail={
                "kind": form.kind.data,
                "format": form.fmt.data,
                "families": len(ids),
                "pseudonymised": bool(pseudonymise),
            },
        )
        return send_file(io.BytesIO(data), mimetype=MEDIA[form.fmt.data], as_attachment=True, download_name=filename)
    status = 422 if form.errors else 200
    return render_template("data/export.html", form=form, forced=forced, families=len(ids)), status


def _holds_nul(path: Path) -> bool:
    """Whether an upload holds NUL bytes: binary data, never CSV text (the importer would echo them)."""
    with path.open("rb") as f:
        return any(b"\x00" in chunk for chunk in iter(lambda: f.read(1 << 20), b""))


@bp.route("/admin/import", methods=["GET", "POST"])
@access.roles("admin")
def import_ratings():
    """Upload a long CSV; every row is stored, or none, with the problems listed by line (an admin's task)."""
    form = ImportForm()
    teams = db.session.scalars(sa.select(Team).order_by(Team.name)).all()
    form.team.choices = [(0, _("No team"))] + [(t.id, t.name) for t in teams]
    summary = rejected = None
    if form.validate_on_submit():
        team = db.session.get(Team, form.team.data) if form.team.data else None
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.csv"
            form.file.data.save(path)
            try:
                if _holds_nul(path):
                    message = _(
                        "holds NUL bytes, so it is not CSV text (perhaps another file, or UTF-16); save it as CSV UTF-8"
                    )
                    raise importer.ImportRejected([Problem("file", message)], 1)
                summary = importer.import_long_csv(path, installed_instruments(), form.replace.data, team)
            except importer.ImportRejected as exc:
                rejected = exc
        if rejected:
            audit.record_now("import.rejected", detail={"problems": rejected.total})
        else:
            audit.record_now(
                "import",
                detail={
                    "rows": summary.rows,
                    "replaced": summary.replaced,
                    "families_created": len(summary.families_created),
                },
            )
    status = 422 if rejected or form.errors else 200
    return render_template("data/import.html", form=form, summary=summary, rejected=rejected), status
