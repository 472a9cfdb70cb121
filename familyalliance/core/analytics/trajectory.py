"""The expected trajectory (metrics.md section 10): how members' alliance usually runs in this installation.

Learned from the installation's own families: per target and session number 1 to
``EXPECTED_SESSIONS``, the 10th, 25th, 50th, 75th and 90th percentiles (numpy's default linear
interpolation) of all members' own ``total`` series points (section 6) at that session, wherever
at least ``EXPECTED_MINIMUM`` points exist there. A member's point is *below expected* when it is
under the 10th percentile at its session number; a member whose two latest points are both below
expected, the latest in the family's recent sessions, is a concern reason (``below_expected``).

Pure: the series in, tables out. The app stores the table (``store.expected``) and recomputes it
when the data changed, never per request of a member.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from familyalliance.core.analytics.common import EPS
from familyalliance.core.analytics.series import as_series
from familyalliance.core.vocab import TARGETS

#: Session numbers with an expected band: 1 to this.
EXPECTED_SESSIONS = 20
#: Fewest points at a session number for its percentiles (fewer: no band there).
EXPECTED_MINIMUM = 30
PERCENTILES = (10, 25, 50, 75, 90)
PERCENTILE_COLUMNS = [f"p{p}" for p in PERCENTILES]
EXPECTED_COLUMNS = ["target", "session", "n", *PERCENTILE_COLUMNS]
BELOW_COLUMNS = ["family", "member", "target", "session", "pomp", "p10", "below"]
BELOW_REASON_COLUMNS = ["family", "member", "target", "session", "previous_session", "pomp", "previous_pomp"]


def _own_totals(series: pd.DataFrame) -> pd.DataFrame:
    """The members' own ``total`` series points (informant ``self``), keys as text."""
    series = as_series(series)
    own = series[(series["informant"] == "self") & (series["dimension"] == "total")]
    return own.astype({"family": str, "member": str, "target": str})


def expected_trajectory(
    series: pd.DataFrame, sessions: int = EXPECTED_SESSIONS, minimum: int = EXPECTED_MINIMUM
) -> pd.DataFrame:
    """Section 10: per target and session number 1..``sessions``, how many points and their percentiles.

    One row for every target and session number (``n`` may be 0); the percentiles are empty where
    fewer than ``minimum`` points exist.
    """
    own = _own_totals(series)
    own = own[(own["session"] >= 1) & (own["session"] <= sessions)]
    grid = pd.MultiIndex.from_product([list(TARGETS), range(1, sessions + 1)], names=["target", "session"])
    grouped = own.groupby(["target", "session"])["pomp"]
    counts = grouped.size().reindex(grid, fill_value=0)
    out = pd.DataFrame({"n": counts.astype("int64")}, index=grid)
    for p, column in zip(PERCENTILES, PERCENTILE_COLUMNS, strict=True):
        # pandas' quantile interpolates linearly, as numpy's percentile does by default.
        values = grouped.quantile(p / 100).reindex(grid) if not own.empty else pd.Series(np.nan, index=grid)
        out[column] = values.astype("float64").where(out["n"] >= minimum)
    return out.reset_index()[EXPECTED_COLUMNS]


def below_expected(series: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Every member's own ``total`` point with the 10th percentile at its session, and whether it is under it.

    ``p10`` is empty (and ``below`` false) where the session number has no expected band.
    """
    own = _own_totals(series)
    if own.empty:
        return pd.DataFrame(columns=BELOW_COLUMNS)
    bands = expected[["target", "session", "p10"]].astype({"target": str, "session": "int64"})
    merged = own[["family", "member", "target", "session", "pomp"]].astype({"session": "int64"})
    merged = merged.merge(bands, on=["target", "session"], how="left")
    with np.errstate(invalid="ignore"):
        merged["below"] = (merged["pomp"].to_numpy() < merged["p10"].to_numpy(dtype="float64") - EPS).astype(bool)
    return merged[BELOW_COLUMNS].sort_values(["family", "member", "target", "session"], ignore_index=True)


def below_expected_reasons(
    series: pd.DataFrame, expected: pd.DataFrame, latest: pd.Series, recent: int
) -> pd.DataFrame:
    """Members whose two latest own ``total`` points (per target) are both below expected.

    Only where the latest of the two is in the family's last ``recent`` sessions (``latest``: per
    family code, its latest scored session), as the concern ranking reads ruptures.
    """
    points = below_expected(series, expected)
    if points.empty:
        return pd.DataFrame(columns=BELOW_REASON_COLUMNS)
    last_two = points.groupby(["family", "member", "target"], sort=False).tail(2)
    key = ["family", "member", "target"]
    pairs = last_two.groupby(key, sort=False).agg(
        points=("session", "size"),
        below=("below", "all"),
        session=("session", "last"),
        previous_session=("session", "first"),
        pomp=("pomp", "last"),
        previous_pomp=("pomp", "first"),
    )
    pairs = pairs[(pairs["points"] == 2) & pairs["below"]].reset_index()
    newest = pairs["family"].map(latest).astype("float64").to_numpy()
    pairs = pairs[pairs["session"].to_numpy(dtype="float64") > newest - recent]
    return pairs[BELOW_REASON_COLUMNS].sort_values(key, ignore_index=True)
