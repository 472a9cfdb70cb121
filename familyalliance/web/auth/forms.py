"""The login and password forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    SubmitField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    Length,
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
