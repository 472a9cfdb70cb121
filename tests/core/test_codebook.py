"""The codebook: a label in both languages, a level of measurement and an SPSS name for every exported column."""

from __future__ import annotations

from familyalliance.core import analytics, codebook, exports, research
from familyalliance.core.scoring import SCORES_EXPORT_COLUMNS
from familyalliance.core.validation import LONG_HEADER_WITH_MODE

EXPECTED_COLUMNS = {
    "long": LONG_HEADER_WITH_MODE,
    "scores": SCORES_EXPORT_COLUMNS,
    "family": analytics.FAMILY_COLUMNS,
    "ruptures": analytics.RUPTURE_COLUMNS,
    "research": research.RESEARCH_COLUMNS,
    "profiles": exports.PROFILE_EXPORT_COLUMNS,
}


def test_codebook_registry_covers_every_column():
    for columns in EXPECTED_COLUMNS.values():
        for variable in codebook.variables(columns, ["check4"]):
            assert variable.labelled("en") and variable.labelled("nl")
            assert variable.measure in ("nominal", "ordinal", "scale")
            assert exports.spss_name(variable.name) == variable.name
