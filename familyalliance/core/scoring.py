"""The scoring engine: item answers to dimension scores, total and POMP (metrics.md section 4).

Pure: no Flask, no database. Two paths with the same results:

- :func:`score_answers` scores one filled-in form (a dict of item answers);
- :func:`score_frame` scores a long DataFrame of many forms at once, with grouped
  pandas/numpy operations and no Python loop over rows.

Rules: a reverse-keyed item counts as ``scale_min + scale_max - v``; a dimension score is
the mean of its answered items, only when at least the instrument's minimum is answered;
``total`` is the mean of the four dimension scores, only when all four exist;
``pomp = 100 * (score - scale_min) / (scale_max - scale_min)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from familyalliance.core.instruments import Instrument
from familyalliance.core.vocab import DIMENSIONS

#: The key of one filled-in form (metrics.md section 4).
SCORE_KEY = ["family", "member", "session", "informant", "target", "instrument"]
SCORE_COLUMNS = [f for f in DIMENSIONS] + ["total"]
POMP_COLUMNS = [f"{c}_pomp" for c in SCORE_COLUMNS]
#: Columns of the ``scores`` export, in order.
SCORES_EXPORT_COLUMNS = [
    "family",
    "member",
    "role",
    "session",
    "date",
    "informant",
    "target",
    "instrument",
    *SCORE_COLUMNS,
    *POMP_COLUMNS,
]


def reverse(value: float, scale_min: int, scale_max: int) -> float:
    """Reverse a reverse-keyed answer on its scale."""
    return scale_min + scale_max - value


def pomp(score: float | None, scale_min: int, scale_max: int) -> float | None:
    """Percent of maximum possible: the score on a 0..100 scale."""
    if score is None:
        return None
    return 100 * (score - scale_min) / (scale_max - scale_min)


def score_answers(instrument: Instrument, answers: Mapping[str, int | None]) -> dict[str, float | None]:
    """Score one form: ``answers`` maps item codes to values (None or absent: unanswered).

    Returns the four dimension scores, ``total`` and their ``*_pomp``; None where missing.
    """
    unknown = set(answers) - set(instrument.item_codes)
    if unknown:
        raise ValueError(f"items not in {instrument.code}: {', '.join(sorted(unknown))}")
    result: dict[str, float | None] = {}
    for dimension in DIMENSIONS:
        values = []
        for item in instrument.items_of(dimension):
            value = answers.get(item.code)
            if value is None:
                continue
            values.append(reverse(value, instrument.scale_min, instrument.scale_max) if item.reverse else value)
        result[dimension] = sum(values) / len(values) if len(values) >= instrument.min_answered else None
    dims = [result[d] for d in DIMENSIONS]
    result["total"] = sum(dims) / len(dims) if all(v is not None for v in dims) else None
    for column in SCORE_COLUMNS:
        result[f"{column}_pomp"] = pomp(result[column], instrument.scale_min, instrument.scale_max)
    return result


def item_table(instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """One row per (instrument, item): dimension, reverse flag, scale and minimum."""
    rows = [
        (code, item.code, item.dimension, item.reverse, inst.scale_min, inst.scale_max, inst.min_answered)
        for code, inst in instruments.items()
        for item in inst.items
    ]
    return pd.DataFrame(
        rows, columns=["instrument", "item", "dimension", "reverse", "scale_min", "scale_max", "min_answered"]
    )


def score_frame(responses: pd.DataFrame, instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """Score a long DataFrame of item answers (columns of metrics.md section 3; ``value`` NaN when unanswered).

    Returns one row per form with at least one dimension score, with the columns of the
    ``scores`` export (``role`` and ``date`` carried along when present), sorted as
    metrics.md section 9 says.
    """
    extra = [c for c in ("role", "date") if c in responses.columns]
    if responses.empty:
        return pd.DataFrame(
            columns=[c for c in SCORES_EXPORT_COLUMNS if c in SCORE_KEY + extra + SCORE_COLUMNS + POMP_COLUMNS]
        )
    items = item_table(instruments)
    data = responses[SCORE_KEY + extra + ["item", "value"]].merge(
        items, on=["instrument", "item"], how="left", validate="many_to_one"
    )
    unknown = data["dimension"].isna()
    if unknown.any():
        pairs = data.loc[unknown, ["instrument", "item"]].drop_duplicates().head(5)
        listed = ", ".join(f"{i}/{t}" for i, t in pairs.itertuples(index=False))
        raise ValueError(f"answers to unknown instrument items: {listed}")

    value = pd.to_numeric(data["value"], errors="raise").astype("float64").to_numpy()
    reversed_ = data["reverse"].to_numpy(dtype=bool)
    lo = data["scale_min"].to_numpy(dtype="float64")
    hi = data["scale_max"].to_numpy(dtype="float64")
    data["v"] = np.where(reversed_, lo + hi - value, value)

    # Number the forms once, so the grouping below works on one integer key.
    form_id, forms = pd.MultiIndex.from_frame(data[SCORE_KEY]).factorize()
    data["form"] = form_id
    grouped = data.groupby(["form", "dimension"], sort=False)["v"].agg(["sum", "count"])
    minimum = data.groupby("form", sort=False)["min_answered"].first()
    counts = grouped["count"]
    enough = counts.to_numpy() >= minimum.reindex(grouped.index.get_level_values("form")).to_numpy()
    means = (grouped["sum"] / counts).where(enough)
    wide = means.unstack("dimension").reindex(columns=list(DIMENSIONS))

    scored = wide.notna().any(axis=1)
    wide = wide[scored]
    # total: mean of the four in a fixed order, as in score_answers.
    all_four = wide.notna().all(axis=1)
    total = sum(wide[d] for d in DIMENSIONS) / len(DIMENSIONS)
    wide["total"] = total.where(all_four)

    firsts = data.groupby("form", sort=False)[["scale_min", "scale_max", *extra]].first().loc[wide.index]
    lo_f = firsts["scale_min"].astype("float64")
    span = firsts["scale_max"].astype("float64") - lo_f
    for column in SCORE_COLUMNS:
        wide[f"{column}_pomp"] = 100 * (wide[column] - lo_f) / span

    keys = forms[wide.index.to_numpy()].to_frame(index=False, name=SCORE_KEY)
    out = pd.concat([keys, firsts[extra].reset_index(drop=True), wide.reset_index(drop=True)], axis=1)
    out = out[[c for c in SCORES_EXPORT_COLUMNS if c in out.columns]]
    return out.sort_values(SCORE_KEY, kind="stable", ignore_index=True)


def is_missing(value: float | None) -> bool:
    """True for None and NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))
