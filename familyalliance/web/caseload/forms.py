"""The caseload's filters (a GET form: no CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    Form,
    IntegerField,
    SelectField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    NumberRange,
    Optional,
)

from familyalliance.core import vocab
from familyalliance.web.forms import (
    STATUS_LABELS,
    optional_int,
)

FLAG_LABELS = {
    "split": _l("Split between members"),
    "rupture": _l("Rupture not repaired"),
    "low_early": _l("Low early alliance"),
    "gap": _l("Family and therapist differ"),
    "below_expected": _l("Below the expected course"),
    "unanswered": _l("Questionnaires open past the reminder"),
}


class CaseloadFilterForm(Form):
    """The caseload's filters, read from the query string (a GET form: nothing changes, no CSRF token)."""

    team = SelectField(_l("Team"), coerce=optional_int, validate_choice=True)
    therapist = SelectField(_l("Therapist"), coerce=optional_int, validate_choice=True)
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
