"""Alliance analytics: family metrics, the member's series, ruptures, flags, patterns (metrics.md sections 5 to 8).

Pure: DataFrames in, DataFrames out, no Flask and no database. The input is the scores
table of :func:`familyalliance.core.scoring.score_frame` (one row per form). Every measure is
computed with grouped pandas operations, never a Python loop over rows.

The package's modules, each importing only the ones above it:

- ``common``: ``Settings`` and ``DEFAULTS`` (the thresholds), ``EPS``, ``SCORE_DIMENSIONS``,
  ``SPLIT_LEVELS``, ``split_level``, ``with_categories``, ``long_scores``, ``role_group``;
- ``family``: the family metrics of section 5 (``family_metrics``, ``FAMILY_COLUMNS``);
- ``series``: the member's series and what is read from it, sections 6 to 8
  (``member_session_totals``, ``perspective_gap``, ``ruptures``, ``low_alliance``,
  ``early_alliance``, ``GAP_COLUMNS``, ``RUPTURE_COLUMNS``);
- ``patterns``: split patterns across perspectives and the concern ranking
  (``split_patterns``, ``concern``, ``CONCERN_POINTS``, ``RECENT_SESSIONS``).

Callers import the names from here (``analytics.ruptures``), not from the modules, so that a
name can move between modules without touching them.
"""

from __future__ import annotations

from familyalliance.core.analytics.common import (
    CATEGORICAL,
    DEFAULTS,
    EPS,
    SCORE_DIMENSIONS,
    SPLIT_LEVELS,
    Settings,
    long_scores,
    role_group,
    split_level,
    with_categories,
)
from familyalliance.core.analytics.family import FAMILY_COLUMNS, FAMILY_KEY, family_metrics
from familyalliance.core.analytics.patterns import (
    CONCERN_COLUMNS,
    CONCERN_POINTS,
    PATTERN_COLUMNS,
    PATTERNS,
    RECENT_SESSIONS,
    concern,
    split_patterns,
)
from familyalliance.core.analytics.series import (
    GAP_COLUMNS,
    RUPTURE_COLUMNS,
    SELF_PREFERENCE,
    SERIES_KEY,
    THERAPIST_PREFERENCE,
    early_alliance,
    low_alliance,
    member_session_totals,
    perspective_gap,
    ruptures,
)

__all__ = [
    "CATEGORICAL",
    "CONCERN_COLUMNS",
    "CONCERN_POINTS",
    "DEFAULTS",
    "EPS",
    "FAMILY_COLUMNS",
    "FAMILY_KEY",
    "GAP_COLUMNS",
    "PATTERNS",
    "PATTERN_COLUMNS",
    "RECENT_SESSIONS",
    "RUPTURE_COLUMNS",
    "SCORE_DIMENSIONS",
    "SELF_PREFERENCE",
    "SERIES_KEY",
    "SPLIT_LEVELS",
    "THERAPIST_PREFERENCE",
    "Settings",
    "concern",
    "early_alliance",
    "family_metrics",
    "long_scores",
    "low_alliance",
    "member_session_totals",
    "perspective_gap",
    "role_group",
    "ruptures",
    "split_level",
    "split_patterns",
    "with_categories",
]
