"""The analytics and exports packages after their split, and the research table built from the long answers.

The split must keep every public name where callers look for it (``analytics.X``,
``exports.X``) and keep the modules layered; the research table must hold the statistics of
``core.research`` computed by hand here, and nothing that names a family, member or date.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import re
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from familyalliance.core import analytics, exports, research
from familyalliance.core.analytics import analysis, common, family, patterns, profile, series, trajectory
from familyalliance.core.exports import tables, writers
from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.scoring import score_frame
from familyalliance.core.validation import LONG_HEADER

INSTRUMENTS = builtin_instruments()
ITEMS = ("bond", "goals_tasks", "safety", "shared_purpose")


def defined_names(module) -> set[str]:
    """The public names a module defines itself (functions, classes, top-level assignments)."""
    names = set()
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


def sibling_imports(module, package: str) -> set[str]:
    """The modules of ``package`` that ``module`` imports from."""
    found = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package + "."):
            found.add(node.module.removeprefix(package + "."))
    return found


@pytest.mark.parametrize(
    ("package", "modules"),
    [(analytics, (common, family, series, patterns, trajectory, profile, analysis)), (exports, (tables, writers))],
    ids=["analytics", "exports"],
)
def test_every_public_name_is_reexported(package, modules):
    """``package.X`` is the very object its module defines, for every public X of every module."""
    for module in modules:
        for name in defined_names(module):
            assert name in package.__all__, f"{module.__name__}.{name} is not re-exported"
            assert getattr(package, name) is getattr(module, name)
        assert module.__name__.rsplit(".", 1)[1] in package.__doc__, "the docstring says which module holds what"
    assert sorted(package.__all__) == sorted(set().union(*(defined_names(m) for m in modules)))


def test_modules_import_only_the_ones_above_them():
    """common below family and series, series below patterns, trajectory and profile, those below analysis
    (profile beside it); tables below writers."""
    assert sibling_imports(common, "familyalliance.core.analytics") == set()
    assert sibling_imports(family, "familyalliance.core.analytics") == {"common"}
    assert sibling_imports(series, "familyalliance.core.analytics") == {"common"}
    assert sibling_imports(patterns, "familyalliance.core.analytics") == {"common", "series"}
    assert sibling_imports(trajectory, "familyalliance.core.analytics") == {"common", "series"}
    assert sibling_imports(profile, "familyalliance.core.analytics") == {"common", "series"}
    assert sibling_imports(analysis, "familyalliance.core.analytics") == {"common", "series", "patterns", "trajectory"}
    assert sibling_imports(tables, "familyalliance.core.exports") == set()
    assert sibling_imports(writers, "familyalliance.core.exports") == {"tables"}


# --- The research table ---------------------------------------------------------------------------

DAY = dt.date(2026, 1, 5)


def answers(family, member, session, instrument, values, target="therapist", role="mother"):
    """Long rows of one form: ``values`` maps item code to answer (None: unanswered)."""
    inst = INSTRUMENTS[instrument]
    return [
        {
            "family": family,
            "member": member,
            "role": role,
            "session": session,
            "date": DAY + dt.timedelta(days=7 * session),
            "informant": inst.informant,
            "target": target,
            "instrument": instrument,
            "item": item,
            "value": value,
        }
        for item, value in values.items()
    ]


def long_table(*forms) -> pd.DataFrame:
    """The long answers table (metrics.md section 3) of the given forms."""
    frame = pd.DataFrame([row for form in forms for row in form], columns=LONG_HEADER)
    frame["value"] = pd.array(frame["value"], dtype="Int64")
    return frame


def check4(family, member, session, value, role="mother"):
    """A check4 form with the same answer on all four dimensions (so the total is that answer)."""
    return answers(family, member, session, "check4", dict.fromkeys(ITEMS, value), role=role)


#: Raw alliance16 answers per form, four items per dimension; safety_4 and shared_purpose_4 are reverse-keyed.
FORMS = {
    ("F1", "M1", 1): [4, 5, 4, 3, 4, 4, 5, 4, 5, 4, 5, 1, 4, 4, 3, 2],
    ("F1", "Y1", 1): [2, 2, 3, 2, 3, 2, 2, 3, 2, 3, 2, 4, 2, 2, 3, 4],
    ("F1", "M1", 2): [5, 5, 4, 5, 5, 4, 5, 5, 4, 5, 5, 2, 5, 4, 5, 1],
    ("F2", "M1", 1): [3, 4, 3, 3, 3, 3, 4, 3, 3, 3, 4, 3, 3, 4, 3, 3],
    ("F2", "C1", 1): [1, 2, 2, 1, 2, 1, 1, 2, 1, 2, 2, 5, 1, 1, 2, 5],
    ("F2", "C1", 2): [2, 3, 2, 2, 2, 3, 2, 2, 3, 2, 2, 4, None, 3, 2, 4],
}


def alliance16_forms():
    """The forms of ``FORMS`` as long rows."""
    codes = INSTRUMENTS["alliance16"].item_codes
    return [
        answers(f, m, s, "alliance16", dict(zip(codes, values, strict=True))) for (f, m, s), values in FORMS.items()
    ]


def alpha_by_hand(dimension: str) -> tuple[float, int]:
    """Alpha from item and total-score variances, over the complete forms, reversing by hand."""
    codes = INSTRUMENTS["alliance16"].item_codes
    columns = [i for i, code in enumerate(codes) if code.startswith(dimension + "_")]
    rows = []
    for values in FORMS.values():
        block = [values[i] for i in columns]
        if None in block:
            continue
        rows.append(
            [6 - v if codes[i] in ("safety_4", "shared_purpose_4") else v for i, v in zip(columns, block, strict=True)]
        )
    m = np.asarray(rows, dtype=float)
    k = m.shape[1]
    return k / (k - 1) * (1 - m.var(axis=0, ddof=1).sum() / m.sum(axis=1).var(ddof=1)), len(rows)


def icc_by_hand(groups: list[list[int]]) -> tuple[float, float]:
    """ICC(1) and ICC(2) with exact fractions, unequal groups (Bliese 2000)."""
    values = [Fraction(v) for g in groups for v in g]
    n, j = len(values), len(groups)
    grand = sum(values) / n
    means = [Fraction(sum(g), len(g)) for g in groups]
    msb = sum(len(g) * (m - grand) ** 2 for g, m in zip(groups, means, strict=True)) / (j - 1)
    msw = sum((v - m) ** 2 for g, m in zip(groups, means, strict=True) for v in g) / (n - j)
    k0 = (n - Fraction(sum(len(g) ** 2 for g in groups), n)) / (j - 1)
    return float((msb - msw) / (msb + (k0 - 1) * msw)), float((msb - msw) / msb)


def build(responses: pd.DataFrame) -> pd.DataFrame:
    """The research export table of ``responses``."""
    return exports.build("research", responses, INSTRUMENTS, analytics.DEFAULTS)


def test_alpha_rows_match_the_textbook_formula():
    """Alpha per dimension over the complete forms, reverse-keyed items reversed, as computed by hand."""
    table = build(long_table(*alliance16_forms()))
    assert list(table.columns) == research.RESEARCH_COLUMNS
    alpha = table[table["statistic"] == "alpha"].set_index("dimension")
    assert list(alpha.index) == list(ITEMS)
    for dimension in ITEMS:
        expected, cases = alpha_by_hand(dimension)
        row = alpha.loc[dimension]
        assert row["estimate"] == pytest.approx(expected, rel=1e-12), dimension
        assert (row["n_cases"], row["n_items"]) == (cases, 4)
        assert (row["instrument"], row["informant"], row["target"]) == ("alliance16", "self", "therapist")
        assert pd.isna(row["session"])
    # F2/C1 left shared_purpose_1 open at session 2: that form drops out of that dimension only.
    assert alpha.loc["shared_purpose", "n_cases"] == 5 and alpha.loc["bond", "n_cases"] == 6
    assert set(alpha["n_families"]) == {2}


def test_icc_rows_per_session_match_the_anova_by_hand():
    """Three families at session 1; at session 2 only F1 has two members scored, so no ICC there."""
    responses = long_table(
        check4("A", "M1", 1, 9),
        check4("A", "Y1", 1, 8, "youth"),
        check4("B", "M1", 1, 3),
        check4("B", "Y1", 1, 4, "youth"),
        check4("B", "C1", 1, 2, "child"),
        check4("C", "M1", 1, 6),
        check4("C", "Y1", 1, 5, "youth"),
        check4("A", "M1", 2, 9),
        check4("A", "Y1", 2, 7, "youth"),
        check4("B", "M1", 2, 5),
    )
    table = build(responses)
    assert set(table["statistic"]) == {"icc1", "icc2"}, "check4 has one item per dimension: no alpha"
    assert set(table["session"]) == {1}
    icc1, icc2 = icc_by_hand([[90, 80], [30, 40, 20], [60, 50]])
    for dimension in (*ITEMS, "total"):
        rows = table[table["dimension"] == dimension].set_index("statistic")
        assert rows.loc["icc1", "estimate"] == pytest.approx(icc1, rel=1e-12)
        assert rows.loc["icc2", "estimate"] == pytest.approx(icc2, rel=1e-12)
        assert rows["n_cases"].tolist() == [7, 7] and rows["n_families"].tolist() == [3, 3]
        assert rows["instrument"].isna().all() and rows["n_items"].isna().all()
    expected = research.member_icc(score_frame(responses, INSTRUMENTS), "total")
    assert expected["icc2"].tolist() == pytest.approx([icc2], rel=1e-12)


def test_the_table_names_no_family_member_or_date_and_survives_pseudonymising():
    """Nothing to pseudonymise: the pseudonymiser hands the table back as it is."""
    responses = long_table(
        *alliance16_forms(),
        check4("F1", "M1", 1, 9),
        check4("F1", "Y1", 1, 8, "youth"),
        check4("F2", "M1", 1, 3),
        check4("F2", "C1", 1, 4, "child"),
    )
    table = build(responses)
    assert not {"family", "member", "role", "date", "lowest_member"} & set(table.columns)
    cells = set(exports.csv_text(table).replace("\n", ",").split(","))
    assert not cells & {"F1", "F2", "M1", "Y1", "C1"}
    assert not any(re.search(r"\d{4}-\d{2}-\d{2}", cell) for cell in cells)
    pseudonymised = exports.Pseudonymiser(b"key").apply(table)
    pd.testing.assert_frame_equal(pseudonymised, table)
    assert table.equals(research.research_table(responses, score_frame(responses, INSTRUMENTS), INSTRUMENTS))


def test_rows_sorted_and_uncomputable_statistics_left_empty():
    """A single form about the team gives an alpha row without an estimate, sorted before the therapist's."""
    team_form = answers("F1", "M1", 1, "alliance16", dict.fromkeys(INSTRUMENTS["alliance16"].item_codes, 3), "team")
    table = build(long_table(*alliance16_forms(), team_form, check4("A", "M1", 1, 9), check4("B", "M1", 1, 2)))
    assert table[research.RESEARCH_KEY].equals(
        table[research.RESEARCH_KEY].sort_values(research.RESEARCH_KEY, na_position="first", ignore_index=True)
    )
    team = table[table["target"] == "team"]
    assert team["estimate"].isna().all() and (team["n_cases"] == 1).all() and len(team) == 4
    assert table.index[table["target"] == "team"].max() < table.index[table["target"] == "therapist"].min()
    icc = table[table["statistic"] != "alpha"]
    assert len(icc) and icc.index.min() > team.index.max()
    assert (icc["target"] == "therapist").all(), "one member about the team, and one per family in A and B: no ICC"


def test_csv_of_the_research_table_writes_counts_as_whole_numbers():
    """Counts with empty cells stay whole numbers in CSV (4, not 4.0)."""
    text = exports.csv_text(build(long_table(*alliance16_forms())))
    header, first = text.splitlines()[:2]
    assert header == ",".join(research.RESEARCH_COLUMNS)
    cells = dict(zip(research.RESEARCH_COLUMNS, first.split(","), strict=True))
    assert cells["session"] == "" and cells["n_items"] == "4" and cells["n_cases"] == "6"


def test_an_empty_selection_gives_an_empty_table_with_its_columns():
    """No answers: the header and no rows."""
    table = build(long_table())
    assert table.empty and list(table.columns) == research.RESEARCH_COLUMNS
