"""The login, password and second-factor forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    StringField,
    SubmitField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    Length,
    Regexp,
)

from familyalliance.core import passwords
from familyalliance.web.forms import (
    check_new_password,
    no_control_characters,
)


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


def _app_code(label) -> StringField:
    """The six digits an authenticator app shows: announced as a one-time code, a number pad on phones."""
    return StringField(
        label,
        validators=[
            DataRequired(),
            Length(max=16),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Type the six digits your app shows.")),
        ],
        description=_l("The six digits your authenticator app shows now."),
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"},
    )


class CodeForm(FlaskForm):
    """The second step of a login: the app's code."""

    code = _app_code(_l("Code"))
    submit = SubmitField(_l("Log in"))


class RecoveryCodeForm(FlaskForm):
    """The second step of a login without the phone: one of the recovery codes."""

    recovery_code = StringField(
        _l("Recovery code"),
        validators=[DataRequired(), Length(max=64), no_control_characters],
        description=_l("One of the ten codes you saved when you set up two-factor sign-in; each works once."),
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Log in with a recovery code"))


class SetupForm(FlaskForm):
    """Confirming a new second factor with the app's first code."""

    code = _app_code(_l("Code from the app"))
    submit = SubmitField(_l("Turn on two-factor sign-in"))


class RenewCodesForm(FlaskForm):
    """New recovery codes (the old ones stop working): the current password first."""

    password = PasswordField(
        _l("Current password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    submit = SubmitField(_l("Make new recovery codes"))


class ApiTokenForm(FlaskForm):
    """A new personal API token: its name (which system or device will use it)."""

    name = StringField(
        _l("Name"),
        description=_l("Which system or device will use it, so that you know which one to revoke later."),
        validators=[DataRequired(), Length(max=80), no_control_characters],
    )
    submit = SubmitField(_l("Create token"))
