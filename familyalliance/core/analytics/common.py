"""Settings and the helpers every analytics module shares: thresholds, the long scores table, split levels.

The input of all of analytics is the scores table of :func:`familyalliance.core.scoring.score_frame`
(one row per form); :func:`long_scores` turns it into one row per form and dimension, which the
family metrics, the member's series and the split patterns all group.

Comparisons with a threshold allow ``EPS`` for floating-point rounding, so that a difference
that is exactly 25 POMP in real numbers (1 point on a 1..5 scale, 1/3 point pairs included)
counts as 25.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from familyalliance.core.vocab import CAREGIVER_ROLES, DIMENSIONS, YOUNG_ROLES

EPS = 1e-9
#: The four dimensions and the total, in export order (also their alphabetical order).
SCORE_DIMENSIONS = (*DIMENSIONS, "total")
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
    #: POMP at or below which a member's own sense of safety raises the safety signal.
    safety_threshold: float = 30.0

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


def role_group(role: pd.Series) -> pd.Series:
    """``caregiver``, ``young`` or ``other`` for each role (metrics.md section 3)."""
    return pd.Series(
        np.select([role.isin(CAREGIVER_ROLES), role.isin(YOUNG_ROLES)], ["caregiver", "young"], default="other"),
        index=role.index,
    )
