"""The export and import forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    SelectField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from familyalliance.core import exports

#: The tables (``exports.KINDS``).
KIND_LABELS = {
    "long": _l("Every answer (long)"),
    "scores": _l("Scores per member"),
    "family": _l("Family metrics"),
    "ruptures": _l("Ruptures and repairs"),
    "research": _l("Research statistics (alpha, ICC)"),
    "profiles": _l("Therapist profiles per quarter (pseudonymised)"),
}
#: The exports for other systems (``exports.EXCHANGE_KINDS``).
EXCHANGE_LABELS = {
    "fhir": _l("FHIR R4 bundle (for an EHR)"),
    "redcap": _l("REDCap: records and data dictionary"),
}


FORMAT_LABELS = {
    "csv": _l("CSV with codebook (zip)"),
    "xlsx": _l("Excel (.xlsx)"),
    "sav": _l("SPSS (.sav)"),
    "json": _l("FHIR JSON (.json)"),
}
#: Why a kind cannot be had in the format chosen (``exports.KIND_FORMATS``), by kind; the tables' when JSON.
FORMAT_PROBLEMS = {
    "fhir": _l("The FHIR bundle comes as JSON only: choose FHIR JSON as the format."),
    "redcap": _l("The REDCap export comes as CSV only: choose CSV as the format."),
}
TABLE_FORMAT_PROBLEM = _l("JSON is for the FHIR bundle only: choose CSV, Excel or SPSS for this export.")


class ExportForm(FlaskForm):
    """Choose an export: a table in any of its formats, or FHIR (JSON) or REDCap (CSV)."""

    kind = SelectField(
        _l("Data"),
        choices=[
            *(SelectChoice(k, v, optgroup=_l("Tables")) for k, v in KIND_LABELS.items()),
            *(SelectChoice(k, v, optgroup=_l("For other systems")) for k, v in EXCHANGE_LABELS.items()),
        ],
    )
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

    def validate_fmt(self, field) -> None:
        """Each kind in the formats it is written in: FHIR as JSON, REDCap as CSV, a table not as JSON."""
        formats = exports.KIND_FORMATS.get(self.kind.data)
        if formats is not None and field.data not in formats:
            raise ValidationError(FORMAT_PROBLEMS.get(self.kind.data, TABLE_FORMAT_PROBLEM))


class ImportForm(FlaskForm):
    """Upload a long CSV."""

    file = FileField(
        _l("Ratings file (long CSV, UTF-8)"),
        validators=[FileRequired(_l("Choose a file.")), FileAllowed(["csv"], _l("Upload a .csv file."))],
    )
    team = SelectField(_l("Team of new families"), coerce=int)
    replace = BooleanField(_l("Replace answers that are already stored"))
    submit = SubmitField(_l("Import"))
