"""Error pages in the user's language, never with a stack trace."""

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


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


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(HTTPException, render_error)
