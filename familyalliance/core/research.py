"""Research statistics over a selection of families: Cronbach's alpha and ICC(1)/ICC(2).

Pure: DataFrames in, numbers and DataFrames out.

- Cronbach's alpha per dimension of ``alliance16``, on the item answers after reversal,
  ``alpha = k / (k - 1) * (1 - trace(C) / sum(C))`` with C the items' covariance matrix:
  from the complete forms only (listwise) or from every pair of items answered together
  (pairwise).
- ICC(1) and ICC(2) of members within families (Bliese, 2000), per session number, from a
  one-way ANOVA with families as groups and unequal group sizes:
  ``ICC(1) = (MSB - MSW) / (MSB + (k0 - 1) * MSW)``, ``ICC(2) = (MSB - MSW) / MSB``, with
  ``k0 = (N - sum(n_j^2) / N) / (J - 1)``. With equal groups of k these are Shrout and
  Fleiss's ICC(1,1) and ICC(1,k).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from familyalliance.core import analytics
from familyalliance.core.instruments import Instrument
from familyalliance.core.vocab import DIMENSIONS


def cronbach_alpha(items: pd.DataFrame, method: str = "listwise") -> tuple[float, int]:
    """Alpha of the columns of ``items`` (one row per respondent); returns (alpha, n rows used).

    ``listwise`` uses only complete rows; ``pairwise`` estimates each covariance from the
    rows where both items are answered. Alpha is NaN with fewer than two items or rows.
    """
    if method not in ("listwise", "pairwise"):
        raise ValueError(f"method must be 'listwise' or 'pairwise', not {method!r}")
    data = items.astype("float64")
    if method == "listwise":
        data = data.dropna()
    k = data.shape[1]
    used = len(data) if method == "listwise" else int(data.notna().any(axis=1).sum())
    if k < 2 or used < 2:
        return float("nan"), used
    cov = data.cov(min_periods=2).to_numpy()
    total = cov.sum()
    if not np.isfinite(total) or total == 0:
        return float("nan"), used
    return float(k / (k - 1) * (1 - np.trace(cov) / total)), used


def alliance16_alpha(responses: pd.DataFrame, instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """Alpha per dimension of alliance16, listwise and pairwise, from the long answers table."""
    inst = instruments["alliance16"]
    rows = responses[responses["instrument"] == "alliance16"].copy()
    reversed_items = [item.code for item in inst.items if item.reverse]
    value = rows["value"].astype("float64")
    rows["v"] = value.where(~rows["item"].isin(reversed_items), inst.scale_min + inst.scale_max - value)
    wide = rows.pivot_table(
        index=["family", "member", "session", "target"], columns="item", values="v", aggfunc="first", dropna=False
    )
    out = []
    for dimension in DIMENSIONS:
        codes = [item.code for item in inst.items_of(dimension)]
        block = wide.reindex(columns=codes)
        listwise, n_list = cronbach_alpha(block, "listwise")
        pairwise, n_pair = cronbach_alpha(block, "pairwise")
        out.append(
            {
                "dimension": dimension,
                "items": len(codes),
                "alpha_listwise": listwise,
                "n_listwise": n_list,
                "alpha_pairwise": pairwise,
                "n_pairwise": n_pair,
            }
        )
    return pd.DataFrame(out)


@dataclass(frozen=True)
class OneWay:
    """A one-way random-effects ANOVA of observations within groups, and the ICCs from it."""

    groups: int
    n: int
    k0: float
    msb: float
    msw: float

    @property
    def icc1(self) -> float:
        return (self.msb - self.msw) / (self.msb + (self.k0 - 1) * self.msw)

    @property
    def icc2(self) -> float:
        return (self.msb - self.msw) / self.msb


def one_way(values: pd.Series, groups: pd.Series) -> OneWay:
    """Mean squares between and within groups, allowing unequal group sizes."""
    frame = pd.DataFrame({"v": values.astype("float64").to_numpy(), "g": groups.to_numpy()}).dropna()
    by = frame.groupby("g")["v"]
    sizes, means = by.size(), by.mean()
    n, j = len(frame), len(sizes)
    grand = frame["v"].mean()
    ssb = float((sizes * (means - grand) ** 2).sum())
    ssw = float(((frame["v"] - frame["g"].map(means)) ** 2).sum())
    k0 = (n - (sizes**2).sum() / n) / (j - 1) if j > 1 else float("nan")
    msb = ssb / (j - 1) if j > 1 else float("nan")
    msw = ssw / (n - j) if n > j else float("nan")
    return OneWay(groups=j, n=n, k0=float(k0), msb=msb, msw=msw)


def member_icc(
    scores: pd.DataFrame, dimension: str = "total", informant: str = "self", target: str = "therapist"
) -> pd.DataFrame:
    """ICC(1) and ICC(2) of members within families, per session number, on POMP.

    A member's POMP at a session comes from the preferred instrument (alliance16, else
    check4; observer4 for the therapist). Sessions where fewer than two families have two
    or more members scored give no ICC.
    """
    views = analytics.member_session_totals(scores)
    columns = ["session", "families", "members", "k0", "msb", "msw", "icc1", "icc2"]
    if views.empty:
        return pd.DataFrame(columns=columns)
    views = views[(views["dimension"] == dimension) & (views["informant"] == informant) & (views["target"] == target)]
    out = []
    for session, rows in views.groupby("session"):
        sizes = rows.groupby("family").size()
        rows = rows[rows["family"].isin(sizes[sizes >= 2].index)]
        if rows["family"].nunique() < 2:
            continue
        anova = one_way(rows["pomp"], rows["family"])
        out.append(
            {
                "session": session,
                "families": anova.groups,
                "members": anova.n,
                "k0": anova.k0,
                "msb": anova.msb,
                "msw": anova.msw,
                "icc1": anova.icc1,
                "icc2": anova.icc2,
            }
        )
    return pd.DataFrame(out, columns=columns)
