"""The research export written by ``services.exporting``: CSV with codebook, Excel and SPSS, for the chosen families.

Every number in the files is checked against ``core.research`` computed directly on the
same families' answers; none of the files may name a family, a member or a session date.
"""

from __future__ import annotations

import math
import re

import pandas as pd
import pyreadstat
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from familyalliance.core import analytics, codebook, exports, research
from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.scoring import score_frame
from familyalliance.core.validation import LONG_HEADER
from familyalliance.core.vocab import DIMENSIONS
from familyalliance.services import exporting
from familyalliance.services.errors import OperationError
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member
from familyalliance.store.queries import responses_frame
from familyalliance.store.registry import installed_instruments

from ..factories import commit, gen_user

KEY = ["statistic", "instrument", "informant", "target", "dimension", "session"]
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def other_team_lines() -> list[str]:
    """Long CSV rows of family NOORD-1: three members' alliance16 forms at two sessions."""
    lines = []
    for session in (1, 2):
        for member, role, level in (("M1", "mother", 2), ("Y1", "youth", 4), ("C1", "child", 3)):
            for i, item in enumerate(builtin_instruments()["alliance16"].item_codes):
                value = min(5, level + (i + session) % 2)
                lines.append(
                    f"NOORD-1,{member},{role},{session},2026-02-0{session},self,therapist,alliance16,{item},{value}"
                )
    return lines


def make_families(app, runner, tmp_path) -> None:
    """The five demo families in team Demo, and one family of team Noord."""
    with app.app_context():
        gen_user("therapist", "Demo", "ther@example.org")
        commit()
    assert runner.invoke(args=["demo", "--owner", "ther@example.org"]).exit_code == 0
    path = tmp_path / "noord.csv"
    path.write_text("\n".join([",".join(LONG_HEADER), *other_team_lines()]) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import-ratings", str(path), "--team", "Noord"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def families(app, runner, tmp_path):
    """The five demo families in team Demo, and one family of team Noord."""
    make_families(app, runner, tmp_path)


def expected_statistics(responses: pd.DataFrame) -> dict[tuple, tuple[float, int, int]]:
    """Every statistic of the research export from ``core.research``: key -> (estimate, cases, families)."""
    instruments = installed_instruments()
    out = {}
    inst = instruments["alliance16"]
    wide = research.item_table(responses, inst)
    for target in wide.index.unique("target"):
        forms = wide.xs(target, level="target", drop_level=False)
        for dimension in DIMENSIONS:
            block = forms[[item.code for item in inst.items_of(dimension)]]
            alpha, cases = research.cronbach_alpha(block, "listwise")
            families = block.dropna().index.get_level_values("family").nunique()
            out[("alpha", "alliance16", "self", target, dimension, None)] = (alpha, cases, families)
    scores = score_frame(responses, instruments)
    for informant, target in scores[["informant", "target"]].drop_duplicates().itertuples(index=False):
        for dimension in (*DIMENSIONS, "total"):
            for icc in research.member_icc(scores, dimension, informant, target).itertuples(index=False):
                for statistic in ("icc1", "icc2"):
                    key = (statistic, None, informant, target, dimension, int(icc.session))
                    out[key] = (getattr(icc, statistic), icc.members, icc.families)
    return out


def blank(value) -> bool:
    """Whether a cell read back from a file is empty."""
    return value is None or value is pd.NA or value == "" or (isinstance(value, float) and math.isnan(value))


def keyed(records: list[dict]) -> dict[tuple, tuple[float, int, int]]:
    """Rows of an exported research table (categories as codes), keyed like ``expected_statistics``."""
    out = {}
    for row in records:
        key = tuple(None if blank(row[c]) else row[c] for c in KEY[:5])
        session = None if blank(row["session"]) else int(row["session"])
        estimate = float("nan") if blank(row["estimate"]) else float(row["estimate"])
        out[(*key, session)] = (estimate, int(row["n_cases"]), int(row["n_families"]))
    return out


def assert_same(found: dict, expected: dict) -> None:
    """The same rows, estimates equal to rounding, the same counts."""
    assert sorted(found, key=str) == sorted(expected, key=str)
    for key, (estimate, cases, families) in expected.items():
        assert found[key][0] == pytest.approx(estimate, rel=1e-12, nan_ok=True), key
        assert found[key][1:] == (cases, families), key


def test_select_families_by_code_and_team(app, families):
    """Codes, a team or both; every unknown code and team named."""
    with app.app_context():
        codes = dict(db.session.execute(sa.select(Family.code, Family.id)).all())
        assert exporting.select_families() is None
        demo = sorted(i for code, i in codes.items() if code != "NOORD-1")
        assert sorted(exporting.select_families(team_name="Demo")) == demo and len(demo) == 5
        assert exporting.select_families(["NOORD-1"]) == [codes["NOORD-1"]]
        with pytest.raises(OperationError, match=r"^No family NOPE, ZZZ\.$"):
            exporting.select_families(["ZZZ", "NOORD-1", "NOPE"])
        with pytest.raises(OperationError, match=r"^No family NOORD-1\.$"):
            exporting.select_families(["NOORD-1"], "Demo")  # not a family of that team
        with pytest.raises(OperationError, match=r"^No team Zuid\.$"):
            exporting.select_families(team_name="Zuid")


def test_research_export_in_every_format_holds_the_statistics_of_the_chosen_families(app, families, tmp_path):
    """CSV, xlsx and sav of team Demo's families: the numbers of ``core.research``; no codes, no dates."""
    with app.app_context():
        hidden = set(db.session.scalars(sa.select(Family.code))) | set(db.session.scalars(sa.select(Member.code)))
        names = set(db.session.scalars(sa.select(Member.display_name)))
        instrument_codes = sorted(installed_instruments())
        ids = exporting.select_families(team_name="Demo")
        expected = expected_statistics(responses_frame(ids))
        everyone = expected_statistics(responses_frame(None))
        pseudonymiser = exports.Pseudonymiser(app.config["PSEUDONYM_KEY"].encode(), "drop")
        settings = analytics.DEFAULTS
        rows, written = exporting.write_export("research", "csv", tmp_path / "r.csv", ids, settings, pseudonymiser)
        plain_rows, _ = exporting.write_export("research", "csv", tmp_path / "plain.csv", ids, settings)
        exporting.write_export("research", "xlsx", tmp_path / "r.xlsx", ids, settings, pseudonymiser)
        exporting.write_export("research", "sav", tmp_path / "r.sav", ids, settings, pseudonymiser, "nl")
    # The demo gives alpha and the ICCs of both informants; the other team's family would change them.
    assert {key[0] for key in expected} == {"alpha", "icc1", "icc2"}
    assert {key[2] for key in expected if key[0] == "icc1"} == {"self", "therapist"}
    assert max(families for _, _, families in expected.values()) == 5
    assert any(everyone[key][1:] != expected[key][1:] for key in expected.keys() & everyone.keys())

    assert written == [tmp_path / "r.csv", tmp_path / "r-codebook.csv"] and rows == len(expected)
    text = (tmp_path / "r.csv").read_text(encoding="utf-8")
    assert text == (tmp_path / "plain.csv").read_text(encoding="utf-8") and plain_rows == rows
    table = pd.read_csv(tmp_path / "r.csv", dtype={"instrument": str})
    assert list(table.columns) == research.RESEARCH_COLUMNS
    assert_same(keyed(table.to_dict("records")), expected)
    book = pd.read_csv(tmp_path / "r-codebook.csv")
    assert list(book["variable"]) == research.RESEARCH_COLUMNS and book["label_nl"].notna().all()

    workbook = load_workbook(tmp_path / "r.xlsx")
    data = list(workbook["data"].values)
    assert list(data[0]) == research.RESEARCH_COLUMNS
    assert_same(keyed([dict(zip(data[0], row, strict=True)) for row in data[1:]]), expected)
    readme = dict(workbook["readme"].values)
    assert readme["export"] == "research" and readme["dates"] == "none" and "families" not in readme

    frame, meta = pyreadstat.read_sav(str(tmp_path / "r.sav"))
    assert meta.column_names == research.RESEARCH_COLUMNS
    assert meta.column_names_to_labels["estimate"] == "Waarde van de statistiek; leeg als die niet te berekenen is"
    assert meta.variable_value_labels["statistic"][2.0] == "ICC(1): deel van de variantie dat tussen gezinnen ligt"
    decoded = frame.astype(object)
    for column in ("statistic", "instrument", "informant", "target", "dimension"):
        values = codebook.variables([column], instrument_codes)[0].values
        decoded[column] = frame[column].map({float(code): value for code, value in enumerate(values, start=1)})
    assert_same(keyed(decoded.to_dict("records")), expected)

    cells = [*text.replace("\n", ",").split(","), *(str(v) for row in data for v in row if v is not None)]
    assert not hidden & set(cells)
    assert not any(ISO_DATE.search(cell) for cell in cells)
    assert not any(name in str(value) for name in names for value in readme.values())


def test_export_command_writes_what_the_service_writes(app, runner, families, tmp_path):
    """``flask export research --team Demo`` picks the families through the service and writes the same CSV."""
    result = runner.invoke(
        args=["export", "research", "--format", "csv", "--output", str(tmp_path / "cli.csv"), "--team", "Demo"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        ids = exporting.select_families(team_name="Demo")
        exporting.write_export("research", "csv", tmp_path / "service.csv", ids, analytics.DEFAULTS)
    assert (tmp_path / "cli.csv").read_bytes() == (tmp_path / "service.csv").read_bytes()
    assert (tmp_path / "cli-codebook.csv").exists()
    missing = runner.invoke(args=["export", "research", "--output", str(tmp_path / "x.csv"), "--team", "Zuid"])
    assert missing.exit_code == 1 and "No team Zuid." in missing.output
