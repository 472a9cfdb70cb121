"""Dutch and English: the language comes from the user's choice, then the browser.

``?lang=nl`` or ``?lang=en`` on any page switches the language and remembers it, in the
browser session and, when logged in, on the account.
"""

from flask import Flask, current_app, g, request, session
from flask_babel import get_locale
from flask_login import current_user

from familyalliance.core import catalog
from familyalliance.core.codebook import DIMENSION_NAMES
from familyalliance.core.instruments import Instrument
from familyalliance.store.db import db
from familyalliance.store.registry import installed_instruments
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
    """Translated names of member roles, family statuses, account roles, questionnaires and their questions."""
    return {
        "role_label": role_label,
        "status_label": lambda status: str(STATUS_LABELS[status]),
        "user_role_label": lambda role: str(USER_ROLE_LABELS[role]),
        "instrument_name": instrument_name,
        "question_label": question_label,
    }


def _instruments() -> dict[str, Instrument]:
    """The installed instruments, looked up once per request."""
    if "installed_instruments" not in g:
        g.installed_instruments = installed_instruments()
    return g.installed_instruments


def instrument_name(code: str) -> str:
    """A questionnaire's name in the page's language (from its definition), never its code where it is installed."""
    instrument = _instruments().get(code)
    return instrument.name[str(get_locale())] if instrument else code


def item_label(instrument: Instrument, item_code: str, language: str) -> str:
    """A question as a page names it: its number in the questionnaire and its dimension ("1. Bond")."""
    for number, item in enumerate(instrument.items, start=1):
        if item.code == item_code:
            return f"{number}. {catalog.gettext(DIMENSION_NAMES[item.dimension], language)}"
    return item_code


def question_label(instrument_code: str, item_code: str) -> str:
    """:func:`item_label` of an installed questionnaire's question, in the page's language."""
    instrument = _instruments().get(instrument_code)
    return item_label(instrument, item_code, str(get_locale())) if instrument else item_code


def init_app(app: Flask) -> None:
    """Wire Flask-Babel into the app (the hooks are registered by ``web.create_app``)."""
    babel.init_app(app, locale_selector=select_locale)
