"""REDCap: the instruments as a data dictionary, the answers as records for REDCap's Data Import Tool.

A record is one family member; the ``member`` form holds their family code, member code and
role. Every instrument is a repeating form (REDCap's "instrument"), one instance per session, so
``redcap_repeat_instance`` is the session number. A member can answer one instrument about the
therapist and about the team at one session, and an instance is one form: so each instrument
has a form per target, the instrument's code for the therapist (the default target, as the FHIR
Questionnaire's) and ``{code}_team`` for the team. docs/interoperability.md has the mapping.

- ``project`` lays out the forms and fields (REDCap's variable names: lowercase letters, digits
  and ``_``, a letter first, at most 26 characters, unique in the project);
- ``dictionary`` is the data dictionary with REDCap's 18 columns;
- ``records`` turns the long export (metrics.md section 3) into the flat records, one row per
  member and one per form given, an unanswered item an empty cell;
- ``note`` says how to set up the repeating instruments and import; ``write`` writes all three.

Pure: no Flask, no database. Codes and dates arrive as the export made them (pseudonymised or not);
display names never reach this module, as they never reach the other exports.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from familyalliance.core import codebook, vocab
from familyalliance.core.catalog import N_, gettext
from familyalliance.core.exports.writers import RISKY, csv_text
from familyalliance.core.instruments import Instrument

#: REDCap's data dictionary columns, in order and spelled exactly as REDCap writes them.
DICTIONARY_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
RECORD_ID = "record_id"
MEMBER_FORM = "member"
#: The record's fields on the member form, after the record id.
MEMBER_FIELDS = ("family_code", "member_code", "member_role")
REPEAT_COLUMNS = ("redcap_repeat_instrument", "redcap_repeat_instance")
#: The longest variable name REDCap takes without a warning.
NAME_LIMIT = 26
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
#: Names REDCap keeps for itself (besides every ``redcap_...``, ``{form}_complete`` and ``{form}_timestamp``).
RESERVED = frozenset(
    {
        "redcap_event_name",
        "redcap_csrf_token",
        "redcap_survey_timestamp",
        "redcap_survey_identifier",
        "redcap_survey_return_code",
        "redcap_data_access_group",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "hidden_edit_flag",
        "submit",
        "new",
        "return",
        "continue",
        "case",
        "class",
        "enum",
        "catch",
        "throw",
        "document",
    }
)
#: A form's status in the records: every form given was sent, so it is complete.
COMPLETE = 2

ABOUT = {"therapist": N_("about the therapist"), "team": N_("about the team")}
RECORD_LABEL = N_("Record: family code and member code")
REVERSE_NOTE = N_("reverse-keyed")


@dataclass(frozen=True)
class Field:
    """One row of the data dictionary: a variable of one form."""

    name: str
    form: str
    field_type: str
    label: str
    section: str = ""
    choices: str = ""
    note: str = ""
    validation: str = ""
    minimum: str = ""
    identifier: bool = False
    alignment: str = ""
    annotation: str = ""

    def row(self) -> tuple[str, ...]:
        """The field in the dictionary's 18 columns."""
        return (
            self.name,
            self.form,
            self.section,
            self.field_type,
            self.label,
            self.choices,
            self.note,
            self.validation,
            self.minimum,
            "",
            "y" if self.identifier else "",
            "",
            "",
            self.alignment,
            "",
            "",
            "",
            self.annotation,
        )


@dataclass(frozen=True)
class Form:
    """A repeating form: one instrument about one target, one instance per session."""

    name: str
    instrument: str
    target: str
    session: str
    date: str
    mode: str
    #: Item code -> variable name, in the instrument's order.
    items: Mapping[str, str]

    @property
    def complete(self) -> str:
        """REDCap's own status field of the form."""
        return f"{self.name}_complete"


@dataclass(frozen=True)
class Project:
    """The REDCap project: every field in dictionary order, and the repeating forms."""

    fields: tuple[Field, ...]
    forms: tuple[Form, ...]

    def form(self, instrument: str, target: str) -> Form:
        """The form of ``instrument`` about ``target``."""
        return next(f for f in self.forms if (f.instrument, f.target) == (instrument, target))

    @property
    def record_columns(self) -> list[str]:
        """The records file's columns: REDCap's own first, then each form's fields and its status."""
        columns = [RECORD_ID, *REPEAT_COLUMNS]
        for i, field in enumerate(self.fields):
            if field.name != RECORD_ID:
                columns.append(field.name)
            last = i + 1 == len(self.fields) or self.fields[i + 1].form != field.form
            if last:
                columns.append(f"{field.form}_complete")
        return columns


class _Names:
    """Variable and form names, unique in the project and within REDCap's rules."""

    def __init__(self, taken: Iterable[str]):
        self.taken = set(RESERVED) | set(taken)

    def free(self, name: str) -> bool:
        """Whether ``name`` is neither taken nor REDCap's (every ``redcap_...`` is)."""
        return name not in self.taken and not name.startswith("redcap_")

    def take(self, name: str) -> str:
        """``name``, taken from now on."""
        self.taken.add(name)
        return name

    def variable(self, wanted: str) -> str:
        """``wanted`` made valid: cut to 26 characters keeping a trailing number, else given a short hash."""
        name = re.sub(r"[^a-z0-9_]", "_", wanted.lower())
        if not name[:1].isalpha():
            name = "v" + name
        if len(name) > NAME_LIMIT:
            # Items are often numbered (bond_1 .. bond_4): the number tells them apart, keep it.
            digits = re.search(r"_?[0-9]+$", name)
            tail = digits.group() if digits and len(digits.group()) <= 6 else ""
            name = name[: NAME_LIMIT - len(tail)].rstrip("_") + tail
        if self.free(name):
            return self.take(name)
        return self.take(self._hashed(name[: NAME_LIMIT - 5].rstrip("_"), wanted))

    def form(self, wanted: str) -> str:
        """A form name: instrument codes are valid already; one met before gets a number."""
        name, n = wanted, 1
        while not self.free(name):
            n += 1
            name = f"{wanted}_{n}"
        return self.take(name)

    def _hashed(self, stem: str, wanted: str) -> str:
        """``stem`` and four hex digits of ``wanted``'s hash (the next ones while taken)."""
        for n in range(1000):
            name = f"{stem}_{hashlib.sha256(f'{wanted}/{n}'.encode()).hexdigest()[:4]}"
            if self.free(name):
                return name
        raise ValueError(f"no free REDCap name for {wanted!r}")


def _clean(text: str) -> str:
    """A label on one line, without REDCap's choice separator."""
    return " ".join(text.replace("|", "/").split())


def choices(instrument: Instrument, language: str = "en") -> str:
    """The scale as REDCap choices: ``code, label`` for every whole number, joined by `` | ``.

    The code is the app's value; the label the number, and the anchor's words where the
    definition has one (``0, 0 helemaal niet | 1, 1 | ...``). A scale that starts below zero
    starts with a space, which REDCap ignores and which keeps a spreadsheet from taking
    ``-3, ...`` for a formula (an apostrophe would become part of REDCap's first code).
    """
    anchors = dict(instrument.anchors)
    parts = []
    for value in range(instrument.scale_min, instrument.scale_max + 1):
        label = f"{value} {_clean(anchors[value][language])}" if value in anchors else str(value)
        parts.append(f"{value}, {label}")
    text = " | ".join(parts)
    return " " + text if text.startswith(RISKY) else text


def project(instruments: Mapping[str, Instrument], language: str = "en") -> Project:
    """The forms and fields of a project for ``instruments``, labelled in ``language``.

    The member form comes first (the record id first of all, as REDCap requires), then each
    instrument in order of its code, about the therapist and then about the team: its session
    number, date and how it was given, then one radio field per item. Names depend only on the
    instruments, so every export of one installation fits the same REDCap project.
    """
    label = codebook.VARIABLES
    names = _Names([RECORD_ID, *MEMBER_FIELDS])
    form_names: dict[tuple[str, str], str] = {}
    names.form(MEMBER_FORM)
    for code in sorted(instruments):
        for target in vocab.TARGETS:
            form_names[(code, target)] = names.form(code if target == "therapist" else f"{code}_{target}")
    # REDCap adds a status field to every form (and a timestamp to a survey): no variable may take their names.
    for form in [MEMBER_FORM, *form_names.values()]:
        names.take(f"{form}_complete")
        names.take(f"{form}_timestamp")

    roles = ", ".join(vocab.ROLES)
    modes = ", ".join(vocab.MODES)
    fields = [
        Field(RECORD_ID, MEMBER_FORM, "text", gettext(RECORD_LABEL, language)),
        Field(
            "family_code",
            MEMBER_FORM,
            "text",
            label["family"].labelled(language),
            identifier=True,
            annotation="familyalliance family",
        ),
        Field(
            "member_code",
            MEMBER_FORM,
            "text",
            label["member"].labelled(language),
            identifier=True,
            annotation="familyalliance member",
        ),
        Field(
            "member_role",
            MEMBER_FORM,
            "text",
            label["role"].labelled(language),
            note=roles,
            annotation="familyalliance role",
        ),
    ]
    forms = []
    for (code, target), form in form_names.items():
        instrument = instruments[code]
        about = f"instrument={code} version={instrument.version} target={target}"
        session = names.variable(f"{form}_session")
        date = names.variable(f"{form}_date")
        mode = names.variable(f"{form}_mode")
        heading = f"{_clean(instrument.name[language])}: {gettext(ABOUT[target], language)}"
        fields += [
            Field(
                session,
                form,
                "text",
                label["session"].labelled(language),
                section=heading,
                validation="integer",
                minimum="1",
                annotation=f"familyalliance {about} session",
            ),
            Field(
                date,
                form,
                "text",
                label["date"].labelled(language),
                validation="date_ymd",
                annotation=f"familyalliance {about} date",
            ),
            Field(
                mode,
                form,
                "text",
                label["mode"].labelled(language),
                note=modes,
                annotation=f"familyalliance {about} mode",
            ),
        ]
        scale = choices(instrument, language)
        items = {}
        for item in instrument.items:
            items[item.code] = name = names.variable(f"{form}_{item.code}")
            note = gettext(codebook.DIMENSION_NAMES[item.dimension], language)
            if item.reverse:
                note += f"; {gettext(REVERSE_NOTE, language)}"
            fields.append(
                Field(
                    name,
                    form,
                    "radio",
                    _clean(item.text_for(language, target)),
                    choices=scale,
                    note=note,
                    alignment="RH",
                    annotation=f"familyalliance {about} item={item.code}",
                )
            )
        forms.append(Form(form, code, target, session, date, mode, items))
    return Project(tuple(fields), tuple(forms))


def dictionary(layout: Project) -> pd.DataFrame:
    """The data dictionary: one row per field, REDCap's 18 columns, every cell text."""
    return pd.DataFrame([field.row() for field in layout.fields], columns=list(DICTIONARY_COLUMNS), dtype=object)


def record_ids(members: pd.DataFrame) -> pd.Series:
    """Each member's record id, ``{family}-{member}``.

    Codes may hold ``-`` themselves, so two members could meet (``A-B``/``C`` and ``A``/``B-C``);
    the later of them in code order gets ``-2``, ``-3``. Pseudonymised codes never meet.
    """
    wanted = (members["family"].astype(str) + "-" + members["member"].astype(str)).tolist()
    seen: set[str] = set()
    made = []
    for name in wanted:
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name}-{n}"
        seen.add(unique)
        made.append(unique)
    return pd.Series(made, index=members.index, dtype=object)


def records(long: pd.DataFrame, members: pd.DataFrame, layout: Project) -> pd.DataFrame:
    """The flat records for REDCap's Data Import Tool, in ``layout.record_columns``.

    ``long`` is the long export (its codes and dates as exported: pseudonymised or not),
    ``members`` every member of the exported families (``family``, ``member``, ``role``; those
    without answers too). Per record: the member row, then one row per form given (instrument,
    target, session) in the layout's order and by session, ``redcap_repeat_instance`` the session
    number. An unanswered item, and every field of the other forms, is an empty cell.
    """
    columns = layout.record_columns
    people = pd.concat(
        [members[["family", "member", "role"]], long[["family", "member", "role"]]], ignore_index=True
    ).drop_duplicates(["family", "member"])
    people = people.sort_values(["family", "member"], kind="stable", ignore_index=True)
    people["record_id"] = record_ids(people)
    if people.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    order = {(f.instrument, f.target): i for i, f in enumerate(layout.forms)}

    head = pd.DataFrame(
        {
            RECORD_ID: people["record_id"],
            "redcap_repeat_instrument": "",
            "redcap_repeat_instance": pd.array([pd.NA] * len(people), dtype="Int64"),
            "family_code": people["family"],
            "member_code": people["member"],
            "member_role": people["role"],
            f"{MEMBER_FORM}_complete": pd.array([COMPLETE] * len(people), dtype="Int64"),
            "_record": range(len(people)),
            "_form": -1,
            "_session": 0,
        }
    )
    parts = [head]
    if not long.empty:
        record = dict(zip(zip(people["family"], people["member"], strict=True), range(len(people)), strict=True))
        pairs = long["instrument"].astype(str) + "/" + long["target"].astype(str)
        positions = pairs.map({f"{code}/{target}": i for (code, target), i in order.items()})
        if positions.isna().any():
            raise ValueError(f"no REDCap form for instrument and target {sorted(set(pairs[positions.isna()]))}")
        frame = long.assign(_form=positions.astype("int64"))
        keys = ["family", "member", "session"]
        for position, form in enumerate(layout.forms):
            own = frame[frame["_form"] == position]
            if own.empty:
                continue
            unknown_items = sorted(set(own["item"]) - set(form.items))
            if unknown_items:
                raise ValueError(f"{form.instrument} has no items {unknown_items}")
            values = (
                own.assign(_variable=own["item"].map(form.items))
                .pivot(index=keys, columns="_variable", values="value")
                .reindex(columns=list(form.items.values()))
                .astype("Int64")
            )
            given = own.groupby(keys, sort=True)[["date", "mode"]].first()
            rows = values.join(given).reset_index()
            part = pd.DataFrame(
                {
                    "_record": [record[key] for key in zip(rows["family"], rows["member"], strict=True)],
                    "_form": position,
                    "_session": rows["session"].astype("int64"),
                    "redcap_repeat_instrument": form.name,
                    "redcap_repeat_instance": rows["session"].astype("Int64"),
                    form.session: rows["session"].astype("Int64"),
                    form.date: [_iso(d) for d in rows["date"]],
                    form.mode: [m if isinstance(m, str) else "" for m in rows["mode"]],
                    form.complete: pd.array([COMPLETE] * len(rows), dtype="Int64"),
                }
            )
            for variable in form.items.values():
                part[variable] = rows[variable].to_numpy()
            part[RECORD_ID] = people["record_id"].to_numpy()[part["_record"].to_numpy()]
            parts.append(part)
    table = pd.concat(parts, ignore_index=True).sort_values(["_record", "_form", "_session"], kind="stable")
    table = table.reset_index(drop=True)
    out = pd.DataFrame(index=table.index)
    for column in columns:
        if column in table.columns:
            out[column] = table[column]
        else:
            out[column] = pd.Series(pd.NA, index=table.index, dtype=object)
    return _typed(out, layout)


def _typed(table: pd.DataFrame, layout: Project) -> pd.DataFrame:
    """Numbers as whole numbers (an item's ``-3`` is a value, never text to neutralise), text as text."""
    whole = {"redcap_repeat_instance", f"{MEMBER_FORM}_complete"}
    for form in layout.forms:
        whole |= {form.session, form.complete, *form.items.values()}
    for column in table.columns:
        if column in whole:
            table[column] = pd.array(table[column], dtype="Int64")
        else:
            table[column] = table[column].astype(object).where(table[column].notna(), None)
    return table


def _iso(value) -> str | None:
    """A date as ``YYYY-MM-DD`` (REDCap's ``date_ymd``), None when left out."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def note(layout: Project, records_file: str, dictionary_file: str) -> str:
    """How to bring the files into REDCap: the dictionary, the repeating instruments, the import."""
    width = max((len(form.name) for form in layout.forms), default=0)
    repeating = "\n".join(f"     {form.name:<{width}}  custom label: Session [{form.session}]" for form in layout.forms)
    return (
        "REDCap import of a familyalliance export\n"
        "\n"
        f"1. Project Setup > Data Dictionary (or Designer > Data Dictionary): upload {dictionary_file}.\n"
        "   Every record is one family member: the first form, 'member', holds its family code, member\n"
        "   code and role, and is not repeating.\n"
        "2. Project Setup > Enable optional modules and customizations > Repeating instruments: enable,\n"
        "   and make every other form repeat (one instance per session; the instance is the session\n"
        "   number). Each questionnaire has a form about the therapist and one about the team:\n"
        f"{repeating}\n"
        "   The record ids are the export's family and member codes: import them as they are (REDCap's\n"
        "   auto-numbering of records off).\n"
        f"3. Applications > Data Import Tool: upload {records_file} (CSV, rows are records, dates YYYY-MM-DD).\n"
        "   Empty cells are unanswered items; a form not given has no row.\n"
    )


def write(layout: Project, table: pd.DataFrame, path: Path) -> list[Path]:
    """The records at ``path``, the data dictionary and the note beside it; returns the files written.

    Text cells a spreadsheet would run are neutralised (``csv_text``), as in every CSV export.
    """
    book = path.with_name(path.stem + "-dictionary.csv")
    readme = path.with_name(path.stem + "-readme.txt")
    path.write_text(csv_text(table), encoding="utf-8", newline="")
    book.write_text(csv_text(dictionary(layout)), encoding="utf-8", newline="")
    readme.write_text(note(layout, path.name, book.name), encoding="utf-8")
    return [path, book, readme]
