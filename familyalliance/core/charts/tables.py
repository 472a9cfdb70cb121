"""The tables behind the family dashboard, the caseload sparklines and the session report.

Pure: the member's series and the rupture table of :func:`familyalliance.core.analytics.analyse`
in, tidy DataFrames out, ready for :mod:`familyalliance.core.charts.builders` and for the text
alternatives (tables) beside each chart. No Flask, no database, no Altair.

A member's line is their series (metrics.md section 6): per session, the instrument with the
most items for the dimension, so quick checks and full questionnaires sit on one POMP line, and
the rupture marks sit on its points. The family's range and balance per session are taken over
those same points, the members' own view of the alliance with the chosen target.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from familyalliance.core import analytics
from familyalliance.core.analytics import DEFAULTS, EPS, SCORE_DIMENSIONS, Settings
from familyalliance.core.catalog import N_, translations
from familyalliance.core.codebook import DIMENSION_NAMES

LINE_COLUMNS = ["member", "session", "dimension", "pomp"]
BAND_COLUMNS = ["session", "dimension", "n", "low", "high", "range", "split"]
MARK_COLUMNS = ["member", "session", "dimension", "pomp", "kind"]
VIEW_COLUMNS = ["member", "dimension", "view", "pomp"]
BALANCE_COLUMNS = ["family", "session", "balance"]
FAMILY_BALANCE_COLUMNS = ["session", "dimension", "balance", "n", "split"]
GAP_LINE_COLUMNS = ["member", "session", "dimension", "gap", "self_pomp", "therapist_pomp"]


def member_lines(series: pd.DataFrame, target: str = "therapist") -> pd.DataFrame:
    """Each member's own series per session and dimension (the four and ``total``), about ``target``."""
    series = analytics.as_series(series)
    own = series[(series["informant"] == "self") & (series["target"] == target)]
    if own.empty:
        return pd.DataFrame(columns=LINE_COLUMNS)
    out = own[LINE_COLUMNS].astype({"member": str, "dimension": str})
    return out.sort_values(["dimension", "member", "session"], ignore_index=True)


def family_band(lines: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Per session and dimension, the lowest and highest member and whether that range is a split."""
    if lines.empty:
        return pd.DataFrame(columns=BAND_COLUMNS)
    band = lines.groupby(["session", "dimension"], sort=True).agg(
        n=("pomp", "size"), low=("pomp", "min"), high=("pomp", "max")
    )
    band["range"] = band["high"] - band["low"]
    band["split"] = (band["n"] >= 2) & (band["range"] >= settings.split_threshold - EPS)
    return band.reset_index()[BAND_COLUMNS]


def family_balance(band: pd.DataFrame) -> pd.DataFrame:
    """The family's balance (100 minus the range between members) per session and dimension, from two members."""
    rows = band[band["n"] >= 2]
    out = rows.assign(balance=100 - rows["range"])[FAMILY_BALANCE_COLUMNS]
    return out.sort_values(["dimension", "session"], ignore_index=True)


def gap_lines(gaps: pd.DataFrame, target: str = "therapist") -> pd.DataFrame:
    """Per member, session and dimension: own view minus the therapist's (metrics.md section 6a)."""
    rows = gaps[gaps["target"] == target]
    if rows.empty:
        return pd.DataFrame(columns=GAP_LINE_COLUMNS)
    out = rows[GAP_LINE_COLUMNS].astype({"member": str, "dimension": str})
    return out.sort_values(["dimension", "member", "session"], ignore_index=True)


def rupture_marks(breaks: pd.DataFrame, target: str = "therapist") -> pd.DataFrame:
    """Where each member's ruptures (own view) happened and where they were repaired, on the member's line.

    Reads the rupture table of ``analytics.analyse`` (its points are the series' points).
    """
    own = breaks[(breaks["informant"] == "self") & (breaks["target"] == target)]
    if own.empty:
        return pd.DataFrame(columns=MARK_COLUMNS)
    own = own.astype({"member": str, "dimension": str})
    drops = own.assign(kind="rupture_" + own["status"])
    repaired = own.dropna(subset=["repaired_session"])
    repairs = repaired.assign(
        session=repaired["repaired_session"].astype("int64"), pomp=repaired["repaired_pomp"], kind="repair"
    )
    out = pd.concat([drops[MARK_COLUMNS], repairs[MARK_COLUMNS]], ignore_index=True)
    return out.drop_duplicates(["member", "session", "dimension", "kind"]).sort_values(
        ["dimension", "member", "session"], ignore_index=True
    )


def session_views(series: pd.DataFrame, session: int, target: str = "therapist") -> pd.DataFrame:
    """At one session, per member and dimension: the member's own view and the therapist's view of them."""
    series = analytics.as_series(series)
    rows = series[(series["session"] == session) & (series["target"] == target)]
    if rows.empty:
        return pd.DataFrame(columns=VIEW_COLUMNS)
    out = rows.assign(view=np.where(rows["informant"] == "self", "member", "therapist"))[VIEW_COLUMNS]
    return out.astype({"member": str, "dimension": str}).sort_values(["dimension", "member", "view"], ignore_index=True)


def balance_series(series: pd.DataFrame, last: int = 10, target: str = "therapist") -> pd.DataFrame:
    """Per family, the balance (100 minus the members' total POMP range) over its ``last`` rated sessions.

    A session counts when at least two members have a point on their total series.
    """
    series = analytics.as_series(series)
    own = series[(series["informant"] == "self") & (series["target"] == target) & (series["dimension"] == "total")]
    if own.empty:
        return pd.DataFrame(columns=BALANCE_COLUMNS)
    per = own.groupby(["family", "session"], observed=True)["pomp"].agg(["size", "min", "max"]).reset_index()
    per = per[per["size"] >= 2]
    per["balance"] = 100 - (per["max"] - per["min"])
    per = per.sort_values(["family", "session"])
    per = per.groupby("family", observed=True, sort=False).tail(last)
    return per.assign(family=per["family"].astype(str))[BALANCE_COLUMNS].reset_index(drop=True)


def heat_table(lines: pd.DataFrame, dimension: str = "total") -> pd.DataFrame:
    """Members as rows, sessions as columns: one dimension's POMP (the text alternative of the heat map)."""
    rows = lines[lines["dimension"] == dimension]
    if rows.empty:
        return pd.DataFrame()
    return rows.pivot_table(index="member", columns="session", values="pomp", aggfunc="first")


def labelled(frame: pd.DataFrame, names: Mapping[str, str], dimension_labels: Mapping[str, str]) -> pd.DataFrame:
    """The frame with ``label`` (the member's name) and ``dimension_label`` columns for charts and tables."""
    out = frame.copy()
    if "member" in out.columns:
        out["label"] = out["member"].map(lambda code: names.get(code, code))
    if "dimension" in out.columns:
        out["dimension_label"] = out["dimension"].map(lambda d: dimension_labels.get(d, d))
    return out


def dimension_order() -> list[str]:
    """The four dimensions, then the total."""
    return list(SCORE_DIMENSIONS)


def chart_texts(language: str, settings: Settings = DEFAULTS) -> dict[str, str]:
    """Every text the chart builders show, in ``language``."""
    gettext = translations(language).gettext
    threshold = f"{settings.split_threshold:g}"
    texts = {
        "lines_title": gettext(N_("Each member's alliance per dimension")),
        "heat_title": gettext(N_("Members by sessions")),
        "views_title": gettext(N_("Members and therapist at session %(session)s")),
        "session": gettext(N_("Session")),
        "pomp": gettext(N_("Score (0-100)")),
        "range": gettext(N_("Range between members")),
        "split": gettext(N_("split")),
        "balanced": gettext(N_("balanced")),
        "band_note": gettext(
            N_(
                "Grey band: range between members. Orange bar: a split (%(threshold)s points or more). "
                "▼ rupture, ▲ repair."
            )
        )
        % {"threshold": threshold},
        "member": gettext(N_("Member")),
        "events": gettext(N_("Marked")),
        "rupture": gettext(N_("rupture")),
        "repair": gettext(N_("repair")),
        "choose": gettext(N_("Dimension")) + " ",
        "own": gettext(N_("member's own view")),
        "therapist": gettext(N_("therapist's view")),
        "view": gettext(N_("View")),
        "dimension": gettext(N_("Dimension")),
        "balance_title": gettext(N_("Balance between the members over the sessions")),
        "balance_note": gettext(
            N_(
                "Balance is 100 minus the range between the members. Below the dashed line (%(line)s) "
                "the family is split."
            )
        )
        % {"line": f"{100 - settings.split_threshold:g}"},
        "balance": gettext(N_("Balance (0-100)")),
        "gap_title": gettext(N_("The members' view against the therapist's over the sessions")),
        "gap_note": gettext(
            N_(
                "Above zero the member rates the alliance higher than the therapist does, below zero lower. "
                "Beyond the dashed lines (%(threshold)s points) the difference is worth a conversation."
            )
        )
        % {"threshold": f"{settings.gap_threshold:g}"},
        "gap": gettext(N_("Member minus therapist (points)")),
        "lines_alt": gettext(N_("Line chart of each member's alliance per dimension; the values are in the tables.")),
        "heat_alt": gettext(N_("Heat map of the members' scores per session; the values are in the tables.")),
        "views_alt": gettext(
            N_("Dot chart of each member's own view and the therapist's view; the values are in the table.")
        ),
        "balance_alt": gettext(N_("Line chart of the family's balance per dimension; the values are in the table.")),
        "gap_alt": gettext(
            N_(
                "Line chart of the difference between each member's view and the therapist's; "
                "the values are in the table."
            )
        ),
    }
    texts.update({f"dim_{d}": gettext(DIMENSION_NAMES[d]) for d in SCORE_DIMENSIONS})
    return texts


#: The expected band of the total's panel (metrics.md section 10).
EXPECTED_BAND_COLUMNS = ["session", "dimension", "n", "p10", "p25", "p50", "p75", "p90"]


def expected_band(expected: pd.DataFrame | None, target: str, sessions: list[int]) -> tuple[pd.DataFrame, list[int]]:
    """The stored expected trajectory at the family's session numbers (``sessions``), for the total's panel,
    and the session numbers up to ``analytics.EXPECTED_SESSIONS`` without a band (fewer than 30 points there).

    Rows without a band keep empty percentiles, so the band breaks there instead of bridging the gap.
    """
    if expected is None or expected.empty or not sessions:
        return pd.DataFrame(columns=EXPECTED_BAND_COLUMNS), []
    low, high = min(sessions), max(sessions)
    rows = expected[(expected["target"] == target) & expected["session"].between(low, high)]
    rows = rows.astype({"session": "int64"}).assign(dimension="total")
    hidden = sorted(int(s) for s in rows.loc[rows["p10"].isna(), "session"] if int(s) in set(sessions))
    if rows["p10"].notna().sum() == 0:
        return pd.DataFrame(columns=EXPECTED_BAND_COLUMNS), hidden
    return rows[EXPECTED_BAND_COLUMNS].sort_values("session", ignore_index=True), hidden
