"""Writing an export table to a file: CSV with its codebook, Excel, SPSS.

Every text cell that a spreadsheet would run (one starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return, OWASP's list) is neutralised, in every column of every CSV: :func:`neutralise` is the
one rule, :func:`csv_text`, :func:`write_long_csv` and the audit log's CSV all apply it. The codebook
and the SPSS labels come from the one variable registry (``core.codebook``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from familyalliance.core import codebook
from familyalliance.core.analytics import Settings
from familyalliance.core.exports.tables import ALL_KINDS, DESCRIPTIONS, KINDS
from familyalliance.core.instruments import Instrument
from familyalliance.core.validation import LONG_HEADER_WITH_MODE

FORMATS = ("csv", "xlsx", "sav")
ALL_FORMATS = (*FORMATS, "json")
#: The formats each export is written in: a table in any of ``FORMATS``, FHIR as JSON, REDCap as CSV.
KIND_FORMATS: dict[str, tuple[str, ...]] = {**{kind: FORMATS for kind in KINDS}, "fhir": ("json",), "redcap": ("csv",)}
RISKY = ("=", "+", "-", "@", "\t", "\r")


def format_problem(kind: str, fmt: str) -> str | None:
    """Why ``kind`` cannot be written as ``fmt``, in English for the command line; None when it can."""
    if kind not in KIND_FORMATS:
        return f"No export {kind!r}; choose one of {', '.join(ALL_KINDS)}."
    formats = KIND_FORMATS[kind]
    if fmt in formats:
        return None
    if fmt == "json":
        return f"json is for the fhir export only; {kind} is written as {', '.join(formats)}."
    return f"The {kind} export is written as {' or '.join(formats)} only (--format {formats[0]}), not {fmt}."


def neutralise(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(RISKY):
        return "'" + value
    return value


def _text_columns(table: pd.DataFrame) -> list[str]:
    """Columns that may hold text (codes, categories, notes): every column that is not numbers, dates or booleans.

    A categorical column (member codes in the family and ruptures tables) counts, whatever its categories.
    """
    return [
        c
        for c in table.columns
        if not (
            pd.api.types.is_numeric_dtype(table[c])
            or pd.api.types.is_bool_dtype(table[c])
            or pd.api.types.is_datetime64_any_dtype(table[c])
        )
    ]


def csv_text(table: pd.DataFrame) -> str:
    """The table as metrics.md CSV: full precision, true/false, empty for missing, formulas neutralised."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = np.where(out[column], "true", "false")
    for column in _text_columns(out):
        values = out[column].astype(object)
        risky = values.map(lambda v: isinstance(v, str) and v.startswith(RISKY)).to_numpy(dtype=bool)
        if risky.any():
            out[column] = values.map(neutralise)
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, na_rep="", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return buffer.getvalue()


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """Write the table as UTF-8 CSV."""
    path.write_text(csv_text(table), encoding="utf-8", newline="")


def write_long_csv(rows: Iterable[tuple], path: Path) -> None:
    """Stream the long table's rows (as ``queries.iter_long_rows`` gives them: eleven columns, ``mode`` last) to CSV.

    The same bytes as ``write_csv(build("long", ...))``, without holding the table in memory; an
    unknown mode (None) is an empty cell. Of its text cells only the codes (family, member) are free
    enough to start with a character a spreadsheet would run (the others are words of the vocabulary and
    the instruments' item codes); checking two cells a row keeps the stream at its floor.
    """
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(LONG_HEADER_WITH_MODE)
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

    # A row without an instrument (an ICC of the research table) reads the member's series, which
    # may draw on any installed instrument.
    if "instrument" in table.columns and table["instrument"].notna().all():
        used = sorted(set(table["instrument"]))
    else:
        used = sorted(instruments)
    rows = [
        ("export", kind),
        ("contents", DESCRIPTIONS[kind]),
        ("made", dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()),
        ("familyalliance version", version("familyalliance")),
        ("rows", str(len(table))),
    ]
    if "family" in table.columns:
        rows += [
            ("families", str(table["family"].nunique())),
            ("pseudonymised", "yes" if pseudonymised else "no"),
            ("dates", {"shift": "shifted per family", "drop": "left out"}[dates] if pseudonymised else "as recorded"),
        ]
    else:
        rows += [("pseudonymised", "not needed: no family or member codes"), ("dates", "none")]
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
