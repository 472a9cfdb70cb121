"""The export tables built from the long answers table, their columns, and pseudonymisation.

``build`` turns the long answers into one of the export tables (``KINDS``; pure pandas): the
four tables of metrics.md with the columns and row order of the data contract, and ``research``,
the statistics of ``core.research`` over the selected families. ``Pseudonymiser`` replaces a
table's codes and dates for research, in the tables and in the exports for other systems
(``EXCHANGE_KINDS``) alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from familyalliance.core import analytics, research
from familyalliance.core.analytics import Settings
from familyalliance.core.instruments import Instrument
from familyalliance.core.scoring import SCORE_KEY, SCORES_EXPORT_COLUMNS, score_frame
from familyalliance.core.validation import LONG_HEADER_WITH_MODE, MODE

KINDS = ("long", "scores", "family", "ruptures", "research", "profiles")
#: The exports for other systems, each in the one format that system reads (``writers.KIND_FORMATS``):
#: the FHIR bundle of ``services.fhir``, REDCap's records and data dictionary (``exports.redcap``).
EXCHANGE_KINDS = ("fhir", "redcap")
ALL_KINDS = KINDS + EXCHANGE_KINDS
#: The therapist profiles (metrics.md section 11) per quarter, pseudonymised; no family, member or date.
PROFILE_EXPORT_COLUMNS = ["team", "therapist", "period", "group", *analytics.MEASURES, "suppressed"]
#: A profile cell set built from fewer families than this is suppressed (its measures left empty).
PROFILE_MINIMUM_FAMILIES = 5
COLUMNS = {
    "long": LONG_HEADER_WITH_MODE,
    "scores": SCORES_EXPORT_COLUMNS,
    "family": analytics.FAMILY_COLUMNS,
    "ruptures": analytics.RUPTURE_COLUMNS,
    "research": research.RESEARCH_COLUMNS,
    "profiles": PROFILE_EXPORT_COLUMNS,
}
DESCRIPTIONS = {
    "long": (
        "Every item answer (and unanswered item), one row each, with how its form was given (metrics.md section 3)."
    ),
    "scores": "Dimension, total and POMP scores per member, session, informant, target and instrument (section 4).",
    "family": "Family metrics per session, informant, target, instrument and dimension (section 5).",
    "ruptures": (
        "Ruptures and their repair status on each member's series across instruments, per informant, target "
        "and dimension (section 7)."
    ),
    "research": (
        "Cronbach's alpha per instrument, target and dimension, and ICC(1)/ICC(2) of members within "
        "families per informant, target, dimension and session; no family or member codes, no dates."
    ),
    "profiles": (
        "Therapist alliance profiles per calendar quarter and member group, beside each team's (section 11), "
        "with pseudonymised therapist and team codes; no family or member codes, no dates; profiles from fewer "
        f"than {PROFILE_MINIMUM_FAMILIES} families suppressed."
    ),
}


def build(
    kind: str, responses: pd.DataFrame, instruments: Mapping[str, Instrument], settings: Settings
) -> pd.DataFrame:
    """One of the export tables from the long answers table, columns and order as metrics.md says.

    ``long`` takes the answers' ``mode`` column when they have one (else every mode is unknown).
    """
    if kind == "long":
        order = ["family", "member", "session", "informant", "target", "instrument", "item"]
        if MODE not in responses.columns:
            responses = responses.assign(**{MODE: None})
        return responses[LONG_HEADER_WITH_MODE].sort_values(order, kind="stable", ignore_index=True)
    scores = score_frame(responses, instruments)
    if kind == "scores":
        return scores
    if kind == "family":
        return analytics.family_metrics(scores, instruments, settings)
    if kind == "ruptures":
        return analytics.ruptures(analytics.member_series(scores, instruments), settings)[analytics.RUPTURE_COLUMNS]
    if kind == "research":
        return research.research_table(responses, scores, instruments)
    if kind == "profiles":
        raise ValueError("the profiles export is built from the therapists' families (profile_table), not answers")
    raise ValueError(f"unknown export {kind!r}; choose one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class Pseudonymiser:
    """Stable opaque codes for families and members, keyed by the installation's secret.

    The same family gets the same code in every export of one installation; without the key
    the codes cannot be traced back. Dates are shifted by a per-family number of days
    (keeping the intervals between a family's sessions), or dropped.
    """

    key: bytes
    dates: str = "shift"  # or "drop"

    def _digest(self, *parts: str) -> bytes:
        """The keyed hash of ``parts``."""
        return hmac.new(self.key, "\x1f".join(parts).encode(), hashlib.sha256).digest()

    def family(self, code: str) -> str:
        """The opaque code of a family."""
        return "F" + self._digest("family", code).hex()[:12].upper()

    def member(self, family: str, code: str) -> str:
        """The opaque code of a member of ``family`` (its real code)."""
        return "M" + self._digest("member", family, code).hex()[:8].upper()

    def therapist(self, account: int) -> str:
        """The opaque code of a therapist's account (profiles export)."""
        return "T" + self._digest("therapist", str(account)).hex()[:8].upper()

    def team(self, team: int) -> str:
        """The opaque code of a team (profiles export)."""
        return "G" + self._digest("team", str(team)).hex()[:8].upper()

    def shift(self, family: str) -> dt.timedelta:
        """Between 365 days back and 365 days ahead, never zero."""
        days = int.from_bytes(self._digest("date", family)[:4], "big") % 730 - 365
        return dt.timedelta(days=days or 366)

    def apply(self, table: pd.DataFrame) -> pd.DataFrame:
        """The table with family, member (and lowest member) codes replaced and dates shifted or dropped."""
        out = table.copy()
        if "family" not in out.columns:
            # Statistics over families (the research table) name no family, member or date.
            return out
        families = out["family"].astype(str)
        for column in ("member", "lowest_member"):
            if column in out.columns:
                pairs = pd.Series(list(zip(families, out[column], strict=True)), index=out.index)
                codes = {pair: self.member(*pair) for pair in set(pairs) if not pd.isna(pair[1])}
                out[column] = pairs.map(codes)
        if "date" in out.columns:
            if self.dates == "drop":
                out["date"] = None
            else:
                shifts = {f: self.shift(f) for f in families.unique()}
                out["date"] = [
                    d + shifts[f] if d is not None and not pd.isna(d) else None
                    for d, f in zip(out["date"], families, strict=True)
                ]
        out["family"] = families.map({f: self.family(f) for f in families.unique()})
        keys = [c for c in ("family", "member", "session") if c in out.columns]
        rest = [c for c in _sort_keys(out) if c not in keys]
        return out.sort_values(keys + rest, kind="stable", ignore_index=True)


def _sort_keys(table: pd.DataFrame) -> list[str]:
    """The sort order of metrics.md section 9, for the columns the table has."""
    keys = ["family", "member", "session", *SCORE_KEY[3:], "dimension", "item"]
    return [c for c in dict.fromkeys(keys) if c in table.columns]


def profile_table(
    quarterly: pd.DataFrame, owners: Mapping[object, tuple[int | None, int | None]], pseudonymiser: Pseudonymiser
) -> pd.DataFrame:
    """The ``profiles`` export from ``analytics.quarterly_profiles``: each owner's rows with pseudonymised codes.

    ``owners`` maps each owner of the table to (therapist account id or None for a team's own profile, team id or
    None). Rows from fewer than ``PROFILE_MINIMUM_FAMILIES`` families are suppressed (``analytics.suppress``).
    """
    if quarterly.empty:
        return pd.DataFrame(columns=PROFILE_EXPORT_COLUMNS)
    out = analytics.suppress(quarterly, PROFILE_MINIMUM_FAMILIES)
    account = out["owner"].map(lambda o: owners[o][0])
    team = out["owner"].map(lambda o: owners[o][1])
    out["therapist"] = [pseudonymiser.therapist(int(a)) if a is not None and not pd.isna(a) else None for a in account]
    out["team"] = [pseudonymiser.team(int(t)) if t is not None and not pd.isna(t) else None for t in team]
    out = out[PROFILE_EXPORT_COLUMNS]
    order = {g: i for i, g in enumerate(analytics.GROUPS)}
    out = out.assign(_group=out["group"].map(order), _own=out["therapist"].isna())
    out = out.sort_values(["team", "_own", "therapist", "period", "_group"], kind="stable", na_position="first")
    return out.drop(columns=["_group", "_own"]).reset_index(drop=True)
