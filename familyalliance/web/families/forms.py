"""The forms for families, members and sessions."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from familyalliance.core import vocab
from familyalliance.services import casework, followups
from familyalliance.services.errors import OperationError
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, Response, TherapySession
from familyalliance.web.forms import (
    CODE_VALIDATORS,
    ROLE_LABELS,
    STATUS_LABELS,
    MultiCheckboxField,
    no_control_characters,
)


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
    email = EmailField(
        _l("E-mail address (optional)"),
        validators=[Length(max=254), no_control_characters],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    language = SelectField(
        _l("Language of the messages and the questionnaire"),
        # Language names stay in their own language, so everyone finds theirs.
        choices=[
            SelectChoice("", _l("The installation's default")),
            SelectChoice("nl", "Nederlands"),
            SelectChoice("en", "English"),
        ],
        default="",
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, family: Family, member: Member | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._family = family
        self._member = member
        if self.language.data is None:  # a member without a language of their own: the default's choice
            self.language.data = ""

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

    def validate_email(self, field) -> None:
        """Empty, or an e-mail address (stored normalised); what was typed stays in the field when refused."""
        if field.errors:
            return
        try:
            casework.member_email(field.data)
        except OperationError:
            raise ValidationError(
                _l("This is not an e-mail address. Enter one like name@example.org, or leave the field empty.")
            ) from None

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


class RuptureFollowUpForm(FlaskForm):
    """The therapist's follow-up of a rupture: when it was discussed with the family, and a short note.

    Either may stay empty (a note before it is discussed, a date without a note); both empty removes it.
    """

    discussed_on = DateField(_l("Discussed on"), validators=[Optional()])
    note = TextAreaField(
        _l("Note (optional)"),
        render_kw={"maxlength": followups.NOTE_MAX_LENGTH, "rows": 5},
    )
    submit = SubmitField(_l("Save"))

    def validate_discussed_on(self, field) -> None:
        """A rupture is discussed on a day that has come (checked per request, so it stays right at midnight)."""
        if field.data is not None and field.data > dt.date.today():
            raise ValidationError(_l("The date cannot be in the future."))

    def validate_note(self, field) -> None:
        """At most ``NOTE_MAX_LENGTH`` characters, a line break counting as one.

        Control characters are refused, but for line breaks and tabs (``followups.clean_note``).
        """
        text = (field.data or "").replace("\r\n", "\n").strip()
        if len(text) > followups.NOTE_MAX_LENGTH:
            raise ValidationError(_l("Use at most %(n)s characters.", n=followups.NOTE_MAX_LENGTH))
        try:
            followups.clean_note(text)
        except OperationError:
            raise ValidationError(_l("Remove the control characters (such as NUL).")) from None
