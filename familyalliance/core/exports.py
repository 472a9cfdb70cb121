"""Exports: the tables of metrics.md (long, scores, family, ruptures) as CSV, Excel or SPSS.

Building a table and writing it are separate: ``build`` turns the long answers into one of
the four tables (pure pandas), ``Pseudonymiser`` replaces codes and dates, and the writers
put a table in a file with its codebook. Every text cell that a spreadsheet would run (one
starting with ``=``, ``+``, ``-`` or ``@``) is neutralised.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from familyalliance.core import analytics, codebook
from familyalliance.core.analytics import Settings
from familyalliance.core.instruments import Instrument
from familyalliance.core.scoring import SCORE_KEY, SCORES_EXPORT_COLUMNS, score_frame
from familyalliance.core.validation import LONG_HEADER

KINDS = ("long", "scores", "family", "ruptures")
FORMATS = ("csv", "xlsx", "sav")
COLUMNS = {
    "long": LONG_HEADER,
    "scores": SCORES_EXPORT_COLUMNS,
    "family": analytics.FAMILY_COLUMNS,
    "ruptures": analytics.RUPTURE_COLUMNS,
}
DESCRIPTIONS = {
    "long": "Every item answer (and unanswered item), one row each (metrics.md section 3).",
    "scores": "Dimension, total and POMP scores per member, session, informant, target and instrument (section 4).",
    "family": "Family metrics per session, informant, target, instrument and dimension (section 5).",
    "ruptures": "Ruptures and their repair status per member and dimension (section 7).",
}
RISKY = ("=", "+", "-", "@")


def build(
    kind: str, responses: pd.DataFrame, instruments: Mapping[str, Instrument], settings: Settings
) -> pd.DataFrame:
    """One of the export tables from the long answers table, columns and order as metrics.md says."""
    if kind == "long":
        order = ["family", "member", "session", "informant", "target", "instrument", "item"]
        return responses[LONG_HEADER].sort_values(order, kind="stable", ignore_index=True)
    scores = score_frame(responses, instruments)
    if kind == "scores":
        return scores
    if kind == "family":
        return analytics.family_metrics(scores, instruments, settings)
    if kind == "ruptures":
        return analytics.ruptures(scores, settings)
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
        return hmac.new(self.key, "\x1f".join(parts).encode(), hashlib.sha256).digest()

    def family(self, code: str) -> str:
        return "F" + self._digest("family", code).hex()[:12].upper()

    def member(self, family: str, code: str) -> str:
        return "M" + self._digest("member", family, code).hex()[:8].upper()

    def shift(self, family: str) -> dt.timedelta:
        """Between 365 days back and 365 days ahead, never zero."""
        days = int.from_bytes(self._digest("date", family)[:4], "big") % 730 - 365
        return dt.timedelta(days=days or 366)

    def apply(self, table: pd.DataFrame) -> pd.DataFrame:
        """The table with family, member (and lowest member) codes replaced and dates shifted or dropped."""
        out = table.copy()
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
    keys = ["family", "member", "session", *SCORE_KEY[3:], "dimension", "item"]
    return [c for c in dict.fromkeys(keys) if c in table.columns]


def neutralise(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(RISKY):
        return "'" + value
    return value


def _text_columns(table: pd.DataFrame) -> list[str]:
    """Columns holding text (codes, categories), not numbers, dates or booleans."""
    return [
        c
        for c in table.columns
        if pd.api.types.infer_dtype(table[c], skipna=True) in ("string", "empty")
        and not pd.api.types.is_numeric_dtype(table[c])
    ]


def csv_text(table: pd.DataFrame) -> str:
    """The table as metrics.md CSV: full precision, true/false, empty for missing, formulas neutralised."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = np.where(out[column], "true", "false")
    for column in _text_columns(out):
        risky = out[column].str.startswith(RISKY).fillna(False).to_numpy(dtype=bool)
        if risky.any():
            out.loc[risky, column] = "'" + out.loc[risky, column]
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, na_rep="", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return buffer.getvalue()


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """Write the table as UTF-8 CSV."""
    path.write_text(csv_text(table), encoding="utf-8", newline="")


def write_long_csv(rows: Iterable[tuple], path: Path) -> None:
    """Stream the long table's rows (as ``queries.iter_long_rows`` gives them) to CSV.

    The same bytes as ``write_csv(build("long", ...))``, without holding the table in memory.
    Only the codes (family, member) can start with a character a spreadsheet would run.
    """
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(LONG_HEADER)
        for row in rows:
            family, member = row[0], row[1]
            if family.startswith(RISKY) or member.startswith(RISKY):
                row = (neutralise(family), neutralise(member), *row[2:])
            writer.writerow(row)


def write_codebook_csv(columns: list[str], instruments: Mapping[str, Instrument], path: Path) -> None:
    """The codebook of the exported columns, Dutch and English, as CSV."""
    rows = codebook.codebook_rows(columns, instruments)
    pd.DataFrame(rows, columns=codebook.CODEBOOK_COLUMNS).to_csv(path, index=False, lineterminator="\n")


def readme_rows(
    kind: str,
    table: pd.DataFrame,
    instruments: Mapping[str, Instrument],
    settings: Settings,
    pseudonymised: bool,
    dates: str,
) -> list[tuple[str, str]]:
    """What the export is, when it was made, with which settings and instrument versions."""
    from importlib.metadata import version

    used = sorted(set(table["instrument"])) if "instrument" in table.columns else sorted(instruments)
    rows = [
        ("export", kind),
        ("contents", DESCRIPTIONS[kind]),
        ("made", dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()),
        ("familyalliance version", version("familyalliance")),
        ("rows", str(len(table))),
        ("families", str(table["family"].nunique()) if "family" in table.columns else "0"),
        ("pseudonymised", "yes" if pseudonymised else "no"),
        ("dates", {"shift": "shifted per family", "drop": "left out"}[dates] if pseudonymised else "as recorded"),
    ]
    rows += [(f"setting {name}", str(value)) for name, value in settings.as_config().items()]
    rows += [(f"instrument {code}", f"version {instruments[code].version}") for code in used if code in instruments]
    return rows


def write_xlsx(
    table: pd.DataFrame, path: Path, instruments: Mapping[str, Instrument], readme: list[tuple[str, str]]
) -> None:
    """The data sheet, a codebook sheet and a readme sheet; text cells never run as formulas."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    data = book.create_sheet("data")
    data.append(list(table.columns))
    text = set(_text_columns(table))
    for row in table.itertuples(index=False, name=None):
        cells = []
        for column, value in zip(table.columns, row, strict=True):
            if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
                cells.append(None)
            elif column in text:
                cell = WriteOnlyCell(data, value=str(value))
                cell.data_type = "s"  # a string, never a formula
                cells.append(cell)
            elif isinstance(value, (np.bool_, bool)):
                cells.append(bool(value))
            elif isinstance(value, np.integer):
                cells.append(int(value))
            elif isinstance(value, np.floating):
                cells.append(float(value))
            else:
                cells.append(value)
        data.append(cells)
    sheet = book.create_sheet("codebook")
    sheet.append(codebook.CODEBOOK_COLUMNS)
    for entry in codebook.codebook_rows(table.columns, instruments):
        sheet.append([entry[c] for c in codebook.CODEBOOK_COLUMNS])
    about = book.create_sheet("readme")
    for key, value in readme:
        about.append([key, value])
    book.save(path)


SPSS_RESERVED = {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"}


def spss_name(name: str) -> str:
    """An SPSS-safe variable name (letters, digits, _; starts with a letter; not reserved; at most 64 bytes)."""
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:64]
    if not safe[:1].isalpha():
        safe = "v_" + safe[:62]
    if safe.upper() in SPSS_RESERVED:
        safe += "_"
    return safe


def write_sav(table: pd.DataFrame, path: Path, instruments: Mapping[str, Instrument], language: str = "en") -> None:
    """An SPSS file: categories as labelled numeric codes, variable labels, measurement levels."""
    import pyreadstat

    out = pd.DataFrame(index=table.index)
    labels, value_labels, measures, formats = {}, {}, {}, {}
    for variable in codebook.variables(table.columns, instruments):
        name = spss_name(variable.name)
        column = table[variable.name]
        if variable.kind == "category":
            codes = {value: i for i, value in enumerate(variable.values, start=1)}
            out[name] = column.map(codes).astype("float64")
            names = variable.value_labels(language)
            value_labels[name] = {float(code): names[value] for value, code in codes.items()}
            formats[name] = "F3.0"
        elif variable.kind == "boolean":
            out[name] = column.astype("float64")
            value_labels[name] = {0.0: "false", 1.0: "true"}
            formats[name] = "F1.0"
        elif variable.kind == "date":
            out[name] = [d if isinstance(d, dt.date) else None for d in column]
            formats[name] = "EDATE10"
        elif variable.kind == "integer":
            out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
            formats[name] = "F8.0"
        elif variable.kind == "number":
            out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
        else:
            out[name] = column.astype("string").fillna("").astype(object)
        labels[name] = variable.labelled(language)
        measures[name] = variable.measure
    pyreadstat.write_sav(
        out,
        str(path),
        column_labels=labels,
        variable_value_labels=value_labels,
        variable_measure=measures,
        variable_format=formats,
    )


def write(
    kind: str,
    table: pd.DataFrame,
    fmt: str,
    path: Path,
    instruments: Mapping[str, Instrument],
    settings: Settings,
    pseudonymised: bool,
    dates: str = "shift",
    language: str = "en",
) -> list[Path]:
    """Write an export in ``fmt``; returns the files written (CSV gets a codebook file beside it)."""
    if fmt == "csv":
        write_csv(table, path)
        book = path.with_name(path.stem + "-codebook.csv")
        write_codebook_csv(list(table.columns), instruments, book)
        return [path, book]
    if fmt == "xlsx":
        write_xlsx(table, path, instruments, readme_rows(kind, table, instruments, settings, pseudonymised, dates))
        return [path]
    if fmt == "sav":
        write_sav(table, path, instruments, language)
        return [path]
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
