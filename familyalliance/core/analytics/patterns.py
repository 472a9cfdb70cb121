"""Split patterns across perspectives and the concern ranking of a caseload.

Both read the member's series (``series``): the patterns name how a family's views differ at a
session; the concern score adds up the reasons (splits, ruptures, low early alliance, gaps) that
put a family near the top of a caseload.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from familyalliance.core.analytics.common import DEFAULTS, EPS, Settings, role_group, split_level, with_categories
from familyalliance.core.analytics.series import early_alliance, member_session_totals, perspective_gap, ruptures

PATTERNS = ("balanced", "split_members", "split_adult_young", "split_family_therapist", "split_both")
PATTERN_COLUMNS = [
    "family",
    "session",
    "target",
    "pattern",
    "member_split",
    "adult_young_split",
    "family_therapist_split",
    "widest_dimension",
    "widest_range_pomp",
    "lowest_member",
    "highest_member",
    "youth_caregiver_gap",
    "youth_caregiver_dimension",
    "family_therapist_gap",
    "family_therapist_dimension",
]


def _largest(frame: pd.DataFrame, key: list[str], column: str) -> pd.DataFrame:
    """Per key, the row with the largest absolute ``column`` (ties: first dimension in order)."""
    ranked = frame.assign(_abs=frame[column].abs()).sort_values(
        [*key, "_abs", "dimension"], ascending=[True] * len(key) + [False, True]
    )
    return ranked.drop_duplicates(key).set_index(key)


def split_patterns(scores: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Per family, session and target, name the pattern of difference the literature distinguishes.

    Members' own views (alliance16, else check4) are compared on POMP, over the four
    dimensions and the total:

    - ``split_members``: two members differ by at least the split threshold on some dimension;
    - ``split_adult_young``: the caregivers' and the young members' mean differ by at least it
      (the "unbalanced alliance"; it implies a member split);
    - ``split_family_therapist``: the members' mean differs from the therapist's view of them
      (observer4) by at least it, with the members not split among themselves;
    - ``split_both``: family and therapist differ and the members are split too;
    - ``balanced``: none of these.
    """
    totals = member_session_totals(scores)
    if totals.empty:
        return pd.DataFrame(columns=PATTERN_COLUMNS)
    own = totals[totals["informant"] == "self"].copy()
    key = ["family", "session", "target"]
    dim_key = [*key, "dimension"]
    t = settings.split_threshold - EPS

    ordered = own.sort_values([*dim_key, "pomp", "member"], kind="stable")
    group = role_group(ordered["role"]) if "role" in ordered.columns else pd.Series("other", index=ordered.index)
    ordered["caregiver"] = ordered["pomp"].where(group == "caregiver")
    ordered["young"] = ordered["pomp"].where(group == "young")
    spread = (
        ordered.groupby(dim_key, sort=False)
        .agg(
            n=("pomp", "size"),
            low=("pomp", "first"),
            high=("pomp", "last"),
            lowest_member=("member", "first"),
            highest_member=("member", "last"),
            caregiver=("caregiver", "mean"),
            young=("young", "mean"),
        )
        .reset_index()
    )
    spread["range"] = spread["high"] - spread["low"]
    spread.loc[spread["n"] < 2, "range"] = 0.0
    widest = _largest(spread, key, "range")
    generations = spread.assign(gap=spread["caregiver"] - spread["young"]).dropna(subset=["gap"])
    generation = _largest(generations, key, "gap")

    gaps = perspective_gap(scores)
    family_view = gaps.groupby(dim_key)["gap"].mean().rename("gap").reset_index()
    perspective = _largest(family_view, key, "gap")

    out = pd.DataFrame(index=widest.index.union(perspective.index))
    out["widest_dimension"] = widest["dimension"]
    out["widest_range_pomp"] = widest["range"]
    out["lowest_member"] = widest["lowest_member"]
    out["highest_member"] = widest["highest_member"]
    out["youth_caregiver_gap"] = generation["gap"]
    out["youth_caregiver_dimension"] = generation["dimension"]
    out["family_therapist_gap"] = perspective["gap"]
    out["family_therapist_dimension"] = perspective["dimension"]
    out["member_split"] = out["widest_range_pomp"].fillna(0).to_numpy() >= t
    out["adult_young_split"] = out["youth_caregiver_gap"].abs().fillna(0).to_numpy() >= t
    out["family_therapist_split"] = out["family_therapist_gap"].abs().fillna(0).to_numpy() >= t
    ft, members, generational = out["family_therapist_split"], out["member_split"], out["adult_young_split"]
    out["pattern"] = np.select(
        [ft & members, ft, generational, members],
        ["split_both", "split_family_therapist", "split_adult_young", "split_members"],
        default="balanced",
    )
    out = out.reset_index()
    return out[PATTERN_COLUMNS].sort_values(key, kind="stable", ignore_index=True)


# --- Concern ranking ------------------------------------------------------------------------------

#: Points per reason in the concern score (docs/metrics.md explains them).
CONCERN_POINTS = {
    "split_severe": 3,
    "split_moderate": 2,
    "rupture_unrepaired": 2,
    "rupture_open": 1,
    "low_early": 2,
    "low_early_team": 2,
    "gap_widening": 2,
    "gap_large": 1,
}
#: Ruptures count for the concern score when they happened in this many latest sessions.
RECENT_SESSIONS = 6
CONCERN_COLUMNS = ["family", "concern", "latest_session", "reasons"]


def concern(scores: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """An explainable concern score per family, from its latest sessions; highest concern first.

    Each family gets a list of reasons (dicts with ``kind``, ``points`` and the facts
    behind it); the score is the sum of their points:

    - the members' own views are split at the latest session: severe 3, moderate 2;
    - each member's rupture in the last ``RECENT_SESSIONS`` sessions: unrepaired 2, open 1;
    - each member whose early alliance (with the therapist, or with the team) is low: 2;
    - the family's view differs from the therapist's by at least the gap threshold at the
      latest session: 2 when wider than at the family's session before, else 1.
    """
    if scores.empty:
        return pd.DataFrame(columns=CONCERN_COLUMNS)
    scores = with_categories(scores)
    latest = scores.groupby("family")["session"].max().rename("latest_session")
    reasons: list[pd.DataFrame] = []

    # Splits and gaps are read at the latest session and the one before it only.
    recent_two = _latest_sessions(scores[scores["target"] == "therapist"], 2)
    patterns = split_patterns(recent_two, settings)
    if not patterns.empty:
        at_latest = patterns.merge(latest, left_on="family", right_index=True)
        at_latest = at_latest[at_latest["session"] == at_latest["latest_session"]].copy()
        level = split_level(at_latest["widest_range_pomp"], pd.Series(2, index=at_latest.index), settings)
        at_latest["kind"] = "split_" + level
        split = at_latest[at_latest["kind"].isin(["split_severe", "split_moderate"])]
        reasons.append(
            split.assign(
                dimension=split["widest_dimension"],
                size=split["widest_range_pomp"],
                member=split["lowest_member"],
                other_member=split["highest_member"],
            )[["family", "kind", "session", "dimension", "size", "member", "other_member"]]
        )

        gap = patterns.dropna(subset=["family_therapist_gap"]).sort_values(["family", "session"])
        gap = gap.assign(previous=gap.groupby("family")["family_therapist_gap"].shift(1))
        gap = gap.merge(latest, left_on="family", right_index=True)
        gap = gap[(gap["session"] == gap["latest_session"]) & gap["family_therapist_split"]]
        widening = gap["previous"].notna() & (gap["family_therapist_gap"].abs() > gap["previous"].abs())
        reasons.append(
            gap.assign(
                kind=np.where(widening, "gap_widening", "gap_large"),
                dimension=gap["family_therapist_dimension"],
                size=gap["family_therapist_gap"],
                previous_size=gap["previous"],
            )[["family", "kind", "session", "dimension", "size", "previous_size"]]
        )

    breaks = ruptures(scores[scores["informant"] == "self"], settings)
    if not breaks.empty:
        breaks = breaks.merge(latest, left_on="family", right_index=True)
        recent = breaks[
            (breaks["session"] > breaks["latest_session"] - RECENT_SESSIONS)
            & breaks["status"].isin(["unrepaired", "open"])
        ]
        # One reason per member and session: the largest drop names the dimension.
        recent = recent.sort_values(["family", "member", "session", "drop_pomp"], ascending=[True, True, True, False])
        recent = recent.drop_duplicates(["family", "member", "session"])
        reasons.append(
            recent.assign(kind="rupture_" + recent["status"], size=recent["drop_pomp"])[
                ["family", "kind", "session", "dimension", "size", "member", "target"]
            ]
        )

    early = early_alliance(scores, settings)
    low = early[(early["informant"] == "self") & early["low"]]
    reasons.append(
        low.assign(
            kind=np.where(low["target"] == "team", "low_early_team", "low_early"),
            dimension="total",
            size=low["early_total_pomp"],
            sessions=low["sessions"],
        )[["family", "kind", "dimension", "size", "member", "sessions", "target"]]
    )

    table = (
        pd.concat([r for r in reasons if not r.empty], ignore_index=True)
        if any(not r.empty for r in reasons)
        else pd.DataFrame(columns=["family", "kind"])
    )
    table["points"] = table["kind"].map(CONCERN_POINTS).astype("int64")
    table = table.sort_values(["family", "points", "kind"], ascending=[True, False, True], kind="stable")
    records: dict[str, list[dict]] = {}
    for record in table.to_dict("records"):
        records.setdefault(record["family"], []).append(_reason(record))
    out = latest.reset_index()
    out["family"] = out["family"].astype(str)
    out["reasons"] = [records.get(family, []) for family in out["family"]]
    out["concern"] = out["reasons"].map(lambda rs: sum(r["points"] for r in rs))
    out = out.sort_values(["concern", "family"], ascending=[False, True], kind="stable", ignore_index=True)
    return out[CONCERN_COLUMNS]


def _latest_sessions(scores: pd.DataFrame, count: int) -> pd.DataFrame:
    """The rows of each family's ``count`` latest sessions (by session number)."""
    sessions = scores[["family", "session"]].drop_duplicates().sort_values(["family", "session"], ascending=False)
    cutoff = sessions.groupby("family", sort=False).nth(count - 1).set_index("family")["session"]
    threshold = scores["family"].map(cutoff).fillna(-np.inf).to_numpy()
    return scores[scores["session"].to_numpy() >= threshold]


def _reason(record: dict) -> dict:
    """A reason as plain values: no family key, no missing values, session numbers as integers."""
    reason = {}
    for key, value in record.items():
        if key == "family" or value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            continue
        reason[key] = int(value) if key in ("session", "sessions", "points") else value
    return reason
