"""Scores from per-form sums: the same whether a form's answers are summed at once or in parts.

The import sums each block of the file as it stores it and adds the parts of a form spread over
blocks at the end; stored scores must still equal scoring the whole form (``score_frame``).
"""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pandas as pd
from hypothesis import assume, given, settings
from pandas.testing import assert_frame_equal

from familyalliance.core import scoring
from familyalliance.core.instruments import builtin_instruments

INSTRUMENTS = builtin_instruments()
KEY = scoring.SCORE_KEY


@st.composite
def answers(draw) -> pd.DataFrame:
    """A long answers table of a few forms in any order, some items left out, some unanswered."""
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        code = draw(st.sampled_from(sorted(INSTRUMENTS)))
        instrument = INSTRUMENTS[code]
        form = (
            draw(st.sampled_from(["F1", "F2"])),
            draw(st.sampled_from(["M1", "C1"])),
            draw(st.integers(1, 3)),
            instrument.informant,
            draw(st.sampled_from(["therapist", "team"])),
            code,
        )
        for item in instrument.items:
            if draw(st.booleans()) or draw(st.booleans()):
                value = draw(st.one_of(st.none(), st.integers(instrument.scale_min, instrument.scale_max)))
                rows.append((*form, item.code, value))
    frame = pd.DataFrame(rows, columns=[*KEY, "item", "value"]).drop_duplicates([*KEY, "item"])
    order = draw(st.permutations(range(len(frame))))
    frame = frame.iloc[list(order)].reset_index(drop=True)
    frame["value"] = pd.array(frame["value"], dtype="Int64")
    return frame


@settings(max_examples=150, deadline=None)
@given(frame=answers(), cuts=st.lists(st.integers(0, 200), max_size=4))
def test_parts_summed_score_as_the_whole(frame, cuts):
    assume(len(frame) > 0)
    whole = scoring.score_sums(scoring.form_sums(frame, INSTRUMENTS), INSTRUMENTS)
    bounds = sorted({0, len(frame), *(c % (len(frame) + 1) for c in cuts)})
    parts = [
        scoring.form_sums(frame.iloc[a:b].reset_index(drop=True), INSTRUMENTS)
        for a, b in zip(bounds, bounds[1:], strict=False)
        if b > a
    ]
    added = pd.concat(parts).groupby(KEY, sort=False, as_index=False).sum()
    in_parts = scoring.score_sums(added, INSTRUMENTS)
    ordered = [*KEY, *scoring.FORM_COLUMNS]
    assert_frame_equal(
        in_parts[ordered].sort_values(KEY, ignore_index=True),
        whole[ordered].sort_values(KEY, ignore_index=True),
        check_exact=True,
        check_dtype=False,
    )
    # And the forms with a score are exactly the scores table, column for column.
    table = whole[scoring.scored(whole)][[*KEY, *scoring.SCORE_COLUMNS, *scoring.POMP_COLUMNS]]
    assert_frame_equal(table.sort_values(KEY, ignore_index=True), scoring.score_frame(frame, INSTRUMENTS))


def test_forms_numbered_by_many_large_keys():
    """Six keys of many large values (their codes multiplied would pass 64 bits): forms numbered as pandas would."""
    rng = np.random.default_rng(5)
    columns = [pd.Series(rng.integers(0, 2**40, 3_000)[rng.integers(0, 3_000, 20_000)]) for _ in range(6)]
    number, first = scoring._numbered(columns)
    expected, _ = pd.MultiIndex.from_arrays(columns).factorize()
    assert (number == expected).all()
    assert (first == pd.Series(expected).drop_duplicates().index.to_numpy()).all()


def test_the_first_row_of_each_form_is_its_index():
    frame = pd.DataFrame(
        [
            ("F1", "M1", 1, "self", "therapist", "check4", "bond", 4),
            ("F1", "C1", 1, "self", "therapist", "check4", "bond", 6),
            ("F1", "M1", 1, "self", "therapist", "check4", "safety", 8),
        ],
        columns=[*KEY, "item", "value"],
    )
    sums = scoring.form_sums(frame, INSTRUMENTS)
    assert sums.index.tolist() == [0, 1]
    assert sums[["member", "bond_sum", "bond_count", "safety_sum", "goals_tasks_count"]].values.tolist() == [
        ["M1", 4.0, 1, 8.0, 0],
        ["C1", 6.0, 1, 0.0, 0],
    ]
