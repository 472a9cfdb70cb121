"""Family metrics, perspective gap, ruptures and flags against hand-computed values (metrics.md 5 to 8)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import given, settings

from familyalliance.core import analytics
from familyalliance.core.analytics import Settings

from ..analytics_data import INSTRUMENTS, frame, row, series

ROOT = Path(__file__).resolve().parents[2]  # the checkout


def metrics(scores, **kwargs):
    return analytics.family_metrics(scores, INSTRUMENTS, Settings(**kwargs))


def one(table, **where):
    selected = table
    for key, value in where.items():
        selected = selected[selected[key] == value]
    assert len(selected) == 1, selected
    return selected.iloc[0]


@pytest.fixture
def family():
    """Four members at session 1: three on alliance16, the child on check4; the therapist's view of two."""
    return frame(
        row("M1", 1, role="mother", bond=4.5, goals_tasks=3.0, safety=5.0, shared_purpose=4.0),
        row("F1", 1, role="father", bond=2.0, goals_tasks=3.0, safety=1.0, shared_purpose=4.0),
        row("Y1", 1, role="youth", bond=3.0, goals_tasks=4.0, safety=None, shared_purpose=4.0),
        row("C1", 1, "check4", role="child", bond=7, goals_tasks=7, safety=7, shared_purpose=7),
        row("M1", 1, "observer4", role="mother", bond=2, goals_tasks=1, safety=2, shared_purpose=2),
        row("Y1", 1, "observer4", role="youth", bond=0, goals_tasks=0, safety=1, shared_purpose=-1),
    )


def test_every_column_by_hand(family):
    """alliance16 bond over M1 4.5, F1 2.0, Y1 3.0 (POMP 87.5, 25, 50)."""
    out = metrics(family)
    bond = one(out, instrument="alliance16", dimension="bond")
    assert list(out.columns) == analytics.FAMILY_COLUMNS
    assert (bond.family, bond.session, bond.informant, bond.target) == ("F", 1, "self", "therapist")
    assert bond.n == 3
    assert bond["mean"] == pytest.approx(9.5 / 3, rel=1e-15)
    # sample variance: ((4.5-19/6)^2 + (2-19/6)^2 + (3-19/6)^2) / 2 = 19/12
    assert bond.sd == pytest.approx(math.sqrt(19 / 12), rel=1e-15)
    assert (bond["min"], bond["max"], bond["range"]) == (2.0, 4.5, 2.5)
    assert bond.range_pomp == 62.5 and bond.balance == 37.5
    assert bool(bond.split) and bond.split_level == "severe"
    assert bond.lowest_member == "F1"
    assert bond.caregiver_mean_pomp == 56.25  # (87.5 + 25) / 2
    assert bond.young_mean_pomp == 50.0
    assert bond.youth_caregiver_gap == 6.25
    assert bond.rwg == pytest.approx(1 - (19 / 12) / 2, rel=1e-15)  # sigma2 = (5^2 - 1) / 12 = 2


def test_missing_dimension_and_groups(family):
    """Safety: Y1 has no score, so only the caregivers count and there is no young mean or gap."""
    safety = one(metrics(family), instrument="alliance16", dimension="safety")
    assert safety.n == 2 and safety.range_pomp == 100.0 and safety.balance == 0.0
    assert safety.rwg == 0.0  # 1 - 8 / 2 = -3, clipped to 0
    assert safety.caregiver_mean_pomp == 50.0
    assert pd.isna(safety.young_mean_pomp) and pd.isna(safety.youth_caregiver_gap)


def test_total_is_a_dimension_too(family):
    out = metrics(family)
    total = one(out, instrument="alliance16", dimension="total")
    assert total.n == 2  # Y1 has no total (safety missing)
    assert total["mean"] == pytest.approx((4.125 + 2.5) / 2, rel=1e-15)
    assert sorted(out[out.instrument == "alliance16"].dimension.unique()) == sorted(analytics.SCORE_DIMENSIONS)


def test_ties_for_the_lowest_member_go_to_the_smallest_code(family):
    """goals_tasks: M1 3.0, F1 3.0, Y1 4.0: F1 and M1 tie; F1 sorts first."""
    assert one(metrics(family), instrument="alliance16", dimension="goals_tasks").lowest_member == "F1"
    tie = frame(row("B2", 1, bond=3.0), row("A9", 1, bond=3.0), row("C1", 1, bond=3.0))
    assert one(metrics(tie), dimension="bond").lowest_member == "A9"


def test_one_member_is_never_split(family):
    child = one(metrics(family), instrument="check4", dimension="bond")
    assert child.n == 1 and pd.isna(child.sd) and pd.isna(child.rwg)
    assert child.range_pomp == 0 and child.balance == 100 and not child.split and child.split_level == "none"
    assert child.lowest_member == "C1"
    assert pd.isna(child.caregiver_mean_pomp) and child.young_mean_pomp == 70.0


def test_therapist_view_is_its_own_group(family):
    observed = one(metrics(family), instrument="observer4", dimension="bond")
    assert observed.informant == "therapist" and observed.n == 2
    assert observed.range_pomp == pytest.approx(100 * 2 / 6, rel=1e-15)
    assert observed.rwg == pytest.approx(1 - 2 / ((49 - 1) / 12), rel=1e-15)  # sd^2 = 2; A = 7


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        # alliance16 thirds: 10/3 and 13/3 differ by exactly 1 point = 25 POMP, despite rounding.
        (10 / 3, 13 / 3, "mild"),
        (2.0, 2.96, "none"),
        (2.0, 3.5, "moderate"),
        (2.0, 3.49, "mild"),
        (2.0, 4.0, "severe"),
        (1.0, 5.0, "severe"),
    ],
)
def test_split_levels_at_their_bounds(a, b, level):
    out = one(metrics(frame(row("A", 1, bond=a), row("B", 1, bond=b))), dimension="bond")
    assert out.split_level == level
    assert bool(out.split) == (level != "none")


def test_split_threshold_is_a_setting():
    scores = frame(row("A", 1, bond=2.0), row("B", 1, bond=3.0))  # 25 POMP apart
    assert one(metrics(scores), dimension="bond").split_level == "mild"
    assert one(metrics(scores, split_threshold=30), dimension="bond").split_level == "none"
    assert Settings.from_mapping({"SPLIT_THRESHOLD": 30, "RUPTURE_DROP": 15}) == Settings(
        split_threshold=30, rupture_drop=15
    )


def test_rows_sorted_as_section_9():
    scores = frame(row("A", 2, family="G", bond=3.0), row("A", 10, bond=3.0), row("A", 2, bond=3.0))
    out = metrics(scores)
    assert out[["family", "session"]].drop_duplicates().values.tolist() == [["F", 2], ["F", 10], ["G", 2]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=1, max_size=7), st.sampled_from(["bond", "total"]))
def test_balance_is_100_minus_range(values, dimension):
    rows = [
        row(f"M{i}", 1, **({d: v for d in ("bond", "goals_tasks", "safety", "shared_purpose")} if v else {}))
        for i, v in enumerate(values)
    ]
    out = metrics(frame(*rows))
    for r in out.itertuples():
        assert r.balance == 100 - r.range_pomp
        assert 0 <= r.balance <= 100
        if r.n == 1:
            assert not r.split and r.split_level == "none" and r.range_pomp == 0
        assert r.split == (r.n >= 2 and r.range_pomp >= 25 - 1e-9)


# --- Perspective gap ------------------------------------------------------------------------


def test_perspective_gap_by_hand():
    scores = frame(
        # M1 filled in both: alliance16 speaks, except for safety (too few answers), where check4 does.
        row("M1", 1, bond=4.0, goals_tasks=3.0, safety=None, shared_purpose=5.0),
        row("M1", 1, "check4", bond=9, goals_tasks=9, safety=6, shared_purpose=9),
        row("M1", 1, "observer4", bond=3, goals_tasks=0, safety=0, shared_purpose=0),
        row("Y1", 1, "check4", role="youth", bond=2, goals_tasks=5, safety=5, shared_purpose=5),
        row("Y1", 1, "observer4", role="youth", bond=1, goals_tasks=0, safety=0, shared_purpose=0),
        row("C1", 1, "observer4", role="child", bond=1, goals_tasks=1, safety=1, shared_purpose=1),  # no self view
    )
    gap = analytics.perspective_gap(scores).set_index(["member", "dimension"])
    assert list(analytics.perspective_gap(scores).columns) == analytics.GAP_COLUMNS
    assert set(gap.index.get_level_values("member")) == {"M1", "Y1"}
    assert gap.loc[("M1", "bond")].self_instrument == "alliance16"
    assert gap.loc[("M1", "bond")].gap == 75.0 - 100.0
    assert gap.loc[("M1", "safety")].self_instrument == "check4"
    assert gap.loc[("M1", "safety")].gap == 60.0 - 50.0
    # alliance16 has no total (safety missing), so check4's total speaks: 82.5 against observer4's 62.5.
    assert gap.loc[("M1", "total")].self_instrument == "check4"
    assert gap.loc[("M1", "total")].gap == pytest.approx(20.0, rel=1e-15)
    assert gap.loc[("Y1", "bond")].gap == pytest.approx(20.0 - 400 / 6, rel=1e-15)
    assert gap.loc[("Y1", "total")].gap == pytest.approx(42.5 - 300 / 6 - 100 / 24, rel=1e-12)


# --- Ruptures -------------------------------------------------------------------------------


def ruptures(values, sessions=None, **kwargs):
    out = analytics.ruptures(series(values, sessions=sessions), Settings(**kwargs))
    return [
        (r.session, round(r.drop_pomp, 9), None if pd.isna(r.repaired_session) else r.repaired_session, r.status)
        for r in out.itertuples()
    ]


def test_rupture_repaired():
    assert ruptures([80, 55, 60, 75, 90]) == [(2, 25, 4, "repaired")]


def test_rupture_unrepaired_after_three_sessions():
    assert ruptures([80, 50, 60, 70, 74, 90]) == [(2, 30, None, "unrepaired")]


def test_rupture_open_with_fewer_than_three_later_sessions():
    assert ruptures([80, 50, 60]) == [(2, 30, None, "open")]
    assert ruptures([80, 60]) == [(2, 20, None, "open")]


def test_repair_after_fewer_than_three_later_sessions_is_repaired():
    assert ruptures([80, 50, 78]) == [(2, 30, 3, "repaired")]


def test_drop_inside_an_earlier_ruptures_window():
    """Each drop is its own rupture; the second one repairs, the first never comes back."""
    assert ruptures([90, 60, 30, 56, 70, 86]) == [(2, 30, None, "unrepaired"), (3, 30, 4, "repaired")]


def test_thresholds_at_their_bounds():
    assert ruptures([70, 50, 65]) == [(2, 20, 3, "repaired")]  # exactly 20 down, exactly 5 short
    assert ruptures([70, 51, 60]) == []  # 19 down is no rupture
    assert ruptures([70, 50, 64, 64, 64]) == [(2, 20, None, "unrepaired")]  # 6 short stays unrepaired


def test_previous_scored_session_not_previous_number():
    assert ruptures([80, 40, 80], sessions=[2, 5, 9]) == [(5, 40, 9, "repaired")]


def test_rupture_settings():
    assert ruptures([80, 65, 70, 72], rupture_drop=15, repair_margin=10) == [(2, 15, 3, "repaired")]
    assert ruptures([80, 50, 60, 62, 64, 80], repair_window=4) == [(2, 30, 6, "repaired")]


def test_ruptures_columns_and_separate_series():
    scores = pd.concat(
        [
            series([80, 50], member="A"),
            series([80, 50], member="B", instrument="observer4"),
            series([80, 80], member="C"),
        ],
        ignore_index=True,
    )
    out = analytics.ruptures(scores)
    assert list(out.columns) == [*analytics.RUPTURE_COLUMNS, *analytics.RUPTURE_DETAIL]
    assert out[["member", "informant", "instrument", "previous_instrument"]].values.tolist() == [
        ["A", "self", "check4", "check4"],
        ["B", "therapist", "observer4", "observer4"],
    ]


# --- The member's series across instruments (section 6) -------------------------------------------


def test_series_takes_the_instrument_with_most_items_per_dimension():
    """Both instruments at session 1: alliance16 speaks where it scored; check4 where alliance16 has no score."""
    scores = frame(
        row("M1", 1, bond=4.0, goals_tasks=3.0, safety=None, shared_purpose=5.0),
        row("M1", 1, "check4", bond=9, goals_tasks=9, safety=6, shared_purpose=9),
        row("M1", 2, "check4", bond=2, goals_tasks=9, safety=6, shared_purpose=9),
    )
    out = analytics.member_series(scores).set_index(["session", "dimension"])
    assert list(analytics.member_series(scores).columns) == analytics.SERIES_COLUMNS
    assert out.loc[(1, "bond")].instrument == "alliance16" and out.loc[(1, "bond")].pomp == 75.0
    assert out.loc[(1, "safety")].instrument == "check4" and out.loc[(1, "safety")].pomp == 60.0
    assert out.loc[(1, "total")].instrument == "check4"  # alliance16 has no total without safety
    assert out.loc[(2, "bond")].instrument == "check4" and out.loc[(2, "bond")].pomp == 20.0
    assert len(out) == 10  # one point per session and dimension


def test_series_item_counts_come_from_the_instruments_and_ties_go_to_the_smallest_code():
    """An organisation's own instrument with as many items as check4 ties with it: the smaller code speaks."""
    base = INSTRUMENTS["check4"]
    twin = dataclasses.replace(base, code="brief4")
    scores = frame(row("M1", 1, "check4", bond=10, goals_tasks=10, safety=10, shared_purpose=10))
    other = scores.assign(instrument="brief4", bond=0.0, bond_pomp=0.0)
    both = pd.concat([scores, other], ignore_index=True)
    out = analytics.member_series(both, {**INSTRUMENTS, "brief4": twin}).set_index("dimension")
    assert out.loc["bond"].instrument == "brief4" and out.loc["bond"].pomp == 0.0
    # Unknown to the mapping, an instrument counts as having no items: check4 speaks.
    out = analytics.member_series(both, INSTRUMENTS).set_index("dimension")
    assert out.loc["bond"].instrument == "check4"


def test_rupture_across_instruments_names_both():
    """alliance16 at 1 and 3, check4 at 2 and 4: one series; the drop from 3 to 4 crosses instruments."""
    scores = frame(
        row("M1", 1, bond=5.0, goals_tasks=5.0, safety=5.0, shared_purpose=5.0),  # 100
        row("M1", 2, "check4", bond=10, goals_tasks=10, safety=10, shared_purpose=10),  # 100
        row("M1", 3, bond=5.0, goals_tasks=5.0, safety=5.0, shared_purpose=5.0),  # 100
        row("M1", 4, "check4", bond=5, goals_tasks=10, safety=10, shared_purpose=10),  # bond 50
        row("M1", 4, bond=None, goals_tasks=5.0, safety=5.0, shared_purpose=5.0),  # alliance16 without bond
    )
    out = analytics.ruptures(analytics.member_series(scores))
    assert out[analytics.RUPTURE_COLUMNS].values.tolist() == [
        ["F", "M1", 4, "self", "therapist", "bond", "check4", "alliance16", 50.0, pd.NA, "open"],
    ]
    assert out["previous_session"].tolist() == [3]
    # Walked per instrument (check4's points only), the previous point would be session 2's.
    alone = analytics.ruptures(analytics.member_series(scores[scores["instrument"] == "check4"]))
    assert alone[["session", "previous_session", "previous_instrument"]].values.tolist() == [[4, 2, "check4"]]


# --- Flags ------------------------------------------------------------------------------------


def test_low_alliance_below_50():
    low = analytics.low_alliance(series([49, 50, 51, 10]))
    assert low["session"].tolist() == [1, 4]
    assert low["pomp"].tolist() == pytest.approx([49.0, 10.0], rel=1e-12)


def test_early_alliance_mixes_instruments_on_pomp():
    scores = frame(
        row("M1", 1, "check4", bond=4, goals_tasks=4, safety=4, shared_purpose=4),  # 40
        row("M1", 2, "check4", bond=5, goals_tasks=5, safety=5, shared_purpose=5),  # 50
        row("M1", 3, bond=3.0, goals_tasks=3.0, safety=3.0, shared_purpose=3.0),  # alliance16: 50
        row("M1", 3, "check4", bond=9, goals_tasks=9, safety=9, shared_purpose=9),  # not used: alliance16 speaks
        row("M1", 4, "check4", bond=10, goals_tasks=10, safety=10, shared_purpose=10),  # after the early sessions
        row("Y1", 2, "check4", bond=8, goals_tasks=8, safety=8, shared_purpose=8),
    )
    early = analytics.early_alliance(scores).set_index("member")
    assert early.loc["M1", "sessions"] == 3
    assert early.loc["M1", "early_total_pomp"] == pytest.approx(140 / 3, rel=1e-15)
    assert bool(early.loc["M1", "low"])
    assert early.loc["Y1", "sessions"] == 1 and not early.loc["Y1", "low"]


def test_docs_state_every_setting_and_its_default():
    """docs/metrics.md lists each threshold with the default the code uses."""
    doc = (ROOT / "docs/metrics.md").read_text(encoding="utf-8")
    for name, value in analytics.DEFAULTS.as_config().items():
        shown = int(value) if float(value).is_integer() else value
        assert f"| `{name}` | {shown} |" in doc, name
