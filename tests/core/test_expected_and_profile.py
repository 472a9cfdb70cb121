"""Held-out checks of metrics.md sections 10 (expected trajectory) and 11 (therapist profile).

Everything on the expected side is computed here again from the text of metrics.md with plain
Python, numpy and pandas, on random data, without the app's analytics helpers: the member's
series (section 6), ruptures (7), the perspective gap (6a), the percentiles (10) and the profile
(11). The app's tables must agree with it cell for cell.
"""

from __future__ import annotations

import datetime as dt
import math

import hypothesis.strategies as st
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings

from familyalliance.core import analytics
from familyalliance.core.scoring import SCORES_EXPORT_COLUMNS

CAREGIVERS = ("mother", "father", "stepparent", "foster_parent", "grandparent", "caregiver")
YOUNG = ("youth", "child", "sibling")
ROLES = (*CAREGIVERS, *YOUNG, "other")
#: Items per instrument (metrics.md section 2): the series takes the one with the most for the total.
ITEMS = {"alliance16": 16, "check4": 4, "observer4": 4}
SCALES = {"alliance16": (1, 5), "check4": (0, 10), "observer4": (-3, 3)}
DIMS = ("bond", "goals_tasks", "safety", "shared_purpose")
DAY0 = dt.date(2026, 1, 5)


def form(rng, family, member, role, session, date, instrument, target):
    """One scores row with random dimension scores on the instrument's scale (total: their mean)."""
    low, high = SCALES[instrument]
    if instrument == "alliance16":
        values = [low + rng.integers(0, 17) / 4 for _ in DIMS]  # means of four items 1..5
    else:
        values = [float(rng.integers(low, high + 1)) for _ in DIMS]
    out = {
        "family": family,
        "member": member,
        "role": role,
        "session": session,
        "date": date,
        "informant": "therapist" if instrument == "observer4" else "self",
        "target": target,
        "instrument": instrument,
    }
    for d, v in zip(DIMS, values, strict=True):
        out[d] = v
        out[f"{d}_pomp"] = 100 * (v - low) / (high - low)
    out["total"] = sum(values) / 4
    out["total_pomp"] = 100 * (out["total"] - low) / (high - low)
    return out


def random_data(seed: int, families: int, sessions: int, skip: float = 0.25):
    """A scores table (one row per form) and the family-sessions (family, session, date), some without forms."""
    rng = np.random.default_rng(seed)
    rows, fam_sessions = [], []
    for f in range(families):
        family = f"F{f:02d}"
        members = [(f"M{m}", ROLES[rng.integers(0, len(ROLES))]) for m in range(int(rng.integers(1, 5)))]
        start = DAY0 + dt.timedelta(days=int(rng.integers(0, 200)))
        date = start
        for s in range(1, int(rng.integers(2, sessions + 1)) + 1):
            date = date + dt.timedelta(days=int(rng.integers(5, 30)))
            target = "team" if rng.random() < 0.15 else "therapist"
            fam_sessions.append((family, s, date))
            if rng.random() < 0.1:
                continue  # a session nobody rated
            for member, role in members:
                if rng.random() < skip:
                    continue
                choice = rng.random()
                if choice < 0.5:
                    rows.append(form(rng, family, member, role, s, date, "check4", target))
                elif choice < 0.8:
                    rows.append(form(rng, family, member, role, s, date, "alliance16", target))
                else:  # both: the series takes alliance16's total
                    rows.append(form(rng, family, member, role, s, date, "check4", target))
                    rows.append(form(rng, family, member, role, s, date, "alliance16", target))
                if rng.random() < 0.5:
                    rows.append(form(rng, family, member, role, s, date, "observer4", target))
    scores = pd.DataFrame(rows, columns=SCORES_EXPORT_COLUMNS)
    scores = scores.sort_values(["family", "member", "session", "informant", "target", "instrument"])
    frame = pd.DataFrame(fam_sessions, columns=["family", "session", "date"])
    return scores.reset_index(drop=True), frame


# --- Sections 6, 6a and 7 again, from the text --------------------------------------------------


def total_series(scores: pd.DataFrame, informant: str) -> dict:
    """{(family, member, target): [(session, pomp, role, date), ...] in session order}: the most items win, ties
    to the smallest instrument code."""
    chosen: dict = {}
    for r in scores.to_dict("records"):
        if r["informant"] != informant or r["total_pomp"] != r["total_pomp"]:
            continue
        key = (r["family"], r["member"], r["target"], r["session"])
        rank = (-ITEMS[r["instrument"]], r["instrument"])
        if key not in chosen or rank < chosen[key][0]:
            chosen[key] = (rank, r["total_pomp"], r["role"], r["date"])
    out: dict = {}
    for (family, member, target, session), (_, pomp, role, date) in sorted(chosen.items()):
        out.setdefault((family, member, target), []).append((session, pomp, role, date))
    return out


def walk_ruptures(points: list, drop=20.0, window=3, margin=5.0) -> list[tuple[int, str]]:
    """(session, status) of each rupture on one series, walked point by point."""
    found = []
    for i in range(1, len(points)):
        before, now = points[i - 1][1], points[i][1]
        if before - now >= drop - 1e-9:
            later = points[i + 1 : i + 1 + window]
            if any(p[1] >= before - margin - 1e-9 for p in later):
                status = "repaired"
            elif len(later) >= window:
                status = "unrepaired"
            else:
                status = "open"
            found.append((points[i][0], status))
    return found


def group_of(role: str) -> str:
    return "caregiver" if role in CAREGIVERS else "young" if role in YOUNG else "other"


# --- Section 10 -------------------------------------------------------------------------------------


def expected_by_hand(scores: pd.DataFrame, minimum: int = 30) -> dict:
    """{(target, k): (n, [p10, p25, p50, p75, p90] or None)} for k 1..20."""
    values: dict = {}
    for (_, _, target), points in total_series(scores, "self").items():
        for session, pomp, _, _ in points:
            values.setdefault((target, session), []).append(pomp)
    out = {}
    for target in ("therapist", "team"):
        for k in range(1, 21):
            v = values.get((target, k), [])
            out[(target, k)] = (len(v), list(np.percentile(v, [10, 25, 50, 75, 90])) if len(v) >= minimum else None)
    return out


def same(a, b) -> bool:
    """Equal numbers (to rounding), or both missing."""
    missing_a = a is None or (isinstance(a, float) and math.isnan(a))
    missing_b = b is None or (isinstance(b, float) and math.isnan(b))
    if missing_a or missing_b:
        return missing_a and missing_b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(18, 40), st.sampled_from([10, 30]))
def test_expected_trajectory_agrees_with_percentiles_by_hand(seed, families, minimum):
    scores, _ = random_data(seed, families, sessions=24, skip=0.1)
    app = analytics.expected_trajectory(analytics.member_series(scores), minimum=minimum)
    hand = expected_by_hand(scores, minimum)
    assert list(app.columns) == ["target", "session", "n", "p10", "p25", "p50", "p75", "p90"]
    assert len(app) == len(hand) == 40
    for r in app.to_dict("records"):
        n, percentiles = hand[(r["target"], r["session"])]
        assert r["n"] == n
        for column, value in zip(("p10", "p25", "p50", "p75", "p90"), percentiles or [None] * 5, strict=True):
            assert same(r[column], value), (r, column, value)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(20, 40))
def test_below_expected_points_and_the_concern_reason_agree_by_hand(seed, families):
    scores, _ = random_data(seed, families, sessions=12, skip=0.1)
    expected = analytics.expected_trajectory(analytics.member_series(scores), minimum=10)
    hand = expected_by_hand(scores, minimum=10)
    own = total_series(scores, "self")

    below = analytics.below_expected(analytics.member_series(scores), expected)
    app_points = {(r["family"], r["member"], r["target"], r["session"]): r["below"] for r in below.to_dict("records")}
    hand_points = {}
    for (family, member, target), points in own.items():
        for session, pomp, _, _ in points:
            band = hand.get((target, session), (0, None))[1]
            hand_points[(family, member, target, session)] = band is not None and pomp < band[0]
    assert app_points == hand_points

    # The reason: the member's two latest points below, the latest in the family's last 6 sessions.
    latest = scores.groupby("family")["session"].max().to_dict()
    hand_reasons = set()
    for (family, member, target), points in own.items():
        last = points[-2:]
        below_both = len(last) == 2 and all(hand_points[(family, member, target, p[0])] for p in last)
        if below_both and last[1][0] > latest[family] - 6:
            hand_reasons.add((family, member, target, last[0][0], last[1][0]))
    result = analytics.analyse(scores, expected=expected)
    ranking = analytics.concern(result)
    app_reasons = {
        (row.family, r["member"], r["target"], r["previous_session"], r["session"])
        for row in ranking.itertuples()
        for r in row.reasons
        if r["kind"] == "below_expected"
    }
    assert app_reasons == hand_reasons
    for row in ranking.itertuples():
        for r in row.reasons:
            if r["kind"] == "below_expected":
                assert r["points"] == 2 and r["dimension"] == "total"


# --- Section 11 -------------------------------------------------------------------------------------


def profile_by_hand(scores, fam_sessions, families, start, end, threshold=25.0) -> dict:
    """{group: {measure: value}} over ``families`` in the period, from the text of section 11."""
    in_period = {(f, s) for f, s, d in fam_sessions.itertuples(index=False) if f in families and start <= d <= end}
    own = {k: v for k, v in total_series(scores, "self").items() if k[2] == "therapist" and k[0] in families}
    seen = {k: v for k, v in total_series(scores, "therapist").items() if k[2] == "therapist"}
    out = {}
    for group in ("all", "caregiver", "young"):
        points = [
            (family, member, session, pomp)
            for (family, member, _), series in own.items()
            for session, pomp, role, _ in series
            if (family, session) in in_period and (group == "all" or group_of(role) == group)
        ]
        by_session: dict = {}
        for family, _, session, pomp in points:
            by_session.setdefault((family, session), []).append(pomp)
        ranges = [max(v) - min(v) for v in by_session.values() if len(v) >= 2]
        drops = []
        gaps = []
        for (family, member, target), series in own.items():
            if group != "all" and group_of(series[0][2]) != group:
                continue
            for session, status in walk_ruptures(series):
                if (family, session) in in_period:
                    drops.append(status)
            therapist = {s: p for s, p, _, _ in seen.get((family, member, target), [])}
            for session, pomp, _, _ in series:
                if session in therapist and (family, session) in in_period:
                    gaps.append(abs(pomp - therapist[session]))
        sessions = in_period if group == "all" else set(by_session)
        out[group] = {
            "families": len({f for f, _ in sessions}),
            "sessions": len(sessions),
            "split_share": np.mean([r >= threshold - 1e-9 for r in ranges]) if ranges else None,
            "mean_balance": np.mean([100 - r for r in ranges]) if ranges else None,
            "ruptures": len(drops),
            "repaired_share": np.mean([s == "repaired" for s in drops]) if drops else None,
            "mean_abs_gap": np.mean(gaps) if gaps else None,
            "mean_pomp": np.mean([p for *_, p in points]) if points else None,
        }
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**32 - 1),
    st.integers(3, 12),
    st.integers(0, 300),
    st.integers(0, 400),
)
def test_profiles_agree_with_section_11_by_hand(seed, families, start_day, length):
    scores, fam_sessions = random_data(seed, families, sessions=10)
    rng = np.random.default_rng(seed + 1)
    codes = sorted(fam_sessions["family"].unique())
    owners = pd.DataFrame(
        [(therapist, code) for therapist in ("T1", "T2", "T3") for code in codes if rng.random() < 0.5]
        + [("team", code) for code in codes],
        columns=["owner", "family"],
    )
    owners = pd.concat([owners, pd.DataFrame([("T4", "F99")], columns=["owner", "family"])])  # no sessions at all
    start = DAY0 + dt.timedelta(days=start_day)
    end = start + dt.timedelta(days=length)
    result = analytics.analyse(scores)
    app = analytics.profiles(owners, fam_sessions, result.series, result.ruptures, result.gaps, start, end)
    assert list(app.columns) == analytics.PROFILE_COLUMNS
    assert len(app) == 3 * owners["owner"].nunique()
    for r in app.to_dict("records"):
        families_of = set(owners.loc[owners["owner"] == r["owner"], "family"])
        hand = profile_by_hand(scores, fam_sessions, families_of, start, end)[r["group"]]
        for measure, value in hand.items():
            assert same(r[measure], value), (r["owner"], r["group"], measure, r[measure], value)
    empty = app[app["owner"] == "T4"]
    assert (empty["sessions"] == 0).all() and empty["split_share"].isna().all()


def test_quarters_are_whole_calendar_quarters_oldest_first():
    assert analytics.quarters(dt.date(2026, 2, 14), 3) == [
        ("2025-Q3", dt.date(2025, 7, 1), dt.date(2025, 9, 30)),
        ("2025-Q4", dt.date(2025, 10, 1), dt.date(2025, 12, 31)),
        ("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
    ]
    assert analytics.default_period(dt.date(2026, 12, 3)) == (dt.date(2026, 6, 5), dt.date(2026, 12, 3))


def test_suppression_empties_every_measure_of_a_profile_from_few_families():
    table = pd.DataFrame(
        [("A", "all", 4, 20, 0.5, 80.0, 2, 0.5, 10.0, 60.0), ("B", "all", 5, 30, 0.1, 90.0, 1, 1.0, 5.0, 70.0)],
        columns=analytics.PROFILE_COLUMNS,
    )
    out = analytics.suppress(table, 5)
    assert out["suppressed"].tolist() == [True, False]
    assert out.loc[0, analytics.MEASURES].isna().all()
    assert out.loc[1, "split_share"] == 0.1 and out.loc[1, "families"] == 5
