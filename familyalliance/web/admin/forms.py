"""The forms for accounts, teams, erasure and the audit log's filters."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    Form,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from familyalliance.core import passwords, vocab
from familyalliance.store.db import db
from familyalliance.store.models import Team, User
from familyalliance.web.forms import (
    USER_ROLE_LABELS,
    check_new_password,
    no_control_characters,
    optional_int,
    sent,
)


class UserForm(FlaskForm):
    """An account, as an administrator (every role) or a team lead (therapists of the team) edits it."""

    email = EmailField(_l("Email"), validators=[sent, DataRequired(), Length(max=254), no_control_characters, Email()])
    role = SelectField(
        _l("Role"), choices=[SelectChoice(r, label) for r, label in USER_ROLE_LABELS.items()], validators=[sent]
    )
    team = SelectField(_l("Team"), coerce=optional_int, validate_choice=True, validators=[sent])
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


class LogInForm(FlaskForm):
    """Whether an account may log in: its own explicit action, never a side effect of the account form."""

    may_log_in = SelectField(choices=[SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))], validators=[sent])


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
