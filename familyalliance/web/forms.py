"""Form pieces every blueprint shares: code validators, translated labels, the CSRF-only form.

Forms check everything a single request can check (types, ranges, uniqueness within the
family); the database constraints are the last line behind them.
"""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    SelectMultipleField,
    SubmitField,
)
from wtforms.validators import (
    DataRequired,
    Length,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from familyalliance.core import passwords, vocab
from familyalliance.core.codebook import ROLE_NAMES


def code_characters(form, field) -> None:
    """Accept only a valid code, the whole text (a Regexp validator's ``$`` would let a final line break through).

    An invalid code stops the field's further checks, so no database lookup ever sees one.
    """
    if not vocab.is_valid_code(field.data or ""):
        raise StopValidation(_l("Use only letters, digits, '-', '_' or '.' (at most 64)."))


def sent(form, field) -> None:
    """Refuse a form sent without this field (a hand-made POST): a field left out never means "clear it"."""
    if not field.raw_data:  # [] when the form has other fields, None when it came with none at all
        raise StopValidation(_l("This field was missing from the form that was sent; nothing was changed."))


def no_control_characters(form, field) -> None:
    """One line of text has no control characters (NUL, tabs, line breaks, escapes; PostgreSQL cannot store NUL)."""
    if field.data and any(unicodedata.category(c) == "Cc" for c in field.data):
        raise StopValidation(_l("Remove the control characters (such as tabs or line breaks)."))


CODE_VALIDATORS = [DataRequired(), Length(max=vocab.CODE_MAX_LENGTH), code_characters]


def role_label(role: str) -> str:
    """Return the translated name of a member role."""
    return str(ROLE_LABELS[role])


ROLE_LABELS = {role: _l(name) for role, name in ROLE_NAMES.items()}


STATUS_LABELS = {"active": _l("Active"), "paused": _l("Paused"), "closed": _l("Closed")}


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes for choosing several options."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EmptyForm(FlaskForm):
    """A form with only a CSRF token, for POST buttons such as log out."""

    submit = SubmitField(_l("Submit"))


#: What a form says about a password that may not be used (``passwords.weakness``).
PASSWORD_PROBLEMS = {
    "too_short": _l("Use at least %(n)s characters.", n=passwords.MIN_LENGTH),
    "too_long": _l("Use at most %(n)s characters.", n=passwords.MAX_LENGTH),
    "guessable": _l("This password is too easy to guess. A few unrelated words make a strong one."),
}


def check_new_password(field, email: str) -> None:
    """Refuse a password that breaks the rules, with the reason."""
    problem = passwords.weakness(field.data or "", email)
    if problem:
        raise ValidationError(str(PASSWORD_PROBLEMS[problem]))


USER_ROLE_LABELS = {
    "therapist": _l("Therapist"),
    "team_lead": _l("Team lead"),
    "researcher": _l("Researcher"),
    "admin": _l("Administrator"),
}


def optional_int(value) -> int | None:
    """An id from the query string; empty means "all"."""
    if value in (None, "", "None"):
        return None
    return int(value)
