"""The scoring engine against hand-computed vectors, properties, and its two paths agreeing."""

from __future__ import annotations

import math
import random

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.scoring import (
    POMP_COLUMNS,
    SCORE_COLUMNS,
    SCORES_EXPORT_COLUMNS,
    reverse,
    score_answers,
    score_frame,
)
from familyalliance.core.vocab import DIMENSIONS

INSTRUMENTS = builtin_instruments()
A16 = INSTRUMENTS["alliance16"]


def a16(bond, goals_tasks, safety, shared_purpose):
    """alliance16 answers from four lists of four values (None: unanswered)."""
    values = dict(bond=bond, goals_tasks=goals_tasks, safety=safety, shared_purpose=shared_purpose)
    return {f"{d}_{i + 1}": v for d in DIMENSIONS for i, v in enumerate(values[d])}


# Each case: instrument, answers, expected (dimension scores and total; POMP follows from them).
CASES = {
    "alliance16 all answered": (
        "alliance16",
        a16([5, 4, 4, 5], [3, 3, 4, 2], [4, 4, 5, 1], [2, 3, 2, 5]),
        # safety_4 = 1 counts as 5; shared_purpose_4 = 5 counts as 1.
        {"bond": 4.5, "goals_tasks": 3.0, "safety": 4.5, "shared_purpose": 2.0, "total": 3.5},
    ),
    "alliance16 one missing per dimension": (
        "alliance16",
        a16([5, None, 4, 3], [None, 2, 2, 2], [4, 4, None, 2], [1, 1, 1, None]),
        # safety: 4, 4, (2 -> 4) = 4; shared_purpose: 1, 1, 1 = 1.
        {"bond": 4.0, "goals_tasks": 2.0, "safety": 4.0, "shared_purpose": 1.0, "total": 2.75},
    ),
    "alliance16 too many missing in one dimension": (
        "alliance16",
        a16([5, 5, 5, 5], [4, 4, 4, 4], [None, None, 3, 3], [3, 3, 3, 3]),
        {"bond": 5.0, "goals_tasks": 4.0, "safety": None, "shared_purpose": 3.0, "total": None},
    ),
    "alliance16 reversed items at the extremes": (
        "alliance16",
        a16([1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 5], [5, 5, 5, 1]),
        # safety_4 = 5 counts as 1; shared_purpose_4 = 1 counts as 5.
        {"bond": 1.0, "goals_tasks": 1.0, "safety": 1.0, "shared_purpose": 5.0, "total": 2.0},
    ),
    "alliance16 reversed item alone keeps a dimension below the minimum": (
        "alliance16",
        a16([3, 3, 3, None], [3, 3, 3, 3], [None, None, None, 1], [3, 3, 3, 3]),
        {"bond": 3.0, "goals_tasks": 3.0, "safety": None, "shared_purpose": 3.0, "total": None},
    ),
    "check4 all answered": (
        "check4",
        {"bond": 8, "goals_tasks": 6, "safety": 10, "shared_purpose": 0},
        {"bond": 8.0, "goals_tasks": 6.0, "safety": 10.0, "shared_purpose": 0.0, "total": 6.0},
    ),
    "check4 one missing": (
        "check4",
        {"bond": 8, "goals_tasks": None, "safety": 10, "shared_purpose": 7},
        {"bond": 8.0, "goals_tasks": None, "safety": 10.0, "shared_purpose": 7.0, "total": None},
    ),
    "observer4 all answered": (
        "observer4",
        {"bond": 3, "goals_tasks": -3, "safety": 0, "shared_purpose": 1},
        {"bond": 3.0, "goals_tasks": -3.0, "safety": 0.0, "shared_purpose": 1.0, "total": 0.25},
    ),
    "observer4 only one answered": (
        "observer4",
        {"bond": -1},
        {"bond": -1.0, "goals_tasks": None, "safety": None, "shared_purpose": None, "total": None},
    ),
}

EXPECTED_POMP = {
    # Computed by hand: 100 * (score - min) / (max - min).
    "alliance16 all answered": {
        "bond": 87.5,
        "goals_tasks": 50.0,
        "safety": 87.5,
        "shared_purpose": 25.0,
        "total": 62.5,
    },
    "check4 all answered": {"bond": 80.0, "goals_tasks": 60.0, "safety": 100.0, "shared_purpose": 0.0, "total": 60.0},
    "observer4 all answered": {
        "bond": 100.0,
        "goals_tasks": 0.0,
        "safety": 50.0,
        "shared_purpose": 400 / 6,
        "total": 3.25 / 6 * 100,
    },
    "alliance16 reversed items at the extremes": {
        "bond": 0.0,
        "goals_tasks": 0.0,
        "safety": 0.0,
        "shared_purpose": 100.0,
        "total": 25.0,
    },
}


def long_frame(forms: list[tuple[str, str, dict]]) -> pd.DataFrame:
    """A long DataFrame from (member, instrument, answers) triples, one family and session."""
    rows = [
        {
            "family": "F1",
            "member": member,
            "session": 1,
            "informant": INSTRUMENTS[code].informant,
            "target": "therapist",
            "instrument": code,
            "item": item,
            "value": value,
        }
        for member, code, answers in forms
        for item, value in answers.items()
    ]
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype("Int64")
    return frame


@pytest.mark.parametrize("case", sorted(CASES))
def test_hand_computed_single(case):
    code, answers, expected = CASES[case]
    result = score_answers(INSTRUMENTS[code], answers)
    for column in SCORE_COLUMNS:
        assert result[column] == (
            pytest.approx(expected[column], rel=1e-15) if expected[column] is not None else None
        ), column
    for column, value in EXPECTED_POMP.get(case, {}).items():
        assert result[f"{column}_pomp"] == pytest.approx(value, rel=1e-15), column


@pytest.mark.parametrize("case", sorted(CASES))
def test_hand_computed_vectorised(case):
    code, answers, expected = CASES[case]
    out = score_frame(long_frame([("M1", code, answers)]), INSTRUMENTS)
    assert len(out) == 1
    row = out.iloc[0]
    for column in SCORE_COLUMNS:
        if expected[column] is None:
            assert pd.isna(row[column]), column
        else:
            assert row[column] == pytest.approx(expected[column], rel=1e-15), column
    for column, value in EXPECTED_POMP.get(case, {}).items():
        assert row[f"{column}_pomp"] == pytest.approx(value, rel=1e-15), column


def test_no_row_without_any_dimension_score():
    """A form with nothing answered (or too little in every dimension) has no scores row."""
    empty = a16([None] * 4, [1, None, None, None], [None] * 4, [2, 2, None, None])
    out = score_frame(long_frame([("M1", "alliance16", empty), ("M2", "check4", {"bond": 4})]), INSTRUMENTS)
    assert out["member"].tolist() == ["M2"]


def test_frame_columns_and_order():
    """Columns as the scores export of metrics.md; rows by family, member, session, then the keys."""
    forms = [("Y1", "check4", {"bond": 5}), ("M1", "observer4", {"bond": 2}), ("M1", "check4", {"bond": 7})]
    frame = long_frame(forms)
    frame["role"] = frame["member"].map({"Y1": "youth", "M1": "mother"})
    frame["date"] = "2026-01-05"
    out = score_frame(frame, INSTRUMENTS)
    assert list(out.columns) == SCORES_EXPORT_COLUMNS
    assert out[["member", "informant", "instrument"]].values.tolist() == [
        ["M1", "self", "check4"],
        ["M1", "therapist", "observer4"],
        ["Y1", "self", "check4"],
    ]
    assert out["role"].tolist() == ["mother", "mother", "youth"]


def test_unknown_items_are_refused():
    with pytest.raises(ValueError, match="check4/bond_1"):
        score_frame(long_frame([("M1", "check4", {"bond_1": 3})]), INSTRUMENTS)
    with pytest.raises(ValueError, match="bond_9"):
        score_answers(A16, {"bond_9": 3})


@given(st.sampled_from(sorted(INSTRUMENTS)), st.data())
def test_reversing_twice_is_identity(code, data):
    inst = INSTRUMENTS[code]
    value = data.draw(st.integers(inst.scale_min, inst.scale_max))
    once = reverse(value, inst.scale_min, inst.scale_max)
    assert inst.scale_min <= once <= inst.scale_max
    assert reverse(once, inst.scale_min, inst.scale_max) == value


@st.composite
def forms(draw, code=None):
    """A random form of a built-in instrument: each item answered on the scale or unanswered."""
    code = code or draw(st.sampled_from(sorted(INSTRUMENTS)))
    inst = INSTRUMENTS[code]
    value = st.one_of(st.none(), st.integers(inst.scale_min, inst.scale_max))
    return code, {item: draw(value) for item in inst.item_codes}


@given(forms())
def test_scores_stay_on_the_scale(form):
    code, answers = form
    inst = INSTRUMENTS[code]
    result = score_answers(inst, answers)
    for column in SCORE_COLUMNS:
        if result[column] is not None:
            assert inst.scale_min <= result[column] <= inst.scale_max
            assert 0 <= result[f"{column}_pomp"] <= 100
        else:
            assert result[f"{column}_pomp"] is None


@given(forms())
def test_total_only_with_all_four(form):
    code, answers = form
    result = score_answers(INSTRUMENTS[code], answers)
    assert (result["total"] is not None) == all(result[d] is not None for d in DIMENSIONS)


@settings(max_examples=30, deadline=None)
@given(st.lists(forms(), min_size=1, max_size=30))
def test_vectorised_agrees_with_single(form_list):
    """The grouped path gives the same numbers as the one-form path, form by form."""
    triples = [(f"M{i:02d}", code, answers) for i, (code, answers) in enumerate(form_list)]
    out = score_frame(long_frame(triples), INSTRUMENTS).set_index("member")
    for member, code, answers in triples:
        single = score_answers(INSTRUMENTS[code], answers)
        if all(single[d] is None for d in DIMENSIONS):
            assert member not in out.index
            continue
        row = out.loc[member]
        for column in SCORE_COLUMNS + POMP_COLUMNS:
            if single[column] is None:
                assert pd.isna(row[column])
            else:
                assert math.isclose(row[column], single[column], rel_tol=1e-12, abs_tol=1e-12)


def test_vectorised_agrees_on_many_families():
    """Thousands of forms over many families, sessions and targets: both paths agree exactly enough."""
    rng = random.Random(7)
    rows, singles = [], {}
    for f in range(40):
        for m in range(rng.randint(1, 6)):
            for s in range(1, rng.randint(2, 12)):
                for target in ("therapist", "team"):
                    code = rng.choice(sorted(INSTRUMENTS))
                    inst = INSTRUMENTS[code]
                    answers = {
                        item: None if rng.random() < 0.15 else rng.randint(inst.scale_min, inst.scale_max)
                        for item in inst.item_codes
                    }
                    key = (f"F{f:03d}", f"M{m}", s, inst.informant, target, code)
                    singles[key] = score_answers(inst, answers)
                    rows.extend(
                        dict(
                            zip(("family", "member", "session", "informant", "target", "instrument"), key, strict=True),
                            item=i,
                            value=v,
                        )
                        for i, v in answers.items()
                    )
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype("Int64")
    out = score_frame(frame, INSTRUMENTS)
    scored = {k: v for k, v in singles.items() if any(v[d] is not None for d in DIMENSIONS)}
    assert len(out) == len(scored)
    got = out.set_index(["family", "member", "session", "informant", "target", "instrument"])
    for key, single in scored.items():
        expected = np.array([np.nan if single[c] is None else single[c] for c in SCORE_COLUMNS + POMP_COLUMNS])
        np.testing.assert_allclose(
            got.loc[key, SCORE_COLUMNS + POMP_COLUMNS].to_numpy(float), expected, rtol=1e-12, atol=1e-12
        )
