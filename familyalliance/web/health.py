"""Liveness and database health for load balancers and monitoring: no login, no data."""

import sqlalchemy as sa
from flask import Blueprint, current_app

from familyalliance.store.db import db
from familyalliance.web import access

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@access.public
def healthz():
    """Answer 200 when the database answers a trivial query, 503 otherwise."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        current_app.logger.exception("health check: database unavailable")
        db.session.rollback()
        return {"status": "error", "database": "unavailable"}, 503
    return {"status": "ok", "database": "ok"}
