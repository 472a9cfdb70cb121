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


#: Per dimension, the sum of a form's answered items (after reversal) and how many of them were answered.
SUM_COLUMNS = [f"{d}_sum" for d in DIMENSIONS]
COUNT_COLUMNS = [f"{d}_count" for d in DIMENSIONS]
#: What is known of a scored form besides its key: the items answered, the scores and their POMP.
FORM_COLUMNS = ["answered", *SCORE_COLUMNS, *POMP_COLUMNS]


def empty_scores() -> pd.DataFrame:
    """The scores of no answers at all: the ``scores`` columns without rows."""
    return pd.DataFrame(columns=SCORES_EXPORT_COLUMNS)


def _numbered(columns: list[pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """Number the rows' combinations of ``columns`` in order of first appearance: (number per row, first row of each).

    Each column is factorised on its own and the codes combined into one integer (numbered again
    only when it could grow past 64 bits); cheaper than a MultiIndex of text columns.
    """
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    bound = 1  # combined < bound
    for column in columns:
        codes, uniques = pd.factorize(column)
        codes = np.where(codes < 0, len(uniques), codes)  # a missing value is a value of its own
        if bound * (len(uniques) + 1) >= 2**62:
            combined, numbers = pd.factorize(combined)
            bound = len(numbers)
        combined = combined * (len(uniques) + 1) + codes
        bound *= len(uniques) + 1
    combined, _ = pd.factorize(combined)
    # Numbered in order of first appearance: each number first appears where the running maximum grows.
    if not len(combined):
        return combined.astype(np.int64), np.zeros(0, dtype=np.int64)
    peak = np.maximum.accumulate(combined)
    first = np.flatnonzero(np.concatenate(([True], peak[1:] > peak[:-1])))
    return combined.astype(np.int64), first


def form_sums(responses: pd.DataFrame, instruments: Mapping[str, Instrument], key=SCORE_KEY) -> pd.DataFrame:
    """Per form (``key``): each dimension's sum of answered items after reversal, and their count.

    ``responses`` needs the ``key`` columns, ``item`` and ``value`` (NaN or NA when unanswered).
    One row per form, every form included (answered or not), in the order the forms first
    appear; the index is the position of each form's first row in ``responses``. The answers
    are integers, so the sums are exact: the partial sums of one form read in parts (the
    import's chunks) add up to exactly the sums of the whole form.
    """
    # Each distinct (instrument, item) looked up once: its dimension, reverse flag and scale.
    pair, first_of_pair = _numbered([responses["instrument"], responses["item"]])
    known = {(code, item.code): (inst, item) for code, inst in instruments.items() for item in inst.items}
    pairs = list(responses[["instrument", "item"]].iloc[first_of_pair].itertuples(index=False, name=None))
    found = [known.get(p) for p in pairs]
    unknown = [p for p, f in zip(pairs, found, strict=True) if f is None]
    if unknown:
        listed = ", ".join(f"{i}/{t}" for i, t in unknown[:5])
        raise ValueError(f"answers to unknown instrument items: {listed}")
    dimension = np.array([DIMENSIONS.index(item.dimension) for _, item in found], dtype=np.int64)[pair]
    reversed_ = np.array([item.reverse for _, item in found], dtype=bool)[pair]
    span = np.array([inst.scale_min + inst.scale_max for inst, _ in found], dtype="float64")[pair]
    value = pd.to_numeric(responses["value"], errors="raise").astype("float64").to_numpy()
    value = np.where(reversed_, span - value, value)
    answered = ~np.isnan(value)

    # Number the forms once, then add up per form and dimension.
    form_id, first = _numbered([responses[c] for c in key])
    n, width = len(first), len(DIMENSIONS)
    slot = form_id * width + dimension
    sums = np.bincount(slot, weights=np.where(answered, value, 0.0), minlength=n * width).reshape(n, width)
    counts = np.bincount(slot[answered], minlength=n * width).reshape(n, width)
    out = responses[list(key)].iloc[first].reset_index(drop=True)
    out[SUM_COLUMNS] = sums
    out[COUNT_COLUMNS] = counts
    out.index = first
    return out


def score_sums(sums: pd.DataFrame, instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """Score forms from their sums (:func:`form_sums`, or partial sums added up): ``FORM_COLUMNS``.

    Returns ``sums`` with the sum and count columns replaced by the items answered, the four
    dimension scores, ``total`` and their POMP (NaN where missing); forms without any score
    are kept (the ``scores`` table leaves them out). The index and other columns stay.
    """
    codes, uniques = pd.factorize(sums["instrument"])
    scale = np.array(
        [(instruments[c].scale_min, instruments[c].scale_max, instruments[c].min_answered) for c in uniques]
    )
    scale = scale.reshape(-1, 3).astype("float64")[codes]
    lo, span, minimum = scale[:, 0], scale[:, 1] - scale[:, 0], scale[:, 2]
    counts = sums[COUNT_COLUMNS].to_numpy(dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts >= minimum[:, None], sums[SUM_COLUMNS].to_numpy(dtype="float64") / counts, np.nan)
    # total: mean of the four in a fixed order, as in score_answers (NaN unless all four exist).
    total = means[:, 0]
    for i in range(1, len(DIMENSIONS)):
        total = total + means[:, i]
    values = np.column_stack([means, total / len(DIMENSIONS)])
    pomp = 100 * (values - lo[:, None]) / span[:, None]
    out = sums[[c for c in sums.columns if c not in SUM_COLUMNS and c not in COUNT_COLUMNS]].copy()
    out["answered"] = counts.sum(axis=1)
    scored_ = pd.DataFrame(np.column_stack([values, pomp]), columns=SCORE_COLUMNS + POMP_COLUMNS, index=out.index)
    return pd.concat([out, scored_], axis=1)


def scored(forms: pd.DataFrame) -> pd.Series:
    """Which forms have at least one dimension score: those the ``scores`` table holds."""
    return forms[list(DIMENSIONS)].notna().any(axis=1)


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
    frame = responses[SCORE_KEY + extra + ["item", "value"]].reset_index(drop=True)
    forms = score_sums(form_sums(frame, instruments), instruments)
    forms = forms[scored(forms)]
    # role and date as the form's first row gives them.
    out = pd.concat(
        [forms[SCORE_KEY].reset_index(drop=True), frame.loc[forms.index, extra].reset_index(drop=True)], axis=1
    )
    out[SCORE_COLUMNS + POMP_COLUMNS] = forms[SCORE_COLUMNS + POMP_COLUMNS].to_numpy()
    out = out[[c for c in SCORES_EXPORT_COLUMNS if c in out.columns]]
    return out.sort_values(SCORE_KEY, kind="stable", ignore_index=True)


def is_missing(value: float | None) -> bool:
    """True for None and NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))
