"""The profile's period (a GET form: no CSRF token) and a supervision note."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, Form, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from familyalliance.store.models import SUPERVISION_NOTE_MAX_LENGTH


def no_control_characters_but_lines(form, field) -> None:
    """Text with line breaks and tabs but no other control characters (PostgreSQL cannot store NUL)."""
    if field.data and any(unicodedata.category(c) == "Cc" and c not in "\r\n\t" for c in field.data):
        raise ValidationError(_l("Remove the control characters."))


class PeriodForm(Form):
    """The period a profile covers, read from the query string; empty fields take the default period."""

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Up to and including"), validators=[Optional()])

    def validate_end(self, field) -> None:
        """The period ends on or after its first day."""
        if field.data is not None and self.start.data is not None and field.data < self.start.data:
            raise ValidationError(_l("The end of the period cannot be before its start."))


class NoteForm(FlaskForm):
    """A short dated reflection note on the profile, seen by the therapist and the team lead."""

    text = TextAreaField(
        _l("Note"),
        validators=[
            DataRequired(message=_l("Write a note first.")),
            Length(max=SUPERVISION_NOTE_MAX_LENGTH, message=_l("Use at most %(max)d characters.")),
            no_control_characters_but_lines,
        ],
        filters=[lambda text: text.replace("\r\n", "\n").strip() if text else text],
        render_kw={"maxlength": SUPERVISION_NOTE_MAX_LENGTH, "rows": 4},
    )
    submit = SubmitField(_l("Keep the note"))
