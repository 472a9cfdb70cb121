"""Family metrics (metrics.md section 5): per family, session, informant, target, instrument and dimension.

How far apart the members of a family are on each dimension (range, balance, split level), who
scores lowest, the caregivers against the young members, and within-family agreement (rwg).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from familyalliance.core.analytics.common import DEFAULTS, EPS, Settings, long_scores, role_group, split_level
from familyalliance.core.instruments import Instrument

FAMILY_KEY = ["family", "session", "informant", "target", "instrument", "dimension"]
FAMILY_COLUMNS = [
    "family",
    "session",
    "date",
    "informant",
    "target",
    "instrument",
    "dimension",
    "n",
    "mean",
    "sd",
    "min",
    "max",
    "range",
    "range_pomp",
    "balance",
    "split",
    "split_level",
    "lowest_member",
    "caregiver_mean_pomp",
    "young_mean_pomp",
    "youth_caregiver_gap",
    "rwg",
]


def family_metrics(
    scores: pd.DataFrame, instruments: Mapping[str, Instrument], settings: Settings = DEFAULTS
) -> pd.DataFrame:
    """Section 5: per family, session, informant, target, instrument and dimension, over the members scored."""
    long = long_scores(scores)
    if long.empty:
        return pd.DataFrame(columns=FAMILY_COLUMNS)
    # Lowest score first, and among equal scores the smallest member code, so "first" is the lowest member.
    long = long.sort_values(["score", "member"], kind="stable")
    group = role_group(long["role"]) if "role" in long.columns else pd.Series("other", index=long.index)
    long["caregiver_pomp"] = long["pomp"].where(group == "caregiver")
    long["young_pomp"] = long["pomp"].where(group == "young")
    if "date" not in long.columns:
        long["date"] = np.nan
    out = long.groupby(FAMILY_KEY, sort=False).agg(
        date=("date", "first"),
        n=("score", "size"),
        mean=("score", "mean"),
        sd=("score", "std"),
        min=("score", "min"),
        max=("score", "max"),
        pomp_min=("pomp", "min"),
        pomp_max=("pomp", "max"),
        lowest_member=("member", "first"),
        caregiver_mean_pomp=("caregiver_pomp", "mean"),
        young_mean_pomp=("young_pomp", "mean"),
    )
    out["range"] = out["max"] - out["min"]
    out["range_pomp"] = out["pomp_max"] - out["pomp_min"]
    out["balance"] = 100 - out["range_pomp"]
    out["split"] = (out["n"] >= 2) & (out["range_pomp"] >= settings.split_threshold - EPS)
    out["split_level"] = split_level(out["range_pomp"], out["n"], settings)
    out["youth_caregiver_gap"] = out["caregiver_mean_pomp"] - out["young_mean_pomp"]
    points = out.index.get_level_values("instrument").map(lambda code: instruments[code].scale_points)
    sigma2 = (np.asarray(points, dtype="float64") ** 2 - 1) / 12
    out["rwg"] = (1 - out["sd"] ** 2 / sigma2).clip(0, 1)
    out = out.reset_index()
    return out[FAMILY_COLUMNS].sort_values(FAMILY_KEY, kind="stable", ignore_index=True)
