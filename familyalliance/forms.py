"""WTForms for logins, families, members and sessions, with lazily translated labels.

Forms check everything a single request can check (types, ranges, uniqueness within the
family); the database constraints are the last line behind them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Form,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from . import vocab
from .codebook import ROLE_NAMES
from .extensions import db
from .models import Family, Member, Response, TherapySession

CODE_VALIDATORS = [
    DataRequired(),
    Length(max=vocab.CODE_MAX_LENGTH),
    Regexp(vocab.CODE_PATTERN, message=_l("Use only letters, digits, '-', '_' or '.' (at most 64).")),
]


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


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(
        _l("Email"), validators=[DataRequired(), Length(max=254)], render_kw={"autocomplete": "username"}
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    submit = SubmitField(_l("Log in"))


class FamilyForm(FlaskForm):
    """Open or edit a family."""

    code = StringField(_l("Case code"), validators=CODE_VALIDATORS)
    status = SelectField(_l("Status"), choices=[SelectChoice(s, STATUS_LABELS[s]) for s in vocab.FAMILY_STATUSES])
    start_date = DateField(_l("Start date"), validators=[InputRequired(message=_l("Enter a date."))])
    full_every = IntegerField(
        _l("The full questionnaire every … sessions (0: only the quick check)"),
        default=3,
        validators=[Optional(), NumberRange(min=0, max=20)],
    )
    therapists = MultiCheckboxField(_l("Therapists"), coerce=int)
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, family: Family | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._family = family

    def validate_code(self, field) -> None:
        """Case codes are unique across the installation."""
        query = sa.select(Family.id).where(Family.code == field.data)
        if self._family is not None:
            query = query.where(Family.id != self._family.id)
        if db.session.scalar(query) is not None:
            raise ValidationError(_l("This case code is already in use."))

    def validate_therapists(self, field) -> None:
        """A family needs at least one therapist."""
        if not field.data:
            raise ValidationError(_l("Choose at least one therapist."))


class MemberForm(FlaskForm):
    """Add or edit a family member."""

    code = StringField(_l("Member code"), validators=CODE_VALIDATORS)
    display_name = StringField(_l("Name shown to the team"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in vocab.ROLES])
    birth_year = IntegerField(
        _l("Birth year (optional)"),
        validators=[Optional(), NumberRange(min=1900)],
    )
    active_from = DateField(_l("Takes part from (optional)"), validators=[Optional()])
    active_to = DateField(_l("Takes part until (optional)"), validators=[Optional()])
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, family: Family, member: Member | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._family = family
        self._member = member

    def validate_code(self, field) -> None:
        """Member codes are unique within the family."""
        query = sa.select(Member.id).where(Member.family_id == self._family.id, Member.code == field.data)
        if self._member is not None:
            query = query.where(Member.id != self._member.id)
        if db.session.scalar(query) is not None:
            raise ValidationError(_l("This family already has a member with this code."))

    def validate_role(self, field) -> None:
        """A member keeps one role once ratings refer to it (metrics.md section 3)."""
        if self._member is not None and field.data != self._member.role and self._member_has_responses():
            raise ValidationError(_l("This member already has ratings, so the role cannot change."))

    def validate_birth_year(self, field) -> None:
        """A birth year lies in the past (checked per request, so it stays right across new years)."""
        if field.data is not None and field.data > dt.date.today().year:
            raise ValidationError(_l("The birth year cannot be in the future."))

    def validate_active_to(self, field) -> None:
        """The period must not end before it starts."""
        if field.data and self.active_from.data and field.data < self.active_from.data:
            raise ValidationError(_l("The end date must not be before the start date."))

    def _member_has_responses(self) -> bool:
        query = sa.select(Response.family_id).where(
            Response.family_id == self._family.id, Response.member_id == self._member.id
        )
        return db.session.scalar(query.limit(1)) is not None


class SessionForm(FlaskForm):
    """Record or edit a therapy session and who attended."""

    number = IntegerField(
        _l("Session number"),
        validators=[InputRequired(message=_l("Enter a whole number.")), NumberRange(min=1, max=10000)],
    )
    date = DateField(_l("Date"), validators=[InputRequired(message=_l("Enter a date."))])
    target = SelectField(
        _l("The ratings are about"),
        choices=[SelectChoice("therapist", _l("the therapist")), SelectChoice("team", _l("the team"))],
        default="therapist",
    )
    attendance = MultiCheckboxField(_l("Present"), coerce=int)
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, family: Family, session: TherapySession | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._family = family
        self._session = session

    def validate_number(self, field) -> None:
        """Session numbers are unique within the family."""
        query = sa.select(TherapySession.id).where(
            TherapySession.family_id == self._family.id, TherapySession.number == field.data
        )
        if self._session is not None:
            query = query.where(TherapySession.id != self._session.id)
        if db.session.scalar(query) is not None:
            raise ValidationError(_l("This family already has a session with this number."))


KIND_LABELS = {
    "long": _l("Every answer (long)"),
    "scores": _l("Scores per member"),
    "family": _l("Family metrics"),
    "ruptures": _l("Ruptures and repairs"),
}
FORMAT_LABELS = {"csv": _l("CSV with codebook (zip)"), "xlsx": _l("Excel (.xlsx)"), "sav": _l("SPSS (.sav)")}


class ExportForm(FlaskForm):
    """Choose an export."""

    kind = SelectField(_l("Data"), choices=[SelectChoice(k, v) for k, v in KIND_LABELS.items()])
    fmt = SelectField(_l("Format"), choices=[SelectChoice(k, v) for k, v in FORMAT_LABELS.items()])
    pseudonymise = BooleanField(_l("Pseudonymise (opaque codes, dates shifted or left out)"), default=True)
    dates = SelectField(
        _l("Dates in a pseudonymised export"),
        choices=[SelectChoice("shift", _l("Shift per family")), SelectChoice("drop", _l("Leave out"))],
    )
    language = SelectField(
        _l("Language of the labels"), choices=[SelectChoice("nl", "Nederlands"), SelectChoice("en", "English")]
    )
    submit = SubmitField(_l("Download"))


class ImportForm(FlaskForm):
    """Upload a long CSV."""

    file = FileField(
        _l("Ratings file (long CSV, UTF-8)"),
        validators=[FileRequired(_l("Choose a file.")), FileAllowed(["csv"], _l("Upload a .csv file."))],
    )
    team = SelectField(_l("Team of new families"), coerce=int)
    replace = BooleanField(_l("Replace answers that are already stored"))
    submit = SubmitField(_l("Import"))


FLAG_LABELS = {
    "split": _l("Split between members"),
    "rupture": _l("Rupture not repaired"),
    "low_early": _l("Low early alliance"),
    "gap": _l("Family and therapist differ"),
}


def _optional_int(value) -> int | None:
    """An id from the query string; empty means "all"."""
    if value in (None, "", "None"):
        return None
    return int(value)


class CaseloadFilterForm(Form):
    """The caseload's filters, read from the query string (a GET form: nothing changes, no CSRF token)."""

    team = SelectField(_l("Team"), coerce=_optional_int, validate_choice=True)
    therapist = SelectField(_l("Therapist"), coerce=_optional_int, validate_choice=True)
    status = SelectField(_l("Status"), default="", validate_choice=True)
    flag = SelectField(_l("Flag"), default="", validate_choice=True)
    page = IntegerField(_l("Page"), validators=[Optional(), NumberRange(min=1, max=100_000)])

    def set_choices(self, teams: list[tuple[int, str]], therapists: list[tuple[int, str]]) -> None:
        """Offer the teams and therapists of the families the user may see."""
        everything = SelectChoice(None, _l("All"))
        self.team.choices = [everything, *(SelectChoice(i, name) for i, name in teams)]
        self.therapist.choices = [everything, *(SelectChoice(i, email) for i, email in therapists)]
        self.status.choices = [SelectChoice("", _l("All")), *(SelectChoice(s, STATUS_LABELS[s])
                                                              for s in vocab.FAMILY_STATUSES)]  # fmt: skip
        self.flag.choices = [SelectChoice("", _l("Any")), *(SelectChoice(f, label) for f, label in FLAG_LABELS.items())]
