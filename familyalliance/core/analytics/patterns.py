"""Split patterns across perspectives: how a family's views differ at a session.

Reads the member's series (``series``, metrics.md section 6): the members' own points and the
therapist's points of them, compared on POMP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from familyalliance.core.analytics.common import DEFAULTS, EPS, Settings, role_group
from familyalliance.core.analytics.series import as_series, perspective_gap

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


def split_patterns(series: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Per family, session and target, name the pattern of difference the literature distinguishes.

    The members' own series points are compared on POMP, over the four dimensions and the total:

    - ``split_members``: two members differ by at least the split threshold on some dimension;
    - ``split_adult_young``: the caregivers' and the young members' mean differ by at least it
      (the "unbalanced alliance"; it implies a member split);
    - ``split_family_therapist``: the members' mean differs from the therapist's view of them
      (the therapist's series) by at least it, with the members not split among themselves;
    - ``split_both``: family and therapist differ and the members are split too;
    - ``balanced``: none of these.
    """
    totals = as_series(series)
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

    gaps = perspective_gap(totals)
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
