"""REDCap's files through ``flask export redcap`` (``exporting.write_redcap``): the long export's answers again.

The records are read back into the long table's rows with nothing but the data dictionary beside
them (each field's annotation names its instrument, target and item), and must be the long
export's rows exactly, named or pseudonymised; every member is a record, no file names anyone.
"""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from familyalliance import config
from familyalliance.core import analytics, exports
from familyalliance.core.exports import redcap
from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.validation import LONG_HEADER_WITH_MODE
from familyalliance.services import exporting
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, TherapySession
from familyalliance.store.registry import installed_instruments

from ..core.test_redcap import COLUMNS

pytestmark = pytest.mark.scenario("demo")


def export(runner, tmp_path, kind, fmt, *extra, name=None):
    path = tmp_path / (name or f"{kind}.{fmt}")
    result = runner.invoke(args=["export", kind, "--format", fmt, "--output", str(path), *extra])
    assert result.exit_code == 0, result.output
    return path, result.output


def read(path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def back_to_long(records: list[dict[str, str]], dictionary: list[dict[str, str]]) -> list[tuple[str, ...]]:
    """The records as the long CSV's rows, by the dictionary's annotations alone."""
    fields: dict[str, dict] = {}
    for row in dictionary:
        annotation = dict(re.findall(r"(\w+)=(\S+)", row["Field Annotation"]))
        if "instrument" in annotation:
            form = fields.setdefault(row["Form Name"], {"items": {}} | annotation)
            if "item" in annotation:
                form["items"][annotation["item"]] = row["Variable / Field Name"]
            else:
                form[row["Field Annotation"].rsplit(" ", 1)[1]] = row["Variable / Field Name"]
    informants = {code: instrument.informant for code, instrument in builtin_instruments().items()}
    people = {row["record_id"]: row for row in records if not row["redcap_repeat_instrument"]}
    rows = []
    for row in records:
        form = fields.get(row["redcap_repeat_instrument"])
        if form is None:
            continue
        assert row["redcap_repeat_instance"] == row[form["session"]]
        person = people[row["record_id"]]
        for item, name in form["items"].items():
            rows.append(
                (
                    person["family_code"],
                    person["member_code"],
                    person["member_role"],
                    row[form["session"]],
                    row[form["date"]],
                    informants[form["instrument"]],
                    form["target"],
                    form["instrument"],
                    item,
                    row[name],
                    row[form["mode"]],
                )
            )
    return sorted(rows)


def long_rows(path) -> list[tuple[str, ...]]:
    return sorted(tuple(row[c] for c in LONG_HEADER_WITH_MODE) for row in read(path))


def secrets() -> set[str]:
    return set(db.session.scalars(sa.select(Member.display_name))) | set(db.session.scalars(sa.select(Family.code)))


def test_named_export_holds_the_long_exports_answers_and_no_name(app, scenario, runner, tmp_path):
    path, output = export(runner, tmp_path, "redcap", "csv")
    long, _ = export(runner, tmp_path, "long", "csv")
    book, readme = tmp_path / "redcap-dictionary.csv", tmp_path / "redcap-readme.txt"
    assert f"to {path}, {book}, {readme}." in output
    records, dictionary = read(path), read(book)
    assert list(dictionary[0]) == COLUMNS
    assert dictionary[0]["Variable / Field Name"] == "record_id" and dictionary[0]["Form Name"] == "member"
    assert back_to_long(records, dictionary) == long_rows(long)
    assert f"Wrote {len(records)} rows" in output
    instruments = {row["redcap_repeat_instrument"] for row in records}
    assert {"", "alliance16", "check4", "observer4", "check4_team"} <= instruments  # a demo family rates the team
    with app.app_context():
        members = {(f, m) for f, m in db.session.execute(sa.select(Family.code, Member.code).join(Family))}
        hidden = {name for name in db.session.scalars(sa.select(Member.display_name))}
    assert {(r["family_code"], r["member_code"]) for r in records if not r["redcap_repeat_instrument"]} == members
    text = "".join(p.read_text(encoding="utf-8") for p in (path, book, readme))
    assert not any(name in text for name in hidden)  # codes, never display names, as every export
    assert "redcap-dictionary.csv" in readme.read_text(encoding="utf-8")


@pytest.mark.parametrize("dates", ["shift", "drop"])
def test_pseudonymised_as_the_research_exports(app, scenario, runner, tmp_path, dates):
    path, _ = export(runner, tmp_path, "redcap", "csv", "--pseudonymise", "--dates", dates)
    long, _ = export(runner, tmp_path, "long", "csv", "--pseudonymise", "--dates", dates)
    records = read(path)
    assert back_to_long(records, read(tmp_path / "redcap-dictionary.csv")) == long_rows(long)
    for row in records:
        family, member = row["record_id"].split("-")
        assert re.fullmatch(r"F[0-9A-F]{12}", family) and re.fullmatch(r"M[0-9A-F]{8}", member)
    with app.app_context():
        hidden = secrets()
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(app), dates)
        sessions = db.session.execute(sa.select(Family.code, TherapySession.number, TherapySession.date).join(Family))
        real = {(pseudonymiser.family(code), str(number)): date for code, number, date in sessions}
    text = path.read_text(encoding="utf-8")
    assert not any(secret in text for secret in hidden)
    if dates == "drop":
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    for row in records:  # each family's dates moved by its own number of days, never zero
        if row["redcap_repeat_instrument"]:
            family, session = row["record_id"].split("-")[0], row["redcap_repeat_instance"]
            form = row["redcap_repeat_instrument"]
            written = row[f"{form}_date"]
            assert written != real[(family, session)].isoformat()
            if dates == "shift":
                shift = pseudonymiser.shift(next(c for c in hidden if pseudonymiser.family(c) == family))
                assert written == (real[(family, session)] + shift).isoformat()


def test_one_family_in_dutch(app, scenario, runner, tmp_path):
    with app.app_context():
        code = db.session.scalars(sa.select(Family.code).order_by(Family.code)).first()
    path, _ = export(runner, tmp_path, "redcap", "csv", "--family", code, "--language", "nl")
    assert {row["family_code"] for row in read(path)} <= {code, ""}
    dictionary = {row["Variable / Field Name"]: row for row in read(tmp_path / "redcap-dictionary.csv")}
    assert dictionary["check4_session"]["Field Label"] == "Sessienummer binnen het gezin"
    assert dictionary["check4_team_bond"]["Field Label"] == "Ik merk dat het team naar mij luistert."


@pytest.mark.parametrize(
    ("kind", "fmt", "message"),
    [
        ("redcap", "xlsx", "The redcap export is written as csv only (--format csv), not xlsx."),
        ("redcap", "json", "json is for the fhir export only; redcap is written as csv."),
        ("long", "json", "json is for the fhir export only; long is written as csv, xlsx, sav."),
    ],
)
def test_a_kind_in_a_format_it_has_not_is_refused(runner, tmp_path, kind, fmt, message):
    path = tmp_path / "out"
    result = runner.invoke(args=["export", kind, "--format", fmt, "--output", str(path)])
    assert result.exit_code == 1 and message in result.output
    assert list(tmp_path.iterdir()) == []


def test_redcap_without_format_is_csv(runner, tmp_path):
    result = runner.invoke(args=["export", "redcap", "--output", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r-dictionary.csv", "r-readme.txt", "r.csv"]


def test_no_families_give_the_header_and_the_whole_dictionary(app, tmp_path):
    with app.app_context():
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(app))
        rows, written = exporting.write_export(
            "redcap", "csv", tmp_path / "none.csv", [], analytics.DEFAULTS, pseudonymiser
        )
        layout = redcap.project(installed_instruments())
    assert rows == 0
    assert pd.read_csv(written[0]).columns.tolist() == layout.record_columns
    assert len(read(written[1])) == len(layout.fields)
