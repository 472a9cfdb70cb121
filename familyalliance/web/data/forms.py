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

KIND_LABELS = {
    "long": _l("Every answer (long)"),
    "scores": _l("Scores per member"),
    "family": _l("Family metrics"),
    "ruptures": _l("Ruptures and repairs"),
    "research": _l("Research statistics (alpha, ICC)"),
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
