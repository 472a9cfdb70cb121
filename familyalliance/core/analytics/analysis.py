"""One analysis per family (or caseload): the series, its ruptures and what every page reads.

:func:`analyse` computes the member's series (section 6), the ruptures on it (section 7) with the
therapist's follow-up beside each, the perspective gap (6a) and the early alliance (8) once; the
concern ranking of the caseload, the prompts, the chart marks, the tables and the safety signal
all read that one :class:`Analysis`, so a rupture has the same status wherever it appears.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from familyalliance.core.analytics.common import DEFAULTS, EPS, Settings, split_level
from familyalliance.core.analytics.patterns import split_patterns
from familyalliance.core.analytics.series import (
    RUPTURE_KEY,
    early_alliance,
    member_series,
    perspective_gap,
    ruptures,
)
from familyalliance.core.analytics.trajectory import below_expected_reasons
from familyalliance.core.instruments import Instrument
from familyalliance.core.vocab import YOUNG_ROLES

#: The therapist's follow-up of a rupture, as the store hands it in (one row per rupture key).
FOLLOWUP_COLUMNS = [*RUPTURE_KEY, "discussed_on", "note"]


@dataclass(frozen=True)
class Analysis:
    """What is computed once from a set of families' scores and read by every page.

    The perspective gap and the early alliance are computed when first read (then kept): the session
    page's safety signal needs neither.
    """

    series: pd.DataFrame
    #: Every rupture (``RUPTURE_COLUMNS`` and ``RUPTURE_DETAIL``) with ``discussed_on`` and ``note``.
    ruptures: pd.DataFrame
    #: Per family code, its latest scored session.
    latest: pd.Series
    #: The installation's expected trajectory (section 10, ``trajectory.EXPECTED_COLUMNS``); None: not known.
    expected: pd.DataFrame | None = None
    settings: Settings = DEFAULTS

    @cached_property
    def gaps(self) -> pd.DataFrame:
        """The perspective gap (section 6a) of every member's series."""
        return perspective_gap(self.series)

    @cached_property
    def early(self) -> pd.DataFrame:
        """The early alliance (section 8) of every member."""
        return early_alliance(self.series, self.settings)

    def recent_ruptures(self, informant: str = "self") -> pd.DataFrame:
        """Ruptures not repaired in each family's last ``RECENT_SESSIONS`` sessions (what concern and prompts raise)."""
        breaks = self.ruptures[self.ruptures["informant"] == informant]
        latest = breaks["family"].astype(str).map(self.latest).to_numpy(dtype="float64")
        recent = (breaks["session"].to_numpy(dtype="float64") > latest - RECENT_SESSIONS) & (
            breaks["status"] != "repaired"
        ).to_numpy()
        return breaks[recent]


def analyse(
    scores: pd.DataFrame,
    instruments: Mapping[str, Instrument] | None = None,
    settings: Settings = DEFAULTS,
    followups: pd.DataFrame | None = None,
    expected: pd.DataFrame | None = None,
) -> Analysis:
    """The analysis of ``scores`` (one row per form): series, ruptures with follow-ups, gaps, early alliance.

    ``expected``: the stored expected trajectory (section 10), for the ``below_expected`` reason.
    """
    series = member_series(scores, instruments)
    breaks = ruptures(series, settings)
    breaks = breaks.astype({c: str for c in ("family", "member", "informant", "target", "dimension")})
    if followups is not None and not followups.empty:
        notes = followups[FOLLOWUP_COLUMNS].astype({c: str for c in RUPTURE_KEY if c != "session"})
        notes = notes.astype({"session": "int64"})
        breaks = breaks.merge(notes, on=RUPTURE_KEY, how="left")
    else:
        breaks = breaks.assign(discussed_on=None, note=None)
    breaks["discussed_on"] = breaks["discussed_on"].astype(object).where(breaks["discussed_on"].notna(), None)
    breaks["note"] = breaks["note"].astype(object).where(breaks["note"].notna(), None)
    latest = (
        series.groupby("family", observed=True)["session"].max()
        if not series.empty
        else pd.Series(dtype="int64", name="session")
    )
    latest.index = latest.index.astype(str)
    return Analysis(
        series=series,
        ruptures=breaks,
        latest=latest.rename("latest_session"),
        expected=expected,
        settings=settings,
    )


# --- Concern ranking ------------------------------------------------------------------------------

#: Points per reason in the concern score (docs/metrics.md explains them).
CONCERN_POINTS = {
    "split_severe": 3,
    "split_moderate": 2,
    "rupture_unrepaired": 2,
    "rupture_open": 1,
    "low_early": 2,
    "low_early_team": 2,
    "gap_widening": 2,
    "gap_large": 1,
    "below_expected": 2,
}
#: Ruptures count for the concern score (and the prompts) when they happened in this many latest sessions.
RECENT_SESSIONS = 6
CONCERN_COLUMNS = ["family", "concern", "latest_session", "reasons"]


def concern(analysis: Analysis, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """An explainable concern score per family, from its latest sessions; highest concern first.

    Each family gets a list of reasons (dicts with ``kind``, ``points`` and the facts
    behind it); the score is the sum of their points:

    - the members' own views are split at the latest session: severe 3, moderate 2;
    - each member's rupture in the last ``RECENT_SESSIONS`` sessions: unrepaired 2, open 1
      (with ``discussed_on`` once the therapist marked it as discussed);
    - each member whose early alliance (with the therapist, or with the team) is low: 2;
    - the family's view differs from the therapist's by at least the gap threshold at the
      latest session: 2 when wider than at the family's session before, else 1;
    - each member whose two latest own total points (per target) are below expected (section 10),
      the latest in the last ``RECENT_SESSIONS`` sessions: 2.
    """
    series, latest = analysis.series, analysis.latest
    if series.empty:
        return pd.DataFrame(columns=CONCERN_COLUMNS)
    reasons: list[pd.DataFrame] = []

    # Splits and gaps are read at the latest session and the one before it only.
    recent_two = _latest_sessions(series[series["target"] == "therapist"], 2)
    patterns = split_patterns(recent_two, settings)
    if not patterns.empty:
        patterns = patterns.assign(family=patterns["family"].astype(str))
        at_latest = patterns.merge(latest, left_on="family", right_index=True)
        at_latest = at_latest[at_latest["session"] == at_latest["latest_session"]].copy()
        level = split_level(at_latest["widest_range_pomp"], pd.Series(2, index=at_latest.index), settings)
        at_latest["kind"] = "split_" + level
        split = at_latest[at_latest["kind"].isin(["split_severe", "split_moderate"])]
        reasons.append(
            split.assign(
                dimension=split["widest_dimension"],
                size=split["widest_range_pomp"],
                member=split["lowest_member"],
                other_member=split["highest_member"],
            )[["family", "kind", "session", "dimension", "size", "member", "other_member"]]
        )

        gap = patterns.dropna(subset=["family_therapist_gap"]).sort_values(["family", "session"])
        gap = gap.assign(previous=gap.groupby("family")["family_therapist_gap"].shift(1))
        gap = gap.merge(latest, left_on="family", right_index=True)
        gap = gap[(gap["session"] == gap["latest_session"]) & gap["family_therapist_split"]]
        widening = gap["previous"].notna() & (gap["family_therapist_gap"].abs() > gap["previous"].abs())
        reasons.append(
            gap.assign(
                kind=np.where(widening, "gap_widening", "gap_large"),
                dimension=gap["family_therapist_dimension"],
                size=gap["family_therapist_gap"],
                previous_size=gap["previous"],
            )[["family", "kind", "session", "dimension", "size", "previous_size"]]
        )

    recent = analysis.recent_ruptures()
    if not recent.empty:
        # One reason per member and session: the largest drop names the dimension.
        recent = recent.sort_values(["family", "member", "session", "drop_pomp"], ascending=[True, True, True, False])
        recent = recent.drop_duplicates(["family", "member", "session"])
        discussed = recent["discussed_on"].map(lambda d: d.isoformat() if isinstance(d, dt.date) else None)
        reasons.append(
            recent.assign(kind="rupture_" + recent["status"], size=recent["drop_pomp"], discussed_on=discussed)[
                ["family", "kind", "session", "dimension", "size", "member", "target", "discussed_on"]
            ]
        )

    early = analysis.early
    low = early[(early["informant"] == "self") & early["low"]]
    reasons.append(
        low.assign(
            kind=np.where(low["target"] == "team", "low_early_team", "low_early"),
            dimension="total",
            size=low["early_total_pomp"],
            sessions=low["sessions"],
        )[["family", "kind", "dimension", "size", "member", "sessions", "target"]]
    )

    if analysis.expected is not None:
        below = below_expected_reasons(series, analysis.expected, latest, RECENT_SESSIONS)
        reasons.append(
            below.assign(
                kind="below_expected",
                dimension="total",
                size=below["pomp"],
                previous_size=below["previous_pomp"],
            )[
                [
                    "family",
                    "kind",
                    "session",
                    "previous_session",
                    "dimension",
                    "size",
                    "previous_size",
                    "member",
                    "target",
                ]
            ]
        )

    present = [r.astype({"family": str}) for r in reasons if not r.empty]
    table = pd.concat(present, ignore_index=True) if present else pd.DataFrame(columns=["family", "kind"])
    table["points"] = table["kind"].map(CONCERN_POINTS).astype("int64")
    table = table.sort_values(["family", "points", "kind"], ascending=[True, False, True], kind="stable")
    records: dict[str, list[dict]] = {}
    for record in table.to_dict("records"):
        records.setdefault(record["family"], []).append(_reason(record))
    out = latest.reset_index()
    out.columns = ["family", "latest_session"]
    out["reasons"] = [records.get(family, []) for family in out["family"]]
    out["concern"] = out["reasons"].map(lambda rs: sum(r["points"] for r in rs))
    out = out.sort_values(["concern", "family"], ascending=[False, True], kind="stable", ignore_index=True)
    return out[CONCERN_COLUMNS]


def _latest_sessions(frame: pd.DataFrame, count: int) -> pd.DataFrame:
    """The rows of each family's ``count`` latest sessions (by session number)."""
    sessions = frame[["family", "session"]].drop_duplicates().sort_values(["family", "session"], ascending=False)
    cutoff = sessions.groupby("family", sort=False, observed=True).nth(count - 1).set_index("family")["session"]
    threshold = frame["family"].map(cutoff).astype("float64").fillna(-np.inf).to_numpy()
    return frame[frame["session"].to_numpy() >= threshold]


def _reason(record: dict) -> dict:
    """A reason as plain values: no family key, no missing values, session numbers as integers."""
    reason = {}
    for key, value in record.items():
        if key == "family" or value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            continue
        reason[key] = int(value) if key in ("session", "previous_session", "sessions", "points") else value
    return reason


# --- Safety signal --------------------------------------------------------------------------------

SAFETY_COLUMNS = ["family", "member", "role", "target", "session", "kind", "pomp", "drop_pomp"]


def safety_signals(analysis: Analysis, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Where the therapist should think of the organisation's safeguarding protocol.

    - ``low_safety``: a member's latest own ``safety`` point (per target) is at or below
      ``safety_threshold``;
    - ``young_safety_rupture``: a young member's ``safety`` fell by a rupture (their own series)
      that is not repaired, in the family's last ``RECENT_SESSIONS`` sessions.

    A prompt for the therapist, never shown to family members.
    """
    series = analysis.series
    own = series[(series["informant"] == "self") & (series["dimension"] == "safety")]
    if own.empty:
        return pd.DataFrame(columns=SAFETY_COLUMNS)
    last = own.sort_values("session", kind="stable").groupby(["family", "member", "target"], observed=True).tail(1)
    low = last[last["pomp"] <= settings.safety_threshold + EPS].assign(kind="low_safety", drop_pomp=np.nan)
    roles = own.drop_duplicates(["family", "member"]).astype({"family": str, "member": str})
    roles = roles.set_index(["family", "member"])["role"].astype(object)
    breaks = analysis.recent_ruptures()
    breaks = breaks[breaks["dimension"] == "safety"]
    role = pd.Series(
        [roles.get((f, m)) for f, m in zip(breaks["family"], breaks["member"], strict=True)],
        index=breaks.index,
        dtype=object,
    )
    is_young = role.isin(YOUNG_ROLES)
    young = breaks[is_young].assign(role=role[is_young].to_numpy(), kind="young_safety_rupture")
    out = pd.concat([low.astype({c: str for c in ("family", "member", "role", "target")}), young], ignore_index=True)
    return out[SAFETY_COLUMNS].sort_values(["family", "member", "session", "kind"], kind="stable", ignore_index=True)
