"""Error pages in the user's language, never with a stack trace."""

import contextlib

import sqlalchemy as sa
from flask import Flask, current_app, g, render_template, request
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from familyalliance.store.db import db

#: What a failing database raises: refused or lost connections, a pool with no connection left, a locked file.
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
#: Seconds after which a client may try again.
RETRY_AFTER = 60


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood. Please go back and try again.")),
        403: (_("Not allowed"), _("Your account may not open this page.")),
        404: (_("Not found"), _("This page does not exist, or you may not see it.")),
        405: (_("Not allowed"), _("This page cannot be used this way.")),
        413: (
            _("File too large"),
            _("The file is larger than this installation accepts. Split it and send the parts."),
        ),
        429: (_("Too many attempts"), _("Please wait a while before you try again.")),
        500: (_("Something went wrong"), _("The error has been logged. Nothing you saved before is lost.")),
    }


def render_error(error: HTTPException):
    """Render an HTTP error with a short, translated explanation."""
    code = error.code or 500
    title, message = _titles().get(code, (error.name, error.description))
    if isinstance(error, CSRFError):
        message = _("The form had expired. Please go back, reload the page and send it again.")
    return render_template("errors/error.html", title=title, message=message), code


def database_unavailable(error: Exception):
    """503 for everyone while the database cannot be reached: /healthz its JSON, every page the translated page.

    The database may fail before any view runs (loading the logged-in account in the first hook); this
    handler itself must not reach for it again: the request goes on as anonymous (no account to load, no
    audit entry after it), and whatever the request began is rolled back, so nothing is stored half.
    """
    current_app.logger.error("database unavailable: %s", error.__class__.__name__, exc_info=error)
    with contextlib.suppress(sa.exc.SQLAlchemyError):
        db.session.rollback()
    g._login_user = AnonymousUserMixin()  # flask_login's current_user for the rest of the request
    if request.endpoint == "health.healthz":
        response = current_app.json.response({"status": "error", "database": "unavailable"})
        response.status_code = 503
    else:
        title = _("Temporarily unavailable")
        message = _("The database cannot be reached just now, so nothing was saved. Please try again in a minute.")
        response = current_app.make_response((render_template("errors/error.html", title=title, message=message), 503))
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(HTTPException, render_error)
    for exception in UNAVAILABLE:
        app.register_error_handler(exception, database_unavailable)
