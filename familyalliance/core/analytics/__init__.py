"""Alliance analytics: family metrics, the member's series, ruptures, flags, patterns (metrics.md sections 5 to 8).

Pure: DataFrames in, DataFrames out, no Flask and no database. The input is the scores
table of :func:`familyalliance.core.scoring.score_frame` (one row per form). Every measure is
computed with grouped pandas operations, never a Python loop over rows.

The package's modules, each importing only the ones above it:

- ``common``: ``Settings`` and ``DEFAULTS`` (the thresholds), ``EPS``, ``SCORE_DIMENSIONS``,
  ``SPLIT_LEVELS``, ``split_level``, ``with_categories``, ``long_scores``, ``role_group``;
- ``family``: the family metrics of section 5 (``family_metrics``, ``FAMILY_COLUMNS``);
- ``series``: the member's series and what is read from it, sections 6 to 8
  (``member_series``, ``perspective_gap``, ``ruptures``, ``low_alliance``, ``early_alliance``,
  ``SERIES_COLUMNS``, ``GAP_COLUMNS``, ``RUPTURE_COLUMNS``);
- ``patterns``: split patterns across perspectives (``split_patterns``);
- ``trajectory``: the expected trajectory of section 10 (``expected_trajectory``, ``below_expected``,
  ``below_expected_reasons``);
- ``profile``: the therapist's profile of section 11 (``profiles``, ``quarterly_profiles``, ``suppress``);
- ``analysis``: the one ``Analysis`` of a set of families (``analyse``) that the concern
  ranking (``concern``), the safety signal (``safety_signals``), the prompts and the charts read.

Callers import the names from here (``analytics.ruptures``), not from the modules, so that a
name can move between modules without touching them.
"""

from __future__ import annotations

from familyalliance.core.analytics.analysis import (
    CONCERN_COLUMNS,
    CONCERN_POINTS,
    FOLLOWUP_COLUMNS,
    RECENT_SESSIONS,
    SAFETY_COLUMNS,
    Analysis,
    analyse,
    concern,
    safety_signals,
)
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
from familyalliance.core.analytics.patterns import PATTERN_COLUMNS, PATTERNS, split_patterns
from familyalliance.core.analytics.profile import (
    GROUPS,
    MEASURES,
    PROFILE_COLUMNS,
    PROFILE_PERIOD_DAYS,
    PROFILE_TARGET,
    default_period,
    profiles,
    quarterly_profiles,
    quarters,
    suppress,
)
from familyalliance.core.analytics.series import (
    EARLY_COLUMNS,
    GAP_COLUMNS,
    RUPTURE_COLUMNS,
    RUPTURE_DETAIL,
    RUPTURE_KEY,
    SERIES_COLUMNS,
    SERIES_KEY,
    as_series,
    early_alliance,
    item_counts,
    low_alliance,
    member_series,
    perspective_gap,
    ruptures,
)
from familyalliance.core.analytics.trajectory import (
    BELOW_COLUMNS,
    BELOW_REASON_COLUMNS,
    EXPECTED_COLUMNS,
    EXPECTED_MINIMUM,
    EXPECTED_SESSIONS,
    PERCENTILE_COLUMNS,
    PERCENTILES,
    below_expected,
    below_expected_reasons,
    expected_trajectory,
)

__all__ = [
    "BELOW_COLUMNS",
    "BELOW_REASON_COLUMNS",
    "CATEGORICAL",
    "CONCERN_COLUMNS",
    "CONCERN_POINTS",
    "DEFAULTS",
    "EARLY_COLUMNS",
    "EPS",
    "EXPECTED_COLUMNS",
    "EXPECTED_MINIMUM",
    "EXPECTED_SESSIONS",
    "GROUPS",
    "MEASURES",
    "PERCENTILES",
    "PERCENTILE_COLUMNS",
    "PROFILE_COLUMNS",
    "PROFILE_PERIOD_DAYS",
    "PROFILE_TARGET",
    "FAMILY_COLUMNS",
    "FAMILY_KEY",
    "FOLLOWUP_COLUMNS",
    "GAP_COLUMNS",
    "PATTERNS",
    "PATTERN_COLUMNS",
    "RECENT_SESSIONS",
    "RUPTURE_COLUMNS",
    "RUPTURE_DETAIL",
    "RUPTURE_KEY",
    "SAFETY_COLUMNS",
    "SCORE_DIMENSIONS",
    "SERIES_COLUMNS",
    "SERIES_KEY",
    "SPLIT_LEVELS",
    "Analysis",
    "Settings",
    "analyse",
    "as_series",
    "below_expected",
    "below_expected_reasons",
    "default_period",
    "expected_trajectory",
    "concern",
    "early_alliance",
    "family_metrics",
    "item_counts",
    "long_scores",
    "low_alliance",
    "member_series",
    "perspective_gap",
    "profiles",
    "quarterly_profiles",
    "quarters",
    "role_group",
    "ruptures",
    "safety_signals",
    "split_level",
    "split_patterns",
    "suppress",
    "with_categories",
]
