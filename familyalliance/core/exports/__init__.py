"""Exports: the tables of metrics.md and the research statistics as CSV, Excel, SPSS; REDCap's files for research.

Building a table and writing it are separate:

- ``tables``: ``KINDS``, ``EXCHANGE_KINDS`` (the exports for other systems: ``fhir``,
  ``redcap``), ``ALL_KINDS``, ``COLUMNS``, ``DESCRIPTIONS``, ``build`` (the long answers to one
  export table, pure pandas), ``Pseudonymiser`` (opaque codes, dates shifted or dropped) and
  ``profile_table`` with ``PROFILE_EXPORT_COLUMNS`` and ``PROFILE_MINIMUM_FAMILIES`` (the therapist
  profiles of metrics.md section 11, pseudonymised and suppressed below a number of families);
- ``writers``: ``FORMATS``, ``ALL_FORMATS``, ``KIND_FORMATS`` (the formats of each kind) and
  ``format_problem``, ``neutralise``, ``csv_text``, ``write_csv``, ``write_long_csv``,
  ``write_codebook_csv``, ``readme_rows``, ``write_xlsx``, ``spss_name``, ``write_sav`` and
  ``write``, which puts a table in a file with its codebook.

Callers import the names from here (``exports.build``), not from the modules. REDCap's files
have a module of their own, used by its name: ``from familyalliance.core.exports import redcap``.
"""

from __future__ import annotations

from familyalliance.core.exports.tables import (
    ALL_KINDS,
    COLUMNS,
    DESCRIPTIONS,
    EXCHANGE_KINDS,
    KINDS,
    PROFILE_EXPORT_COLUMNS,
    PROFILE_MINIMUM_FAMILIES,
    Pseudonymiser,
    build,
    profile_table,
)
from familyalliance.core.exports.writers import (
    ALL_FORMATS,
    FORMATS,
    KIND_FORMATS,
    RISKY,
    SPSS_RESERVED,
    csv_text,
    format_problem,
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
    "ALL_FORMATS",
    "ALL_KINDS",
    "COLUMNS",
    "DESCRIPTIONS",
    "EXCHANGE_KINDS",
    "FORMATS",
    "KINDS",
    "KIND_FORMATS",
    "PROFILE_EXPORT_COLUMNS",
    "PROFILE_MINIMUM_FAMILIES",
    "RISKY",
    "SPSS_RESERVED",
    "Pseudonymiser",
    "build",
    "csv_text",
    "format_problem",
    "neutralise",
    "profile_table",
    "readme_rows",
    "spss_name",
    "write",
    "write_codebook_csv",
    "write_csv",
    "write_long_csv",
    "write_sav",
    "write_xlsx",
]
