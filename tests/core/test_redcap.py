"""REDCap's data dictionary and records (``core.exports.redcap``): its columns and name rules, the scales, the rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pandas as pd
import pytest

from familyalliance.core import vocab
from familyalliance.core.exports import csv_text, redcap
from familyalliance.core.instruments import builtin_instruments, load_definition
from familyalliance.core.validation import LONG_HEADER_WITH_MODE

from .test_fhir_mapping import CUSTOM

#: REDCap's 18 data dictionary columns, as REDCap writes them.
COLUMNS = [
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
]
BUILTIN = builtin_instruments()
INSTRUMENTS = BUILTIN | {"wav_example": load_definition(CUSTOM)}


def definition(code: str, items: list[str]) -> dict:
    """A valid definition named ``code`` with these item codes, the dimensions in turn."""
    return CUSTOM | {
        "code": code,
        "items": [
            {"code": item, "dimension": vocab.DIMENSIONS[i % 4], "text": {"nl": f"vraag {i}", "en": f"item {i}"}}
            for i, item in enumerate(items)
        ],
    }


#: Instruments whose codes meet REDCap's limits and each other: a 32-character code, 64-character items
#: that differ only at their end, items named as the fields REDCap or the form add, a code that is
#: another instrument's team form and one that is the member form.
AWKWARD = {
    "a" * 32: load_definition(definition("a" * 32, ["b" * 63 + "1", "b" * 63 + "2", "b" * 64, "c" * 64])),
    "check4_team": load_definition(definition("check4_team", ["bond", "session", "complete", "timestamp"])),
    "member": load_definition(definition("member", ["code", "role", "mode", "date"])),
    "q": load_definition(definition("q", ["record_id", "redcap_x", "submit", "n" * 30 + "_12"])),
}


def parse_choices(text: str) -> list[tuple[str, str]]:
    """Choices read as REDCap reads them: split at ``|``, then at the first comma, each part stripped."""
    return [tuple(part.strip() for part in choice.split(",", 1)) for choice in text.split("|")]


def test_dictionary_has_redcaps_18_columns_and_the_record_id_first():
    table = redcap.dictionary(redcap.project(BUILTIN))
    assert list(table.columns) == COLUMNS == list(redcap.DICTIONARY_COLUMNS)
    first = table.iloc[:4]
    assert list(first["Variable / Field Name"]) == ["record_id", "family_code", "member_code", "member_role"]
    assert set(first["Form Name"]) == {"member"}
    assert set(first["Field Type"]) == {"text"}
    assert list(first["Identifier?"]) == ["", "y", "y", ""]
    # Each form's fields together, as REDCap requires; a form per instrument and target.
    forms = list(dict.fromkeys(table["Form Name"]))
    assert forms == [
        "member",
        "alliance16",
        "alliance16_team",
        "check4",
        "check4_team",
        "observer4",
        "observer4_team",
    ]
    assert table["Form Name"].tolist() == sorted(table["Form Name"], key=forms.index)


@pytest.mark.parametrize(
    "instruments", [BUILTIN, INSTRUMENTS, INSTRUMENTS | AWKWARD], ids=["builtin", "custom", "awkward"]
)
def test_variable_names_follow_redcaps_rules_and_are_unique(instruments):
    layout = redcap.project(instruments)
    names = [field.name for field in layout.fields]
    forms = [form.name for form in layout.forms]
    assert len(set(names)) == len(names)
    assert len(set(forms)) == len(forms) and "member" not in forms
    own = {f"{form}_{suffix}" for form in ["member", *forms] for suffix in ("complete", "timestamp")}
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert len(name) <= 26, name
        assert name not in redcap.RESERVED and not name.startswith("redcap_"), name
        assert name not in own, name
    for form in forms:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", form), form
    # Every item of every instrument has its field, about the therapist and about the team.
    for code, instrument in instruments.items():
        for target in vocab.TARGETS:
            assert list(layout.form(code, target).items) == list(instrument.item_codes)
    # The same instruments give the same names: every export fits the project made from the first.
    assert redcap.project(dict(reversed(list(instruments.items())))) == layout


def test_names_read_as_instrument_and_item():
    layout = redcap.project(BUILTIN)
    assert layout.form("check4", "therapist").items == {
        "bond": "check4_bond",
        "goals_tasks": "check4_goals_tasks",
        "safety": "check4_safety",
        "shared_purpose": "check4_shared_purpose",
    }
    alliance = layout.form("alliance16", "therapist")
    assert alliance.name == "alliance16" and alliance.session == "alliance16_session"
    # 27 characters are cut to 26, keeping the item's number.
    assert alliance.items["shared_purpose_4"] == "alliance16_shared_purpos_4"
    team = layout.form("alliance16", "team")
    assert team.name == "alliance16_team" and team.items["goals_tasks_2"] == "alliance16_team_goals_ta_2"
    assert layout.form("observer4", "team").items["shared_purpose"] == "observer4_team_shared_purp"
    # A name met before gets a short hash instead: here check4's team form has taken the name.
    awkward = redcap.project(BUILTIN | AWKWARD)
    assert awkward.form("check4", "team").name == "check4_team"
    assert awkward.form("check4_team", "therapist").name == "check4_team_2"
    assert awkward.form("member", "therapist").name == "member_2"
    assert re.fullmatch(r"member_2_date_[0-9a-f]{4}", awkward.form("member", "therapist").items["date"])


@pytest.mark.parametrize("language", ["en", "nl"])
def test_choices_are_each_instruments_scale_with_its_anchors(language):
    layout = redcap.project(INSTRUMENTS, language)
    table = redcap.dictionary(layout).set_index("Variable / Field Name")
    for form in layout.forms:
        instrument = INSTRUMENTS[form.instrument]
        anchors = dict(instrument.anchors)
        for item, name in form.items.items():
            row = table.loc[name]
            assert row["Field Type"] == "radio" and row["Form Name"] == form.name
            parsed = parse_choices(row["Choices, Calculations, OR Slider Labels"])
            assert [int(code) for code, _ in parsed] == list(range(instrument.scale_min, instrument.scale_max + 1))
            for code, label in parsed:
                words = anchors.get(int(code), {}).get(language)
                assert label == (f"{code} {words}" if words else code)
            assert row["Field Label"] == instrument.item(item).text_for(language, form.target)
    assert table.loc["check4_bond", "Choices, Calculations, OR Slider Labels"] == (
        "0, 0 not at all | 1, 1 | 2, 2 | 3, 3 | 4, 4 | 5, 5 half | 6, 6 | 7, 7 | 8, 8 | 9, 9 | 10, 10 very much"
        if language == "en"
        else "0, 0 helemaal niet | 1, 1 | 2, 2 | 3, 3 | 4, 4 | 5, 5 half | 6, 6 | 7, 7 | 8, 8 | 9, 9 | 10, 10 heel erg"
    )
    if language == "nl":
        assert table.loc["check4_team_bond", "Field Label"] == "Ik merk dat het team naar mij luistert."
        assert table.loc["alliance16_safety_4", "Field Note"] == "Veiligheid; omgekeerd gescoord"
        assert table.loc["check4_session", "Section Header"] == "Korte check (4 vragen): over de therapeut"


def test_a_scale_below_zero_stays_readable_for_redcap_in_the_csv():
    """observer4's -3..+3: a leading space REDCap ignores, so the cell is no formula and gets no apostrophe."""
    layout = redcap.project(BUILTIN)
    cell = redcap.dictionary(layout).set_index("Variable / Field Name").loc["observer4_bond"]
    choices = cell["Choices, Calculations, OR Slider Labels"]
    assert choices.startswith(" -3, -3 very problematic | -2, -2 |")
    rows = list(csv.DictReader(io.StringIO(csv_text(redcap.dictionary(layout)))))
    written = next(r for r in rows if r["Variable / Field Name"] == "observer4_bond")
    assert written["Choices, Calculations, OR Slider Labels"] == choices
    assert [code for code, _ in parse_choices(choices)] == ["-3", "-2", "-1", "0", "1", "2", "3"]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value


def test_session_date_and_mode_fields_of_every_form():
    table = redcap.dictionary(redcap.project(BUILTIN)).set_index("Variable / Field Name")
    session = table.loc["check4_team_session"]
    assert (session["Field Type"], session["Text Validation Type OR Show Slider Number"]) == ("text", "integer")
    assert session["Text Validation Min"] == "1"
    assert table.loc["check4_team_date", "Text Validation Type OR Show Slider Number"] == "date_ymd"
    assert table.loc["check4_team_mode", "Field Note"] == "link, round, paper, grid, import"
    assert table.loc["member_role", "Field Note"] == ", ".join(vocab.ROLES)


# --- Records ----------------------------------------------------------------------------------------


def form_rows(family, member, role, session, date, instrument, target, values, mode):
    informant = BUILTIN[instrument].informant
    return [
        (family, member, role, session, date, informant, target, instrument, item, value, mode)
        for item, value in values.items()
    ]


def long_table(*forms) -> pd.DataFrame:
    rows = [row for form in forms for row in form_rows(*form)]
    table = pd.DataFrame(rows, columns=LONG_HEADER_WITH_MODE)
    table["value"] = pd.array(table["value"], dtype="Int64")
    return table


D1, D2 = dt.date(2026, 1, 5), dt.date(2026, 1, 12)
CHECK = ("bond", "goals_tasks", "safety", "shared_purpose")
LONG = long_table(
    ("F1", "M1", "mother", 1, D1, "check4", "therapist", dict(zip(CHECK, [4, None, 7, 10], strict=True)), "link"),
    ("F1", "M1", "mother", 2, D2, "check4", "therapist", dict(zip(CHECK, [5, 5, 5, 5], strict=True)), "round"),
    ("F1", "M1", "mother", 2, D2, "check4", "team", dict(zip(CHECK, [1, 2, 3, None], strict=True)), None),
    ("F1", "M1", "mother", 1, D1, "observer4", "therapist", dict(zip(CHECK, [-3, 0, 3, 1], strict=True)), "grid"),
    ("F1", "Y1", "youth", 2, D2, "check4", "therapist", dict(zip(CHECK, [None] * 4, strict=True)), "paper"),
    ("-F2", "M1", "father", 1, None, "check4", "therapist", dict(zip(CHECK, [0, 1, 2, 3], strict=True)), "import"),
)
MEMBERS = pd.DataFrame(
    [("F1", "C1", "child"), ("F1", "M1", "mother"), ("F1", "Y1", "youth"), ("-F2", "M1", "father")],
    columns=["family", "member", "role"],
)


def test_one_row_per_member_and_one_per_instrument_target_and_session():
    layout = redcap.project(BUILTIN)
    table = redcap.records(LONG, MEMBERS, layout)
    assert list(table.columns) == layout.record_columns
    assert layout.record_columns[:3] == ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance"]
    keys = list(
        zip(table["record_id"], table["redcap_repeat_instrument"], table["redcap_repeat_instance"], strict=True)
    )
    assert [(r, i, None if pd.isna(n) else int(n)) for r, i, n in keys] == [
        ("-F2-M1", "", None),
        ("-F2-M1", "check4", 1),
        ("F1-C1", "", None),  # a member without answers is a record too
        ("F1-M1", "", None),
        ("F1-M1", "check4", 1),
        ("F1-M1", "check4", 2),
        ("F1-M1", "check4_team", 2),
        ("F1-M1", "observer4", 1),
        ("F1-Y1", "", None),
        ("F1-Y1", "check4", 2),
    ]
    member = table[table["redcap_repeat_instrument"] == ""]
    assert list(member["member_role"]) == ["father", "child", "mother", "youth"]
    assert list(member["member_complete"]) == [2] * 4
    assert member["check4_bond"].isna().all()
    forms = table[table["redcap_repeat_instrument"] != ""]
    assert forms["family_code"].isna().all() and forms["member_complete"].isna().all()
    first = forms.iloc[1]  # F1-M1's quick check at session 1
    assert (first["check4_session"], first["check4_date"], first["check4_mode"]) == (1, "2026-01-05", "link")
    assert pd.isna(first["check4_goals_tasks"])  # unanswered: an empty cell
    assert first["check4_complete"] == 2 and pd.isna(first["check4_team_complete"])
    assert pd.isna(first["check4_team_bond"]) and pd.isna(first["observer4_bond"])
    noor = forms[forms["record_id"] == "F1-Y1"].iloc[0]  # a form of unanswered items still has its row
    assert noor[list(layout.form("check4", "therapist").items.values())].isna().all()
    assert forms.iloc[0]["check4_date"] is None  # dates left out stay out


def blank(cell):
    """A cell of the long table as a plain value; None when empty."""
    if pd.isna(cell):
        return None
    return int(cell) if not isinstance(cell, str) else cell


def test_values_equal_the_long_exports():
    """Read back into the long table's rows: every answer, unanswered item, date and mode as exported."""
    layout = redcap.project(BUILTIN)
    table = redcap.records(LONG, MEMBERS, layout)
    members = table[table["redcap_repeat_instrument"] == ""].set_index("record_id")
    back = []
    for row in table[table["redcap_repeat_instrument"] != ""].to_dict("records"):
        form = next(f for f in layout.forms if f.name == row["redcap_repeat_instrument"])
        person = members.loc[row["record_id"]]
        for item, name in form.items.items():
            value = row[name]
            back.append(
                (
                    person["family_code"],
                    person["member_code"],
                    person["member_role"],
                    int(row[form.session]),
                    row[form.date],
                    BUILTIN[form.instrument].informant,
                    form.target,
                    form.instrument,
                    item,
                    None if pd.isna(value) else int(value),
                    row[form.mode] or None,
                )
            )
    expected = [
        (*row[:4], None if row[4] is None else row[4].isoformat(), *row[5:9], *(blank(cell) for cell in row[9:]))
        for row in LONG.itertuples(index=False, name=None)
    ]
    assert sorted(back, key=str) == sorted(expected, key=str)


def test_records_csv_neutralises_text_not_values(tmp_path):
    layout = redcap.project(BUILTIN, "nl")
    table = redcap.records(LONG, MEMBERS, layout)
    written = redcap.write(layout, table, tmp_path / "records.csv")
    assert [p.name for p in written] == ["records.csv", "records-dictionary.csv", "records-readme.txt"]
    rows = list(csv.DictReader(io.StringIO(written[0].read_text(encoding="utf-8"))))
    assert rows[0]["record_id"] == "'-F2-M1" and rows[0]["family_code"] == "'-F2"
    observer = next(r for r in rows if r["redcap_repeat_instrument"] == "observer4")
    assert observer["observer4_bond"] == "-3"  # a value on the scale, as REDCap's choice code
    assert "nan" not in written[0].read_text() and "None" not in written[0].read_text()
    note = written[2].read_text(encoding="utf-8")
    assert "records-dictionary.csv" in note and "Data Import Tool" in note
    for form in layout.forms:
        assert f"{form.name} " in note and f"[{form.session}]" in note


def test_record_ids_stay_unique_when_codes_meet():
    members = pd.DataFrame([("A-B", "C", "other"), ("A", "B-C", "other")], columns=["family", "member", "role"])
    table = redcap.records(LONG.iloc[0:0], members, redcap.project(BUILTIN))
    assert list(table["record_id"]) == ["A-B-C", "A-B-C-2"]


def test_no_members_gives_the_header_alone():
    layout = redcap.project(BUILTIN)
    table = redcap.records(LONG.iloc[0:0], MEMBERS.iloc[0:0], layout)
    assert table.empty and list(table.columns) == layout.record_columns
    assert csv_text(table).splitlines() == [",".join(layout.record_columns)]


def test_an_item_the_instrument_does_not_have_is_refused():
    wrong = LONG.assign(item=LONG["item"].replace("bond", "bond_9"))
    with pytest.raises(ValueError, match="bond_9"):
        redcap.records(wrong, MEMBERS, redcap.project(BUILTIN))
    with pytest.raises(ValueError, match="no REDCap form"):
        redcap.records(LONG.assign(instrument="nope"), MEMBERS, redcap.project(BUILTIN))
