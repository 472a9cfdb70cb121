"""The Vega bundle from the app itself (no CDN): written once into ``instance/cache``, served at a versioned URL."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_file, url_for

from familyalliance.core.charts.render import bundle_path, version
from familyalliance.web import access

bp = Blueprint("vega", __name__)


@bp.get("/assets/vega-<string:requested>.js")
@access.public
def bundle(requested: str):
    """The Vega bundle; cached by browsers for a year, as the URL changes with the version."""
    if requested != version():
        return {"error": "unknown version"}, 404
    path = bundle_path(Path(current_app.instance_path) / "cache")
    return send_file(path, mimetype="text/javascript", max_age=365 * 24 * 3600, etag=True)


def bundle_url() -> str:
    """The URL of the bundle for templates."""
    return url_for("vega.bundle", requested=version())
