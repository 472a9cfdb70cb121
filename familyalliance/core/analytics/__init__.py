"""Alliance analytics: family metrics, perspective gaps, ruptures and flags (metrics.md sections 5 to 8).

Pure: DataFrames in, DataFrames out, no Flask and no database. The input is the scores
table of :func:`familyalliance.scoring.score_frame` (one row per form). Every measure is
computed with grouped pandas operations, never a Python loop over rows.

Comparisons with a threshold allow ``EPS`` for floating-point rounding, so that a difference
that is exactly 25 POMP in real numbers (1 point on a 1..5 scale, 1/3 point pairs included)
counts as 25.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from familyalliance.core.instruments import Instrument
from familyalliance.core.vocab import CAREGIVER_ROLES, DIMENSIONS, YOUNG_ROLES

EPS = 1e-9
#: The four dimensions and the total, in export order (also their alphabetical order).
SCORE_DIMENSIONS = (*DIMENSIONS, "total")

#: Which instrument speaks for a member at a session when several were filled in (metrics.md section 6).
SELF_PREFERENCE = ("alliance16", "check4")
THERAPIST_PREFERENCE = ("observer4",)

FAMILY_KEY = ["family", "session", "informant", "target", "instrument", "dimension"]
FAMILY_COLUMNS = [
    "family",
    "session",
    "date",
    "informant",
    "target",
    "instrument",
    "dimension",
    "n",
    "mean",
    "sd",
    "min",
    "max",
    "range",
    "range_pomp",
    "balance",
    "split",
    "split_level",
    "lowest_member",
    "caregiver_mean_pomp",
    "young_mean_pomp",
    "youth_caregiver_gap",
    "rwg",
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
SPLIT_LEVELS = ("none", "mild", "moderate", "severe")


@dataclass(frozen=True)
class Settings:
    """The thresholds of metrics.md, with its defaults; each is configurable per installation."""

    #: POMP range between members from which a dimension counts as split (mild from 1x, moderate 1.5x, severe 2x).
    split_threshold: float = 25.0
    #: POMP drop from the previous scored session that makes a rupture.
    rupture_drop: float = 20.0
    #: Later scored sessions in which a rupture can be repaired.
    repair_window: int = 3
    #: How close (POMP) to the pre-rupture score a repaired score must come back.
    repair_margin: float = 5.0
    #: POMP below which an alliance is low.
    low_alliance: float = 50.0
    #: Member-therapist POMP gap worth a conversation (metrics.md section 6).
    gap_threshold: float = 25.0
    #: Sessions that make the early alliance.
    early_sessions: int = 3

    def as_config(self) -> dict:
        """The settings as upper-case configuration keys."""
        return {f.name.upper(): getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_mapping(cls, config: Mapping) -> Settings:
        """Read settings from upper-case keys (``SPLIT_THRESHOLD``, ``RUPTURE_DROP``, ...) where present."""
        values = {f.name: config[f.name.upper()] for f in fields(cls) if f.name.upper() in config}
        return cls(**values)


#: The defaults of metrics.md.
DEFAULTS = Settings()


def split_level(range_pomp: pd.Series, n: pd.Series, settings: Settings) -> pd.Series:
    """``none``, ``mild``, ``moderate`` or ``severe`` by the POMP range (metrics.md section 5)."""
    t = settings.split_threshold
    r = range_pomp.to_numpy(dtype="float64")
    ok = n.to_numpy() >= 2
    level = np.select(
        [ok & (r >= 2 * t - EPS), ok & (r >= 1.5 * t - EPS), ok & (r >= t - EPS)],
        ["severe", "moderate", "mild"],
        default="none",
    )
    return pd.Series(level, index=range_pomp.index)


CATEGORICAL = ("family", "member", "role", "informant", "target", "instrument")


def with_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text keys as categoricals (categories sorted, so sorting stays alphabetical)."""
    frame = frame.copy()
    for column in CATEGORICAL:
        if column in frame.columns and not isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = pd.Categorical(frame[column])  # categories come out sorted
    return frame


def long_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per form and scored dimension (the four and ``total``): ``score`` and ``pomp``.

    Text keys become categoricals with their categories in sorted order, so grouping,
    sorting and de-duplicating work on integer codes while sorting stays alphabetical.
    """
    base = [
        c
        for c in ("family", "member", "role", "session", "date", "informant", "target", "instrument")
        if c in scores.columns
    ]
    if scores.empty:
        return pd.DataFrame(columns=[*base, "dimension", "score", "pomp"])
    keys = with_categories(scores[base])
    count = len(SCORE_DIMENSIONS)
    score = scores[list(SCORE_DIMENSIONS)].to_numpy(dtype="float64").ravel(order="F")
    pomp = scores[[f"{d}_pomp" for d in SCORE_DIMENSIONS]].to_numpy(dtype="float64").ravel(order="F")
    long = keys.iloc[np.tile(np.arange(len(keys)), count)].reset_index(drop=True)
    long["dimension"] = pd.Categorical.from_codes(np.repeat(np.arange(count), len(keys)), SCORE_DIMENSIONS)
    long["score"] = score
    long["pomp"] = pomp
    return long[~np.isnan(score)].reset_index(drop=True)


def _role_group(role: pd.Series) -> pd.Series:
    return pd.Series(
        np.select([role.isin(CAREGIVER_ROLES), role.isin(YOUNG_ROLES)], ["caregiver", "young"], default="other"),
        index=role.index,
    )


def family_metrics(
    scores: pd.DataFrame, instruments: Mapping[str, Instrument], settings: Settings = DEFAULTS
) -> pd.DataFrame:
    """Section 5: per family, session, informant, target, instrument and dimension, over the members scored."""
    long = long_scores(scores)
    if long.empty:
        return pd.DataFrame(columns=FAMILY_COLUMNS)
    # Lowest score first, and among equal scores the smallest member code, so "first" is the lowest member.
    long = long.sort_values(["score", "member"], kind="stable")
    group = _role_group(long["role"]) if "role" in long.columns else pd.Series("other", index=long.index)
    long["caregiver_pomp"] = long["pomp"].where(group == "caregiver")
    long["young_pomp"] = long["pomp"].where(group == "young")
    if "date" not in long.columns:
        long["date"] = np.nan
    out = long.groupby(FAMILY_KEY, sort=False).agg(
        date=("date", "first"),
        n=("score", "size"),
        mean=("score", "mean"),
        sd=("score", "std"),
        min=("score", "min"),
        max=("score", "max"),
        pomp_min=("pomp", "min"),
        pomp_max=("pomp", "max"),
        lowest_member=("member", "first"),
        caregiver_mean_pomp=("caregiver_pomp", "mean"),
        young_mean_pomp=("young_pomp", "mean"),
    )
    out["range"] = out["max"] - out["min"]
    out["range_pomp"] = out["pomp_max"] - out["pomp_min"]
    out["balance"] = 100 - out["range_pomp"]
    out["split"] = (out["n"] >= 2) & (out["range_pomp"] >= settings.split_threshold - EPS)
    out["split_level"] = split_level(out["range_pomp"], out["n"], settings)
    out["youth_caregiver_gap"] = out["caregiver_mean_pomp"] - out["young_mean_pomp"]
    points = out.index.get_level_values("instrument").map(lambda code: instruments[code].scale_points)
    sigma2 = (np.asarray(points, dtype="float64") ** 2 - 1) / 12
    out["rwg"] = (1 - out["sd"] ** 2 / sigma2).clip(0, 1)
    out = out.reset_index()
    return out[FAMILY_COLUMNS].sort_values(FAMILY_KEY, kind="stable", ignore_index=True)


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


# --- Split patterns across perspectives -------------------------------------------------------

PATTERNS = ("balanced", "split_members", "split_adult_young", "split_family_therapist", "split_both")
PATTERN_COLUMNS = [
    "family",
    "session",
    "target",
    "pattern",
    "member_split",
    "adult_young_split",
    "family_therapist_split",
    "widest_dimension",
    "widest_range_pomp",
    "lowest_member",
    "highest_member",
    "youth_caregiver_gap",
    "youth_caregiver_dimension",
    "family_therapist_gap",
    "family_therapist_dimension",
]


def _largest(frame: pd.DataFrame, key: list[str], column: str) -> pd.DataFrame:
    """Per key, the row with the largest absolute ``column`` (ties: first dimension in order)."""
    ranked = frame.assign(_abs=frame[column].abs()).sort_values(
        [*key, "_abs", "dimension"], ascending=[True] * len(key) + [False, True]
    )
    return ranked.drop_duplicates(key).set_index(key)


def split_patterns(scores: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """Per family, session and target, name the pattern of difference the literature distinguishes.

    Members' own views (alliance16, else check4) are compared on POMP, over the four
    dimensions and the total:

    - ``split_members``: two members differ by at least the split threshold on some dimension;
    - ``split_adult_young``: the caregivers' and the young members' mean differ by at least it
      (the "unbalanced alliance"; it implies a member split);
    - ``split_family_therapist``: the members' mean differs from the therapist's view of them
      (observer4) by at least it, with the members not split among themselves;
    - ``split_both``: family and therapist differ and the members are split too;
    - ``balanced``: none of these.
    """
    totals = member_session_totals(scores)
    if totals.empty:
        return pd.DataFrame(columns=PATTERN_COLUMNS)
    own = totals[totals["informant"] == "self"].copy()
    key = ["family", "session", "target"]
    dim_key = [*key, "dimension"]
    t = settings.split_threshold - EPS

    ordered = own.sort_values([*dim_key, "pomp", "member"], kind="stable")
    group = _role_group(ordered["role"]) if "role" in ordered.columns else pd.Series("other", index=ordered.index)
    ordered["caregiver"] = ordered["pomp"].where(group == "caregiver")
    ordered["young"] = ordered["pomp"].where(group == "young")
    spread = (
        ordered.groupby(dim_key, sort=False)
        .agg(
            n=("pomp", "size"),
            low=("pomp", "first"),
            high=("pomp", "last"),
            lowest_member=("member", "first"),
            highest_member=("member", "last"),
            caregiver=("caregiver", "mean"),
            young=("young", "mean"),
        )
        .reset_index()
    )
    spread["range"] = spread["high"] - spread["low"]
    spread.loc[spread["n"] < 2, "range"] = 0.0
    widest = _largest(spread, key, "range")
    generations = spread.assign(gap=spread["caregiver"] - spread["young"]).dropna(subset=["gap"])
    generation = _largest(generations, key, "gap")

    gaps = perspective_gap(scores)
    family_view = gaps.groupby(dim_key)["gap"].mean().rename("gap").reset_index()
    perspective = _largest(family_view, key, "gap")

    out = pd.DataFrame(index=widest.index.union(perspective.index))
    out["widest_dimension"] = widest["dimension"]
    out["widest_range_pomp"] = widest["range"]
    out["lowest_member"] = widest["lowest_member"]
    out["highest_member"] = widest["highest_member"]
    out["youth_caregiver_gap"] = generation["gap"]
    out["youth_caregiver_dimension"] = generation["dimension"]
    out["family_therapist_gap"] = perspective["gap"]
    out["family_therapist_dimension"] = perspective["dimension"]
    out["member_split"] = out["widest_range_pomp"].fillna(0).to_numpy() >= t
    out["adult_young_split"] = out["youth_caregiver_gap"].abs().fillna(0).to_numpy() >= t
    out["family_therapist_split"] = out["family_therapist_gap"].abs().fillna(0).to_numpy() >= t
    ft, members, generational = out["family_therapist_split"], out["member_split"], out["adult_young_split"]
    out["pattern"] = np.select(
        [ft & members, ft, generational, members],
        ["split_both", "split_family_therapist", "split_adult_young", "split_members"],
        default="balanced",
    )
    out = out.reset_index()
    return out[PATTERN_COLUMNS].sort_values(key, kind="stable", ignore_index=True)


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
}
#: Ruptures count for the concern score when they happened in this many latest sessions.
RECENT_SESSIONS = 6
CONCERN_COLUMNS = ["family", "concern", "latest_session", "reasons"]


def concern(scores: pd.DataFrame, settings: Settings = DEFAULTS) -> pd.DataFrame:
    """An explainable concern score per family, from its latest sessions; highest concern first.

    Each family gets a list of reasons (dicts with ``kind``, ``points`` and the facts
    behind it); the score is the sum of their points:

    - the members' own views are split at the latest session: severe 3, moderate 2;
    - each member's rupture in the last ``RECENT_SESSIONS`` sessions: unrepaired 2, open 1;
    - each member whose early alliance (with the therapist, or with the team) is low: 2;
    - the family's view differs from the therapist's by at least the gap threshold at the
      latest session: 2 when wider than at the family's session before, else 1.
    """
    if scores.empty:
        return pd.DataFrame(columns=CONCERN_COLUMNS)
    scores = with_categories(scores)
    latest = scores.groupby("family")["session"].max().rename("latest_session")
    reasons: list[pd.DataFrame] = []

    # Splits and gaps are read at the latest session and the one before it only.
    recent_two = _latest_sessions(scores[scores["target"] == "therapist"], 2)
    patterns = split_patterns(recent_two, settings)
    if not patterns.empty:
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

    breaks = ruptures(scores[scores["informant"] == "self"], settings)
    if not breaks.empty:
        breaks = breaks.merge(latest, left_on="family", right_index=True)
        recent = breaks[
            (breaks["session"] > breaks["latest_session"] - RECENT_SESSIONS)
            & breaks["status"].isin(["unrepaired", "open"])
        ]
        # One reason per member and session: the largest drop names the dimension.
        recent = recent.sort_values(["family", "member", "session", "drop_pomp"], ascending=[True, True, True, False])
        recent = recent.drop_duplicates(["family", "member", "session"])
        reasons.append(
            recent.assign(kind="rupture_" + recent["status"], size=recent["drop_pomp"])[
                ["family", "kind", "session", "dimension", "size", "member", "target"]
            ]
        )

    early = early_alliance(scores, settings)
    low = early[(early["informant"] == "self") & early["low"]]
    reasons.append(
        low.assign(
            kind=np.where(low["target"] == "team", "low_early_team", "low_early"),
            dimension="total",
            size=low["early_total_pomp"],
            sessions=low["sessions"],
        )[["family", "kind", "dimension", "size", "member", "sessions", "target"]]
    )

    table = (
        pd.concat([r for r in reasons if not r.empty], ignore_index=True)
        if any(not r.empty for r in reasons)
        else pd.DataFrame(columns=["family", "kind"])
    )
    table["points"] = table["kind"].map(CONCERN_POINTS).astype("int64")
    table = table.sort_values(["family", "points", "kind"], ascending=[True, False, True], kind="stable")
    records: dict[str, list[dict]] = {}
    for record in table.to_dict("records"):
        records.setdefault(record["family"], []).append(_reason(record))
    out = latest.reset_index()
    out["family"] = out["family"].astype(str)
    out["reasons"] = [records.get(family, []) for family in out["family"]]
    out["concern"] = out["reasons"].map(lambda rs: sum(r["points"] for r in rs))
    out = out.sort_values(["concern", "family"], ascending=[False, True], kind="stable", ignore_index=True)
    return out[CONCERN_COLUMNS]


def _latest_sessions(scores: pd.DataFrame, count: int) -> pd.DataFrame:
    """The rows of each family's ``count`` latest sessions (by session number)."""
    sessions = scores[["family", "session"]].drop_duplicates().sort_values(["family", "session"], ascending=False)
    cutoff = sessions.groupby("family", sort=False).nth(count - 1).set_index("family")["session"]
    threshold = scores["family"].map(cutoff).fillna(-np.inf).to_numpy()
    return scores[scores["session"].to_numpy() >= threshold]


def _reason(record: dict) -> dict:
    """A reason as plain values: no family key, no missing values, session numbers as integers."""
    reason = {}
    for key, value in record.items():
        if key == "family" or value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            continue
        reason[key] = int(value) if key in ("session", "sessions", "points") else value
    return reason
