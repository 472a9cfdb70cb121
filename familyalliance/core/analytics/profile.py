"""The therapist's alliance profile (metrics.md section 11): a pattern across families, for reflection.

Over the family-sessions of the families a therapist is assigned to (or of all of a team's
families), with a session date in the period:

- ``families``, ``sessions``: the families and family-sessions;
- ``split_share``: of the family-sessions where at least two members have a point on their own
  ``total`` series about the therapist, the share whose range is at least the split threshold;
  ``mean_balance``: the mean of 100 minus that range over the same family-sessions;
- ``ruptures``: the members' own ``total`` ruptures (section 7, about the therapist) at a session
  in the period; ``repaired_share``: the share of them repaired (empty when none);
- ``mean_abs_gap``: the mean absolute perspective gap (section 6a) on ``total`` (empty when none);
- ``mean_pomp``: the mean of the members' own ``total`` points (empty when none).

Per role group as well (``caregiver``, ``young``): the same read over that group's members only
(a group's ``families`` and ``sessions`` are those where one of them has a point). Ruptures and
gaps are the rows of the one analysis every page reads (``analyse``), so a rupture's status in a
profile is the status the family page and the caseload show. Nobody is ranked by it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from familyalliance.core.analytics.common import DEFAULTS, EPS, Settings, role_group
from familyalliance.core.analytics.series import as_series

#: The profile's rows: all members, then each role group.
GROUPS = ("all", "caregiver", "young")
MEASURES = [
    "families",
    "sessions",
    "split_share",
    "mean_balance",
    "ruptures",
    "repaired_share",
    "mean_abs_gap",
    "mean_pomp",
]
PROFILE_COLUMNS = ["owner", "group", *MEASURES]
#: Whose alliance the profile reads: the members' view of their therapist.
PROFILE_TARGET = "therapist"
#: The default period: this many days up to today.
PROFILE_PERIOD_DAYS = 182


def default_period(today: dt.date, days: int = PROFILE_PERIOD_DAYS) -> tuple[dt.date, dt.date]:
    """The last ``days`` days up to and including ``today``."""
    return today - dt.timedelta(days=days - 1), today


def _in_period(dates: pd.Series, start: dt.date, end: dt.date) -> np.ndarray:
    """Whether each date is within [start, end] (missing dates are not)."""
    days = pd.to_datetime(pd.Series(dates, dtype=object), errors="coerce")
    return ((days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))).to_numpy(dtype=bool)


def profiles(
    owners: pd.DataFrame,
    sessions: pd.DataFrame,
    series: pd.DataFrame,
    breaks: pd.DataFrame,
    gaps: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    settings: Settings = DEFAULTS,
) -> pd.DataFrame:
    """Section 11 per owner (a therapist or a team) and group, over the period ``start``..``end``.

    ``owners``: ``owner`` and ``family`` (code), one row per family an owner's profile covers; every
    owner gets its rows, empty ones included. ``sessions``: every family-session (``family``,
    ``session``, ``date``); ``series``, ``breaks``, ``gaps``: the analysis of those families.
    """
    owner_list = list(dict.fromkeys(owners["owner"].tolist()))
    index = pd.MultiIndex.from_product([owner_list, list(GROUPS)], names=["owner", "group"])
    out = pd.DataFrame(index=index, columns=MEASURES, dtype="float64")
    out[["families", "sessions", "ruptures"]] = 0.0
    if not owner_list:
        return out.reset_index()[PROFILE_COLUMNS]
    owners = owners[["owner", "family"]].astype({"family": str}).drop_duplicates()

    fs = sessions[["family", "session", "date"]].astype({"family": str})
    fs = fs[_in_period(fs["date"], start, end)].astype({"session": "int64"})[["family", "session"]]
    fs = fs.drop_duplicates()

    series = as_series(series)
    own = series[
        (series["informant"] == "self") & (series["dimension"] == "total") & (series["target"] == PROFILE_TARGET)
    ]
    own = own.astype({"family": str, "member": str, "session": "int64"})
    own = own.assign(group=role_group(own["role"].astype(object)) if "role" in own else "other")
    roles = own.drop_duplicates(["family", "member"]).set_index(["family", "member"])["group"]
    points = own.merge(fs, on=["family", "session"])[["family", "member", "session", "pomp", "group"]]

    rows = breaks[
        (breaks["informant"] == "self") & (breaks["dimension"] == "total") & (breaks["target"] == PROFILE_TARGET)
    ]
    rows = rows.astype({"family": str, "member": str, "session": "int64"})
    rows = rows.merge(fs, on=["family", "session"])[["family", "member", "session", "status"]]
    rows["group"] = _groups_of(rows, roles)

    gap = gaps[(gaps["dimension"] == "total") & (gaps["target"] == PROFILE_TARGET)]
    gap = gap.astype({"family": str, "member": str, "session": "int64"})
    gap = gap.merge(fs, on=["family", "session"])[["family", "member", "session", "gap"]]
    gap["group"] = _groups_of(gap, roles)

    for group in GROUPS:
        chosen = points if group == "all" else points[points["group"] == group]
        spread = chosen.groupby(["family", "session"])["pomp"].agg(["size", "min", "max"]).reset_index()
        spread = spread[spread["size"] >= 2]
        spread["range"] = spread["max"] - spread["min"]
        spread["split"] = spread["range"] >= settings.split_threshold - EPS
        drops = rows if group == "all" else rows[rows["group"] == group]
        differences = gap if group == "all" else gap[gap["group"] == group]
        base = fs if group == "all" else chosen[["family", "session"]].drop_duplicates()
        for owner, mine in owners.groupby("owner", sort=False):
            families = set(mine["family"])
            at = (owner, group)
            mine_fs = base[base["family"].isin(families)]
            out.loc[at, "families"] = mine_fs["family"].nunique()
            out.loc[at, "sessions"] = len(mine_fs)
            s = spread[spread["family"].isin(families)]
            if len(s):
                out.loc[at, "split_share"] = s["split"].mean()
                out.loc[at, "mean_balance"] = (100 - s["range"]).mean()
            d = drops[drops["family"].isin(families)]
            out.loc[at, "ruptures"] = len(d)
            if len(d):
                out.loc[at, "repaired_share"] = (d["status"] == "repaired").mean()
            g = differences[differences["family"].isin(families)]
            if len(g):
                out.loc[at, "mean_abs_gap"] = g["gap"].abs().mean()
            p = chosen[chosen["family"].isin(families)]
            if len(p):
                out.loc[at, "mean_pomp"] = p["pomp"].mean()
    out = out.reset_index()
    out[["families", "sessions", "ruptures"]] = out[["families", "sessions", "ruptures"]].astype("int64")
    return out[PROFILE_COLUMNS]


def _groups_of(frame: pd.DataFrame, roles: pd.Series) -> pd.Series:
    """The role group of each row's member (``other`` when the member has no own total point)."""
    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    keys = pd.MultiIndex.from_frame(frame[["family", "member"]])
    return pd.Series(roles.reindex(keys).fillna("other").to_numpy(dtype=object), index=frame.index)


def quarters(today: dt.date, count: int = 4) -> list[tuple[str, dt.date, dt.date]]:
    """The last ``count`` calendar quarters up to the one holding ``today``: (label, first, last day), oldest first."""
    out = []
    year, quarter = today.year, (today.month - 1) // 3 + 1
    for _ in range(count):
        first = dt.date(year, 3 * quarter - 2, 1)
        following = dt.date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
        out.append((f"{year}-Q{quarter}", first, following - dt.timedelta(days=1)))
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return out[::-1]


def quarterly_profiles(
    owners: pd.DataFrame,
    sessions: pd.DataFrame,
    series: pd.DataFrame,
    breaks: pd.DataFrame,
    gaps: pd.DataFrame,
    periods: list[tuple[str, dt.date, dt.date]],
    settings: Settings = DEFAULTS,
) -> pd.DataFrame:
    """The profiles of each period (``quarters``), with the period's label in ``period``, oldest first."""
    parts = [
        profiles(owners, sessions, series, breaks, gaps, first, last, settings).assign(period=label)
        for label, first, last in periods
    ]
    if not parts:
        return pd.DataFrame(columns=["period", *PROFILE_COLUMNS])
    return pd.concat(parts, ignore_index=True)[["period", *PROFILE_COLUMNS]]


def suppress(table: pd.DataFrame, minimum: int) -> pd.DataFrame:
    """The table with every measure emptied (and ``suppressed`` true) in rows built from fewer than ``minimum``
    families, so that no number in a research export stands for one or a few families."""
    out = table.copy()
    few = out["families"].to_numpy() < minimum
    out["families"] = out["families"].astype("float64")
    out.loc[few, MEASURES] = np.nan
    out["suppressed"] = few
    return out
