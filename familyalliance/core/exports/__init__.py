"""Exports: the tables of metrics.md (long, scores, family, ruptures) and the research statistics as CSV, Excel, SPSS.

Building a table and writing it are separate:

- ``tables``: ``KINDS``, ``COLUMNS``, ``DESCRIPTIONS``, ``build`` (the long answers to one
  export table, pure pandas) and ``Pseudonymiser`` (opaque codes, dates shifted or dropped);
- ``writers``: ``FORMATS``, ``neutralise``, ``csv_text``, ``write_csv``, ``write_long_csv``,
  ``write_codebook_csv``, ``readme_rows``, ``write_xlsx``, ``spss_name``, ``write_sav`` and
  ``write``, which puts a table in a file with its codebook.

Callers import the names from here (``exports.build``), not from the modules.
"""

from __future__ import annotations

from familyalliance.core.exports.tables import COLUMNS, DESCRIPTIONS, KINDS, Pseudonymiser, build
from familyalliance.core.exports.writers import (
    FORMATS,
    RISKY,
    SPSS_RESERVED,
    csv_text,
    neutralise,
    readme_rows,
    spss_name,
    write,
    write_codebook_csv,
    write_csv,
    write_long_csv,
    write_sav,
    write_xlsx,
)

__all__ = [
    "COLUMNS",
    "DESCRIPTIONS",
    "FORMATS",
    "KINDS",
    "RISKY",
    "SPSS_RESERVED",
    "Pseudonymiser",
    "build",
    "csv_text",
    "neutralise",
    "readme_rows",
    "spss_name",
    "write",
    "write_codebook_csv",
    "write_csv",
    "write_long_csv",
    "write_sav",
    "write_xlsx",
]
