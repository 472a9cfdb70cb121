"""Research statistics over a selection of families: Cronbach's alpha and ICC(1)/ICC(2).

Pure: DataFrames in, numbers and DataFrames out.

- Cronbach's alpha per dimension of an instrument, on the item answers after reversal,
  ``alpha = k / (k - 1) * (1 - trace(C) / sum(C))`` with C the items' covariance matrix:
  from the complete forms only (listwise) or from every pair of items answered together
  (pairwise).
- ICC(1) and ICC(2) of members within families (Bliese, 2000), per session number, from a
  one-way ANOVA with families as groups and unequal group sizes:
  ``ICC(1) = (MSB - MSW) / (MSB + (k0 - 1) * MSW)``, ``ICC(2) = (MSB - MSW) / MSB``, with
  ``k0 = (N - sum(n_j^2) / N) / (J - 1)``. With equal groups of k these are Shrout and
  Fleiss's ICC(1,1) and ICC(1,k). ICC(1) is the share of the variance that lies between
  families; ICC(2) the reliability of the family means.
- ``research_table``: both, tidy, as the ``research`` export (one row per statistic,
  instrument, informant, target, dimension and session); it holds no family or member code
  and no date, only counts.
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


#: The keys of one form: a member's answers at one session about one target.
FORM_KEY = ["family", "member", "session", "target"]


def item_table(responses: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """One row per form of ``instrument`` (index ``FORM_KEY``), one column per item, reverse-keyed ones reversed."""
    rows = responses[responses["instrument"] == instrument.code]
    value = rows["value"].astype("float64")
    reversed_items = [item.code for item in instrument.items if item.reverse]
    value = value.where(~rows["item"].isin(reversed_items), instrument.scale_min + instrument.scale_max - value)
    # Grouped, not pivot_table(dropna=False): that one fills in every combination of the keys,
    # families times members times sessions, which outgrows memory on a whole installation.
    wide = value.groupby([rows[key] for key in [*FORM_KEY, "item"]]).first().unstack("item")
    if wide.empty:
        wide = pd.DataFrame(index=pd.MultiIndex.from_arrays([[]] * len(FORM_KEY), names=FORM_KEY))
    return wide.reindex(columns=list(instrument.item_codes))


def alliance16_alpha(responses: pd.DataFrame, instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """Alpha per dimension of alliance16, listwise and pairwise, from the long answers table."""
    inst = instruments["alliance16"]
    wide = item_table(responses, inst)
    out = []
    for dimension in DIMENSIONS:
        codes = [item.code for item in inst.items_of(dimension)]
        block = wide[codes]
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
        """The share of the variance that lies between groups (NaN when there is no variance at all)."""
        denominator = self.msb + (self.k0 - 1) * self.msw
        return (self.msb - self.msw) / denominator if denominator else float("nan")

    @property
    def icc2(self) -> float:
        """The reliability of the group means (NaN when the group means do not differ at all)."""
        return (self.msb - self.msw) / self.msb if self.msb else float("nan")


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


ICC_COLUMNS = ["session", "families", "members", "k0", "msb", "msw", "icc1", "icc2"]


def member_icc(
    scores: pd.DataFrame,
    dimension: str = "total",
    informant: str = "self",
    target: str = "therapist",
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """ICC(1) and ICC(2) of members within families, per session number, on POMP.

    A member's POMP at a session is their series point (metrics.md section 6: the instrument
    with the most items for the dimension). Sessions where fewer than two families have two
    or more members scored give no ICC.
    """
    views = analytics.member_series(scores, instruments)
    if views.empty:
        return pd.DataFrame(columns=ICC_COLUMNS)
    views = views[(views["dimension"] == dimension) & (views["informant"] == informant) & (views["target"] == target)]
    return _icc_by_session(views)


def _icc_by_session(views: pd.DataFrame) -> pd.DataFrame:
    """ICCs per session of one informant, target and dimension of the member's series."""
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
    return pd.DataFrame(out, columns=ICC_COLUMNS)


# --- The research export --------------------------------------------------------------------------

#: The statistics of the research export, in their sort order.
STATISTICS = ("alpha", "icc1", "icc2")
RESEARCH_COLUMNS = [
    "statistic",
    "instrument",
    "informant",
    "target",
    "dimension",
    "session",
    "estimate",
    "n_items",
    "n_cases",
    "n_families",
]
RESEARCH_KEY = ["statistic", "instrument", "informant", "target", "dimension", "session"]
_INTEGERS = ["session", "n_items", "n_cases", "n_families"]


def research_table(
    responses: pd.DataFrame, scores: pd.DataFrame, instruments: Mapping[str, Instrument]
) -> pd.DataFrame:
    """The ``research`` export: alpha per instrument, target and dimension; ICC(1)/ICC(2) per session.

    Alpha (listwise) is computed for every dimension with two or more items of each instrument
    in ``responses``, over the forms (a member at a session) about one target; ``n_cases`` is
    the number of complete forms. The ICCs are computed on the member's series (POMP) per
    informant, target, dimension (and total) and session; ``n_cases`` is the number of members,
    ``n_families`` the families with two or more members scored. A statistic that cannot be
    computed (too few cases, no variance) is left empty.
    """
    rows = _alpha_rows(responses, instruments) + _icc_rows(scores, instruments)
    table = pd.DataFrame(rows, columns=RESEARCH_COLUMNS)
    for column in _INTEGERS:
        table[column] = pd.array(table[column], dtype="Int64")
    table["estimate"] = table["estimate"].astype("float64")
    return table.sort_values(RESEARCH_KEY, kind="stable", ignore_index=True, na_position="first")


def _alpha_rows(responses: pd.DataFrame, instruments: Mapping[str, Instrument]) -> list[dict]:
    """One row per instrument, target and dimension with at least two items: alpha of the complete forms."""
    rows = []
    for code in sorted(set(responses["instrument"])):
        instrument = instruments[code]
        # One item has no internal consistency to speak of (check4 and observer4 have one per dimension).
        scales = {d: [item.code for item in instrument.items_of(d)] for d in DIMENSIONS}
        scales = {d: codes for d, codes in scales.items() if len(codes) >= 2}
        if not scales:
            continue
        wide = item_table(responses, instrument)
        for target, forms in wide.groupby(level="target"):
            for dimension, codes in scales.items():
                complete = forms[codes].dropna()
                alpha, used = cronbach_alpha(complete, "listwise")
                rows.append(
                    {
                        "statistic": "alpha",
                        "instrument": code,
                        "informant": instrument.informant,
                        "target": target,
                        "dimension": dimension,
                        "session": None,
                        "estimate": alpha,
                        "n_items": len(codes),
                        "n_cases": used,
                        "n_families": complete.index.get_level_values("family").nunique(),
                    }
                )
    return rows


def _icc_rows(scores: pd.DataFrame, instruments: Mapping[str, Instrument]) -> list[dict]:
    """Two rows (ICC(1), ICC(2)) per informant, target, dimension and session that has an ICC."""
    views = analytics.member_series(scores, instruments)
    if views.empty:
        return []
    rows = []
    for (informant, target, dimension), part in views.groupby(["informant", "target", "dimension"], observed=True):
        for icc in _icc_by_session(part).itertuples(index=False):
            for statistic in ("icc1", "icc2"):
                rows.append(
                    {
                        "statistic": statistic,
                        "instrument": None,
                        "informant": informant,
                        "target": target,
                        "dimension": dimension,
                        "session": icc.session,
                        "estimate": getattr(icc, statistic),
                        "n_items": None,
                        "n_cases": icc.members,
                        "n_families": icc.families,
                    }
                )
    return rows
