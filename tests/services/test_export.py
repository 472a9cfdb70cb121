"""Exports: columns and order of metrics.md, round trip, Excel, SPSS (read back), pseudonymisation.

The export command drives them; the SPSS file in GNU PSPP is ``system/test_pspp.py``.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import pyreadstat
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from familyalliance.core import analytics, exports
from familyalliance.core.scoring import SCORES_EXPORT_COLUMNS
from familyalliance.core.validation import LONG_HEADER_WITH_MODE
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member

from ..core.test_codebook import EXPECTED_COLUMNS
from .test_import import GOOD, write


def load_demo(runner) -> None:
    """A therapist in team Demo, with the demo families, through the commands."""
    assert (
        runner.invoke(
            args=[
                "create-user",
                "d@example.org",
                "--password",
                "long enough pw",
                "--role",
                "therapist",
                "--team",
                "Demo",
            ]
        ).exit_code
        == 0
    )
    assert runner.invoke(args=["demo", "--owner", "d@example.org"]).exit_code == 0


@pytest.fixture
def demo(app, runner):
    load_demo(runner)


def export(runner, tmp_path, kind, fmt="csv", *extra, name=None):
    path = tmp_path / (name or f"{kind}.{fmt}")
    result = runner.invoke(args=["export", kind, "--format", fmt, "--output", str(path), *extra])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize("kind", exports.KINDS)
def test_csv_columns_order_and_formatting(runner, tmp_path, demo, kind):
    text = export(runner, tmp_path, kind).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == EXPECTED_COLUMNS[kind]
    assert len(rows) > 1
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    if "family" in table.columns:
        keys = [c for c in ("family", "member", "session") if c in table.columns]
        ordered = table.assign(session=table["session"].astype(int)).sort_values(keys, kind="stable")
        assert ordered.index.tolist() == list(range(len(table))), "rows sorted by family, member, session"
    else:  # the research statistics and the therapist profiles name no family: sorted by their own key
        assert kind in ("research", "profiles") and not {"member", "date"} & set(table.columns)
    if "split" in table.columns:
        assert set(table["split"]) <= {"true", "false"}
    assert "nan" not in text and "None" not in text and "NaN" not in text
    codebook_file = tmp_path / f"{kind}-codebook.csv"
    assert list(pd.read_csv(codebook_file)["variable"]) == EXPECTED_COLUMNS[kind]


def test_full_precision(runner, tmp_path, demo):
    table = pd.read_csv(export(runner, tmp_path, "scores"))
    assert any(len(str(v).split(".")[-1]) >= 15 for v in table["total_pomp"].dropna())  # e.g. 58.333333333333336


def test_long_round_trip_is_byte_for_byte(app, make_app, runner, tmp_path, demo):
    """long export -> import into an empty database -> long export: the same bytes."""
    first = export(runner, tmp_path, "long").read_bytes()
    with app.app_context():
        from ..conftest import empty_tables

        empty_tables()
    result = runner.invoke(args=["import-ratings", str(tmp_path / "long.csv")])
    assert result.exit_code == 0, result.output
    second = export(runner, tmp_path, "long", name="again.csv").read_bytes()
    assert second == first


def test_formula_injection_neutralised_and_round_trip_kept(app, runner, tmp_path):
    """A code starting with '-' is written as text, and imports back to the same code."""
    lines = [line.replace("F1,M1", "-F1,-M1", 1) for line in GOOD]
    assert runner.invoke(args=["import-ratings", write(tmp_path, lines)]).exit_code == 0
    text = export(runner, tmp_path, "long").read_text()
    assert "\n'-F1,'-M1,mother" in text
    for row in csv.reader(io.StringIO(text)):
        for i, cell in enumerate(row):
            if LONG_HEADER_WITH_MODE[i] != "value":
                assert not cell.startswith(("=", "+", "-", "@")), cell
    with app.app_context():
        from ..conftest import empty_tables

        empty_tables()
    assert runner.invoke(args=["import-ratings", str(tmp_path / "long.csv")]).exit_code == 0
    with app.app_context():
        assert "-M1" in set(db.session.scalars(sa.select(Member.code)))
    assert export(runner, tmp_path, "long", name="again.csv").read_text() == text
    book = load_workbook(export(runner, tmp_path, "long", "xlsx"))
    cell = book["data"]["A2"]
    assert cell.value == "-F1" and cell.data_type == "s"


def test_xlsx_has_data_codebook_and_readme(runner, tmp_path, demo):
    book = load_workbook(export(runner, tmp_path, "family", "xlsx", "--pseudonymise"))
    assert book.sheetnames == ["data", "codebook", "readme"]
    data = list(book["data"].values)
    assert list(data[0]) == analytics.FAMILY_COLUMNS
    assert isinstance(data[1][analytics.FAMILY_COLUMNS.index("split")], bool)
    variables = [row[0] for row in list(book["codebook"].values)[1:]]
    assert variables == analytics.FAMILY_COLUMNS
    readme = dict(list(book["readme"].values))
    assert readme["export"] == "family" and readme["pseudonymised"] == "yes"
    assert readme["setting SPLIT_THRESHOLD"] == "25.0"
    assert readme["instrument alliance16"] == "version 1.0"


def test_sav_keeps_its_labels(runner, tmp_path, demo):
    path = export(runner, tmp_path, "scores", "sav", "--language", "nl")
    frame, meta = pyreadstat.read_sav(str(path))
    assert meta.column_names == SCORES_EXPORT_COLUMNS
    assert meta.column_names_to_labels["role"] == "Rol van het gezinslid in het gezin"
    assert meta.variable_value_labels["role"][1.0] == "Moeder"
    assert meta.variable_value_labels["informant"] == {1.0: "Het gezinslid", 2.0: "De therapeut"}
    assert meta.variable_value_labels["instrument"] == {1.0: "alliance16", 2.0: "check4", 3.0: "observer4"}
    assert meta.variable_measure["role"] == "nominal" and meta.variable_measure["total_pomp"] == "scale"
    assert meta.original_variable_types["date"] == "EDATE10"
    csv_table = pd.read_csv(export(runner, tmp_path, "scores"))
    assert frame["total_pomp"].fillna(-1).tolist() == csv_table["total_pomp"].fillna(-1).tolist()


def test_sav_split_levels_labelled(runner, tmp_path, demo):
    _, meta = pyreadstat.read_sav(str(export(runner, tmp_path, "family", "sav")))
    assert meta.variable_value_labels["split_level"] == {1.0: "None", 2.0: "Mild", 3.0: "Moderate", 4.0: "Severe"}
    assert meta.variable_value_labels["split"] == {0.0: "false", 1.0: "true"}


def test_pseudonymised_exports(app, runner, tmp_path, demo):
    """Opaque, stable codes; no case codes, member codes or names; dates shifted consistently per family."""
    plain = pd.read_csv(export(runner, tmp_path, "long"), dtype=str, keep_default_na=False)
    first = export(runner, tmp_path, "long", "csv", "--pseudonymise", name="p1.csv").read_text()
    second = export(runner, tmp_path, "long", "csv", "--pseudonymise", name="p2.csv").read_text()
    assert first == second
    with app.app_context():
        names = set(db.session.scalars(sa.select(Member.display_name)))
    for secret in set(plain["family"]) | names:
        assert secret not in first
    pseudo = pd.read_csv(io.StringIO(first), dtype=str, keep_default_na=False)
    assert pseudo["family"].str.fullmatch(r"F[0-9A-F]{12}").all()
    assert pseudo["member"].str.fullmatch(r"M[0-9A-F]{8}").all()
    assert pseudo["family"].nunique() == plain["family"].nunique()
    # Same rows and answers; each family's dates all moved by one offset (never zero), so the intervals stay.
    assert len(pseudo) == len(plain) and sorted(pseudo["value"]) == sorted(plain["value"])
    pseudonymiser = exports.Pseudonymiser(app.config["PSEUDONYM_KEY"].encode())
    for code, rows in plain.groupby("family"):
        theirs = pseudo[pseudo["family"] == pseudonymiser.family(code)]
        assert sorted(set(theirs["member"])) == sorted({pseudonymiser.member(code, m) for m in rows["member"]})
        offsets = {
            (pd.Timestamp(b) - pd.Timestamp(a)).days
            for a, b in zip(sorted(set(rows["date"])), sorted(set(theirs["date"])), strict=True)
        }
        assert len(offsets) == 1 and 0 not in offsets
    dropped = pd.read_csv(
        export(runner, tmp_path, "scores", "csv", "--pseudonymise", "--dates", "drop"), dtype=str, keep_default_na=False
    )
    assert (dropped["date"] == "").all()


def test_export_scope(app, runner, tmp_path, demo):
    with app.app_context():
        code = db.session.scalars(sa.select(Family.code).order_by(Family.code)).all()[1]
    one = pd.read_csv(export(runner, tmp_path, "scores", "csv", "--family", code))
    assert set(one["family"]) == {code}
    team = pd.read_csv(export(runner, tmp_path, "scores", "csv", "--team", "Demo", name="team.csv"))
    assert team["family"].nunique() == 5
    missing = runner.invoke(args=["export", "scores", "--output", str(tmp_path / "x.csv"), "--family", "NOPE"])
    assert missing.exit_code == 1 and "No family NOPE" in missing.output


def test_streamed_long_csv_equals_the_table_path(app, runner, tmp_path, demo):
    """The long CSV streams from the database; it must be the bytes the table-building path writes."""
    streamed = export(runner, tmp_path, "long").read_text(encoding="utf-8")
    with app.app_context():
        from familyalliance.services import exporting

        built = exports.csv_text(exporting.export_table("long", None, analytics.DEFAULTS))
    assert streamed == built
