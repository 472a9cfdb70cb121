"""The member's series and what is read from it (metrics.md sections 6 to 8).

Each member has **one series** per informant, target and dimension: one POMP point per session
where they have a score, taken from the instrument with the most items for that dimension
(``total``: all its items), ties to the smallest instrument code. Ruptures and their repair,
the perspective gap, low alliance and the early alliance all read that series, so a member's
quick checks and full questionnaires sit on one line and a rupture is found once.

The functions that read the series take the series table of :func:`member_series`; given a
scores table instead (one row per form, as tests and scripts have it), they build the series
from it with the built-in instruments.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from familyalliance.core.analytics.common import DEFAULTS, EPS, SCORE_DIMENSIONS, Settings, long_scores
from familyalliance.core.instruments import Instrument, builtin_instruments

#: A series: one line of points (metrics.md section 6).
SERIES_KEY = ["family", "member", "informant", "target", "dimension"]
SERIES_COLUMNS = [
    "family",
    "member",
    "role",
    "session",
    "date",
    "informant",
    "target",
    "dimension",
    "instrument",
    "score",
    "pomp",
]
GAP_COLUMNS = [
    "family",
    "member",
    "role",
    "session",
    "date",
    "target",
    "dimension",
    "self_instrument",
    "self_pomp",
    "therapist_pomp",
    "gap",
]
#: The ``ruptures`` export (metrics.md section 7), in its column order.
RUPTURE_COLUMNS = [
    "family",
    "member",
    "session",
    "informant",
    "target",
    "dimension",
    "instrument",
    "previous_instrument",
    "drop_pomp",
    "repaired_session",
    "status",
]
#: What the rupture table carries besides the export's columns, for the pages that show a rupture:
#: the points before and at the drop, their sessions, and the point that repaired it.
RUPTURE_DETAIL = ["previous_session", "previous_pomp", "pomp", "repaired_pomp"]
RUPTURE_KEY = ["family", "member", "session", "informant", "target", "dimension"]
EARLY_COLUMNS = ["family", "member", "informant", "target", "sessions", "early_total_pomp", "low"]


def item_counts(instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """Per instrument and dimension (the four and ``total``), how many items it has."""
    rows = []
    for code, instrument in instruments.items():
        for dimension in SCORE_DIMENSIONS:
            count = len(instrument.items) if dimension == "total" else len(instrument.items_of(dimension))
            rows.append((code, dimension, count))
    return pd.DataFrame(rows, columns=["instrument", "dimension", "items"])


def member_series(scores: pd.DataFrame, instruments: Mapping[str, Instrument] | None = None) -> pd.DataFrame:
    """Section 6: one POMP point per member, informant, target, dimension and scored session.

    Where several instruments scored the same dimension at one session, the point comes from the
    one with the most items for that dimension; ties go to the smallest instrument code. An
    instrument not in ``instruments`` counts as having no items. Sorted by series, then session.
    """
    long = long_scores(scores)
    if long.empty:
        return pd.DataFrame(columns=SERIES_COLUMNS)
    counts = item_counts(instruments if instruments is not None else builtin_instruments())
    items = pd.Series(counts["items"].to_numpy(), index=pd.MultiIndex.from_frame(counts[["instrument", "dimension"]]))
    pairs = pd.MultiIndex.from_arrays([long["instrument"].astype(str), long["dimension"].astype(str)])
    long["items"] = items.reindex(pairs).fillna(0).to_numpy()
    for column in ("role", "date"):
        if column not in long.columns:
            long[column] = np.nan
    # Categorical codes sort alphabetically, so "instrument" ascending is the smallest code first.
    order = [*SERIES_KEY, "session", "items", "instrument"]
    ranked = long.sort_values(order, ascending=[True] * 6 + [False, True], kind="stable")
    chosen = ranked.drop_duplicates([*SERIES_KEY, "session"])
    return chosen[SERIES_COLUMNS].reset_index(drop=True)


def as_series(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` if it is a series table, else the series of a scores table (built-in instruments)."""
    if "pomp" in frame.columns and "dimension" in frame.columns:
        return frame
    return member_series(frame)


def perspective_gap(series: pd.DataFrame) -> pd.DataFrame:
    """Section 6a: the member's own series point minus the therapist's, where both exist at a session."""
    series = as_series(series)
    if series.empty:
        return pd.DataFrame(columns=GAP_COLUMNS)
    key = ["family", "member", "session", "target", "dimension"]
    own = series[series["informant"] == "self"]
    seen = series[series["informant"] == "therapist"][[*key, "pomp"]]
    merged = own.merge(seen, on=key, suffixes=("", "_therapist"))
    merged = merged.rename(
        columns={"instrument": "self_instrument", "pomp": "self_pomp", "pomp_therapist": "therapist_pomp"}
    )
    merged["gap"] = merged["self_pomp"] - merged["therapist_pomp"]
    return merged[GAP_COLUMNS].sort_values(key, kind="stable", ignore_index=True)


def ruptures(series: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Section 7: walk each series; a drop of at least ``rupture_drop`` POMP from the previous point.

    Repaired at the first of the next ``repair_window`` points back within ``repair_margin`` of
    the point before the drop; unrepaired when that many later points exist and none recovered;
    open otherwise. Each drop is its own rupture. The table has the export's columns
    (``RUPTURE_COLUMNS``) and ``RUPTURE_DETAIL``.
    """
    series = as_series(series)
    columns = [*RUPTURE_COLUMNS, *RUPTURE_DETAIL]
    if series.empty:
        return pd.DataFrame(columns=columns)
    # One series after the other, each in session order (on integer codes where categorical).
    codes = [
        series[c].cat.codes.to_numpy() if isinstance(series[c].dtype, pd.CategoricalDtype) else series[c].to_numpy()
        for c in SERIES_KEY
    ]
    order = np.lexsort((series["session"].to_numpy(), *reversed(codes)))
    walk = series.iloc[order].reset_index(drop=True)
    starts = np.zeros(len(walk), dtype=bool)
    starts[0] = True
    for c in codes:
        c = c[order]
        starts[1:] |= c[1:] != c[:-1]
    series_id = np.cumsum(starts)
    pomp = walk["pomp"].to_numpy(dtype="float64")
    session = walk["session"].to_numpy(dtype="float64")

    def shifted(values: np.ndarray, k: int) -> np.ndarray:
        """``values`` moved by ``k`` points within each series (NaN past its ends)."""
        out = np.full(len(values), np.nan, dtype="float64" if values.dtype.kind == "f" else object)
        if k > 0:
            same = series_id[k:] == series_id[:-k]
            out[k:][same] = values[:-k][same]
        else:
            same = series_id[:k] == series_id[-k:]
            out[:k][same] = values[-k:][same]
        return out

    before = shifted(pomp, 1)
    drop = before - pomp
    is_rupture = drop >= settings.rupture_drop - EPS
    target = before - settings.repair_margin - EPS

    window = settings.repair_window
    later = np.column_stack([shifted(pomp, -k) for k in range(1, window + 1)])
    later_sessions = np.column_stack([shifted(session, -k) for k in range(1, window + 1)])
    with np.errstate(invalid="ignore"):
        recovered = later >= target[:, None]  # NaN (no later point) compares False
    any_recovered = recovered.any(axis=1)
    first = recovered.argmax(axis=1)
    rows = np.arange(len(walk))
    repaired_session = np.where(any_recovered, later_sessions[rows, first], np.nan)
    repaired_pomp = np.where(any_recovered, later[rows, first], np.nan)
    available = (~np.isnan(later)).sum(axis=1)
    status = np.where(any_recovered, "repaired", np.where(available >= window, "unrepaired", "open"))

    out = walk.loc[is_rupture, ["family", "member", "session", "informant", "target", "dimension", "instrument"]]
    out["previous_instrument"] = shifted(walk["instrument"].astype(str).to_numpy(dtype=object), 1)[is_rupture]
    out["drop_pomp"] = drop[is_rupture]
    out["repaired_session"] = pd.array(repaired_session[is_rupture], dtype="Int64")
    out["status"] = status[is_rupture]
    out["previous_session"] = shifted(session, 1)[is_rupture].astype("int64")
    out["previous_pomp"] = before[is_rupture]
    out["pomp"] = pomp[is_rupture]
    out["repaired_pomp"] = repaired_pomp[is_rupture]
    return out[columns].sort_values(RUPTURE_KEY, kind="stable", ignore_index=True)


def low_alliance(series: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Section 8: every series point (dimensions and total) with a POMP below ``low_alliance``."""
    series = as_series(series)
    low = series[series["pomp"] < settings.low_alliance - EPS]
    columns = ["family", "member", "session", "informant", "target", "dimension", "instrument", "pomp"]
    return low[columns].sort_values(columns[:6], kind="stable", ignore_index=True)


def early_alliance(series: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Section 8: the mean of each member's first ``early_sessions`` points of the ``total`` series.

    Per member and target, informant ``self``; ``sessions`` is how many points there were (up to
    ``early_sessions``), ``low`` whether the mean is below ``low_alliance``.
    """
    series = as_series(series)
    totals = series[(series["dimension"] == "total") & (series["informant"] == "self")]
    if totals.empty:
        return pd.DataFrame(columns=EARLY_COLUMNS)
    key = ["family", "member", "informant", "target"]
    totals = totals.sort_values([*key, "session"], kind="stable")
    first = totals.groupby(key, sort=False, observed=True).head(settings.early_sessions)
    out = first.groupby(key, sort=False, observed=True).agg(
        sessions=("session", "size"), early_total_pomp=("pomp", "mean")
    )
    out["low"] = out["early_total_pomp"] < settings.low_alliance - EPS
    return out.reset_index()[EARLY_COLUMNS].sort_values(key, kind="stable", ignore_index=True)
