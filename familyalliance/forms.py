"""WTForms for logins, families, members and sessions, with lazily translated labels.

Forms check everything a single request can check (types, ranges, uniqueness within the
family); the database constraints are the last line behind them.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

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
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from . import passwords, vocab
from .codebook import ROLE_NAMES
from .extensions import db
from .models import Family, Member, Response, Team, TherapySession, User


def code_characters(form, field) -> None:
    """Accept only a valid code, the whole text (a Regexp validator's ``$`` would let a final line break through).

    An invalid code stops the field's further checks, so no database lookup ever sees one.
    """
    if not vocab.is_valid_code(field.data or ""):
        raise StopValidation(_l("Use only letters, digits, '-', '_' or '.' (at most 64)."))


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


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), Length(max=254), no_control_characters],
        render_kw={"autocomplete": "username"},
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
    display_name = StringField(
        _l("Name shown to the team"), validators=[DataRequired(), Length(max=120), no_control_characters]
    )
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
        if field.errors:  # out of range: no lookup (a number beyond 64 bits would crash the database driver)
            return
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
        self.status.choices = [
            SelectChoice("", _l("All")),
            *(SelectChoice(s, STATUS_LABELS[s]) for s in vocab.FAMILY_STATUSES),
        ]
        self.flag.choices = [SelectChoice("", _l("Any")), *(SelectChoice(f, label) for f, label in FLAG_LABELS.items())]


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


class PasswordForm(FlaskForm):
    """Change one's own password."""

    current = PasswordField(
        _l("Current password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired()],
        description=_l(
            "At least %(n)s characters; a few unrelated words make a strong password.", n=passwords.MIN_LENGTH
        ),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change password"))

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._email = email

    def validate_new(self, field) -> None:
        check_new_password(field, self._email)


USER_ROLE_LABELS = {
    "therapist": _l("Therapist"),
    "team_lead": _l("Team lead"),
    "researcher": _l("Researcher"),
    "admin": _l("Administrator"),
}


class UserForm(FlaskForm):
    """An account, as an administrator (every role) or a team lead (therapists of the team) edits it."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254), no_control_characters, Email()])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, label) for r, label in USER_ROLE_LABELS.items()])
    team = SelectField(_l("Team"), coerce=_optional_int, validate_choice=True)
    active = BooleanField(_l("May log in"), default=True)
    password = PasswordField(
        _l("Password"),
        description=_l(
            "At least %(n)s characters. Give it to the person in a safe way; they can change it.",
            n=passwords.MIN_LENGTH,
        ),
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, user: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._user = user

    def validate_email(self, field) -> None:
        if field.errors:  # not an address (or control characters): nothing to look up
            return
        email = (field.data or "").strip().lower()
        query = sa.select(User.id).where(User.email == email)
        if self._user is not None:
            query = query.where(User.id != self._user.id)
        if db.session.scalar(query) is not None:
            raise ValidationError(_l("An account with this email exists already."))

    def validate_password(self, field) -> None:
        if self._user is None and not field.data:
            raise ValidationError(_l("A new account needs a password."))
        if field.data:
            check_new_password(field, (self.email.data or "").strip().lower())


class TeamForm(FlaskForm):
    """A team's name."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120), no_control_characters])
    submit = SubmitField(_l("Add team"))

    def validate_name(self, field) -> None:
        if field.errors:
            return
        if db.session.scalar(sa.select(Team.id).where(Team.name == field.data.strip())) is not None:
            raise ValidationError(_l("A team with this name exists already."))


class EraseForm(FlaskForm):
    """Erasing a family: type its case code to confirm."""

    confirm = StringField(
        _l("Type the case code to confirm"), validators=[DataRequired()], render_kw={"autocomplete": "off"}
    )
    submit = SubmitField(_l("Erase this family for good"))

    def __init__(self, *args, code: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._code = code

    def validate_confirm(self, field) -> None:
        if field.data.strip() != self._code:
            raise ValidationError(_l("This is not the family's case code."))


class AuditFilterForm(Form):
    """The audit log's filters (a GET form)."""

    email = StringField(_l("Account (email)"), validators=[Optional(), Length(max=254)])
    family = StringField(_l("Case code"), validators=[Optional(), Length(max=vocab.CODE_MAX_LENGTH)])
    action = SelectField(_l("Action"), default="", validate_choice=True)
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("Up to and including"), validators=[Optional()])
    page = IntegerField(_l("Page"), validators=[Optional(), NumberRange(min=1, max=1_000_000)])
