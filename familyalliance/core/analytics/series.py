"""The member's series and what is read from it (metrics.md sections 6 to 8).

The preferred instrument's score per member and session, the perspective gap between a member's
own view and the therapist's, ruptures and their repair, low alliance and the early alliance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from familyalliance.core.analytics.common import DEFAULTS, EPS, Settings, long_scores, with_categories

#: Which instrument speaks for a member at a session when several were filled in (metrics.md section 6).
SELF_PREFERENCE = ("alliance16", "check4")
THERAPIST_PREFERENCE = ("observer4",)

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
SERIES_KEY = ["family", "member", "informant", "target", "instrument", "dimension"]
RUPTURE_COLUMNS = [
    "family",
    "member",
    "session",
    "informant",
    "target",
    "instrument",
    "dimension",
    "drop_pomp",
    "repaired_session",
    "status",
]


def _preferred(long: pd.DataFrame, informant: str, preference: tuple[str, ...]) -> pd.DataFrame:
    """Per member, session, target and dimension, the score of the first preferred instrument that has one."""
    rows = long[(long["informant"] == informant) & long["instrument"].isin(preference)].copy()
    rows["rank"] = rows["instrument"].map({code: i for i, code in enumerate(preference)})
    rows = rows.sort_values("rank", kind="stable")
    return rows.drop_duplicates(["family", "member", "session", "target", "dimension"])


def perspective_gap(scores: pd.DataFrame) -> pd.DataFrame:
    """Section 6: each member's own POMP (alliance16, else check4) minus the therapist's (observer4).

    Per dimension: where a member's alliance16 has no score for a dimension that session,
    their check4 score of that dimension is used. Only where both views exist.
    """
    long = long_scores(scores)
    if long.empty:
        return pd.DataFrame(columns=GAP_COLUMNS)
    key = ["family", "member", "session", "target", "dimension"]
    own = _preferred(long, "self", SELF_PREFERENCE)
    seen = _preferred(long, "therapist", THERAPIST_PREFERENCE)[[*key, "pomp"]]
    merged = own.merge(seen, on=key, suffixes=("", "_therapist"))
    merged = merged.rename(
        columns={"instrument": "self_instrument", "pomp": "self_pomp", "pomp_therapist": "therapist_pomp"}
    )
    merged["gap"] = merged["self_pomp"] - merged["therapist_pomp"]
    for column in ("role", "date"):
        if column not in merged.columns:
            merged[column] = np.nan
    order = ["family", "member", "session", "target", "dimension"]
    return merged[GAP_COLUMNS].sort_values(order, kind="stable", ignore_index=True)


def ruptures(scores: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Section 7: drops of at least ``rupture_drop`` POMP from the previous scored session, and their repair.

    Repaired at the first of the next ``repair_window`` scored sessions whose POMP is at
    least the pre-drop score minus ``repair_margin``; unrepaired when that many later
    sessions exist and none recovered; open otherwise. Each drop is its own rupture.
    """
    if scores.empty:
        return pd.DataFrame(columns=RUPTURE_COLUMNS)
    # Sort the forms by series, then session (on integer codes); stacked per dimension, every
    # series of the long table is then a contiguous run in session order.
    forms = with_categories(scores)
    form_key = [c for c in SERIES_KEY if c != "dimension"]
    order = np.lexsort((forms["session"].to_numpy(), *(forms[c].cat.codes.to_numpy() for c in reversed(form_key))))
    long = long_scores(forms.iloc[order])
    if long.empty:
        return pd.DataFrame(columns=RUPTURE_COLUMNS)
    starts = np.zeros(len(long), dtype=bool)
    starts[0] = True
    for column in SERIES_KEY:
        c = long[column].cat.codes.to_numpy()
        starts[1:] |= c[1:] != c[:-1]
    series_id = np.cumsum(starts)
    pomp = long["pomp"].to_numpy(dtype="float64")
    session = long["session"].to_numpy(dtype="float64")

    def shifted(values: np.ndarray, k: int) -> np.ndarray:
        """``values`` moved by ``k`` rows within each series (NaN where the series ends)."""
        out = np.full(len(values), np.nan)
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
        recovered = later >= target[:, None]  # NaN (no later session) compares False
    any_recovered = recovered.any(axis=1)
    first = recovered.argmax(axis=1)
    repaired_session = np.where(any_recovered, later_sessions[np.arange(len(long)), first], np.nan)
    available = (~np.isnan(later)).sum(axis=1)
    status = np.where(any_recovered, "repaired", np.where(available >= window, "unrepaired", "open"))

    out = long.loc[is_rupture, ["family", "member", "session", "informant", "target", "instrument", "dimension"]]
    out["drop_pomp"] = drop[is_rupture]
    out["repaired_session"] = pd.array(repaired_session[is_rupture], dtype="Int64")
    out["status"] = status[is_rupture]
    order = ["family", "member", "session", "informant", "target", "instrument", "dimension"]
    return out[RUPTURE_COLUMNS].sort_values(order, kind="stable", ignore_index=True)


def low_alliance(scores: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Section 8: every scored dimension (and total) with a POMP below ``low_alliance``."""
    long = long_scores(scores)
    low = long[long["pomp"] < settings.low_alliance - EPS]
    columns = [
        c
        for c in ("family", "member", "session", "informant", "target", "instrument", "dimension", "pomp")
        if c in low.columns
    ]
    return low[columns].sort_values(columns[:-1], kind="stable", ignore_index=True)


def member_session_totals(scores: pd.DataFrame) -> pd.DataFrame:
    """One POMP per member, session, informant and target and dimension: the preferred instrument's."""
    long = long_scores(scores)
    if long.empty:
        return long
    own = _preferred(long, "self", SELF_PREFERENCE)
    seen = _preferred(long, "therapist", THERAPIST_PREFERENCE)
    return pd.concat([own, seen], ignore_index=True).drop(columns="rank")


def early_alliance(scores: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Section 8: mean ``total_pomp`` over each member's first ``early_sessions`` scored sessions.

    Per member, informant and target; a session's total comes from the preferred instrument
    (alliance16, else check4; observer4 for the therapist), so that sessions with the quick
    check and with the full questionnaire both count, compared on POMP.
    """
    columns = ["family", "member", "informant", "target", "sessions", "early_total_pomp", "low"]
    # Only the forms that can count: a total from a preferred instrument, in the member's first sessions.
    preferred = ((scores["informant"] == "self") & scores["instrument"].isin(SELF_PREFERENCE)) | (
        (scores["informant"] == "therapist") & scores["instrument"].isin(THERAPIST_PREFERENCE)
    )
    candidates = scores[preferred & scores["total"].notna()]
    order = candidates.groupby(["family", "member", "informant", "target"])["session"].rank(method="dense")
    totals = member_session_totals(candidates[order <= settings.early_sessions])
    if totals.empty:
        return pd.DataFrame(columns=columns)
    totals = totals[totals["dimension"] == "total"].sort_values(["family", "member", "informant", "target", "session"])
    first = totals.groupby(["family", "member", "informant", "target"], sort=False).head(settings.early_sessions)
    out = first.groupby(["family", "member", "informant", "target"], sort=False).agg(
        sessions=("session", "size"), early_total_pomp=("pomp", "mean")
    )
    out["low"] = out["early_total_pomp"] < settings.low_alliance - EPS
    return out.reset_index()[columns].sort_values(columns[:4], kind="stable", ignore_index=True)
