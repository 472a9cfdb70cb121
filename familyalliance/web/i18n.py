"""Dutch and English: the language comes from the user's choice, then the browser.

``?lang=nl`` or ``?lang=en`` on any page switches the language and remembers it, in the
browser session and, when logged in, on the account.
"""

from flask import Flask, current_app, request, session
from flask_babel import get_locale
from flask_login import current_user

from familyalliance.store.db import db
from familyalliance.web.extensions import babel
from familyalliance.web.forms import STATUS_LABELS, USER_ROLE_LABELS, role_label

LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}


def select_locale() -> str:
    """Pick the interface language for this request."""
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang")
    if asked in languages:
        return asked
    if session.get("lang") in languages:
        return session["lang"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def remember_language_choice() -> None:
    """Store a ``?lang=`` choice in the session and on the logged-in account."""
    asked = request.args.get("lang")
    if asked not in current_app.config["LANGUAGES"]:
        return
    session["lang"] = asked
    if current_user.is_authenticated and current_user.locale != asked:
        current_user.locale = asked
        db.session.commit()


def template_globals() -> dict:
    """Expose the current language to templates."""
    return {"current_language": str(get_locale()), "language_names": LANGUAGE_NAMES}


def labels() -> dict:
    """Translated names of member roles, family statuses and account roles, for templates."""
    return {
        "role_label": role_label,
        "status_label": lambda status: str(STATUS_LABELS[status]),
        "user_role_label": lambda role: str(USER_ROLE_LABELS[role]),
    }


def init_app(app: Flask) -> None:
    """Wire Flask-Babel into the app (the hooks are registered by ``web.create_app``)."""
    babel.init_app(app, locale_selector=select_locale)
