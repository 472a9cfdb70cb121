"""Exports: building the tables of metrics.md and the research statistics from the response store, writing them.

The web's Export page and ``flask export`` call :func:`write_export` alike, for the tables and for
the exports to other systems (the FHIR bundle of ``services.fhir``, REDCap's files);
``flask export`` picks its families with :func:`select_families`.

The tables computed per family (``scores``, ``family``, ``ruptures``) are written as CSV a batch of
families at a time (:func:`write_by_families`), from the stored scores: memory holds one batch,
however many families the export has, and the file is the one the whole table would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from familyalliance.services.errors import OperationError
from familyalliance.store import queries
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, Team
from familyalliance.store.queries import iter_long_rows, responses_frame
from familyalliance.store.registry import installed_instruments

#: The tables whose rows of one family follow from that family's scores alone, each with how it does.
PER_FAMILY = ("scores", "family", "ruptures")
#: Families per batch of a table written a batch at a time.
FAMILY_BATCH = 100


def select_families(codes: Sequence[str] = (), team_name: str | None = None) -> list[int] | None:
    """The ids of the families with these codes and of this team (None: every family, when neither is given).

    Raises OperationError naming the codes, or the team, that do not exist.
    """
    query = sa.select(Family.id, Family.code)
    if codes:
        query = query.where(Family.code.in_(codes))
    if team_name:
        query = query.join(Team).where(Team.name == team_name)
    found = db.session.execute(query).all()
    missing = sorted(set(codes) - {code for _, code in found})
    if missing:
        raise OperationError(f"No family {', '.join(missing)}.")
    if team_name and db.session.scalar(sa.select(Team.id).where(Team.name == team_name)) is None:
        raise OperationError(f"No team {team_name}.")
    return [family_id for family_id, _ in found] if (codes or team_name) else None


def export_table(
    kind: str, family_ids: Sequence[int] | None, settings, pseudonymiser=None, instruments=None
) -> pd.DataFrame:
    """One of the export tables for the given families, pseudonymised when a pseudonymiser is given."""
    from familyalliance.core import exports

    if kind == "profiles":  # from the therapists' families, always pseudonymised (services.profiles)
        from familyalliance.services import profiles

        return profiles.export_table(family_ids, settings, pseudonymiser)
    instruments = instruments if instruments is not None else installed_instruments()
    # Only the long table says how each form was given: the others do without the join to the requests.
    table = exports.build(kind, responses_frame(family_ids, with_mode=kind == "long"), instruments, settings)
    return pseudonymiser.apply(table) if pseudonymiser is not None else table


def write_export(
    kind: str,
    fmt: str,
    path,
    family_ids: Sequence[int] | None,
    settings,
    pseudonymiser=None,
    language: str = "en",
    base_url: str | None = None,
) -> tuple[int, list]:
    """Build and write one export; returns (rows, or a bundle's entries; files written).

    The plain long CSV streams from the database to the file; every other table is built
    as a table first (pseudonymising re-sorts by the new codes). The long export, streamed or
    built, has the ``mode`` column: how each form was given (its request's ``answered_mode``).
    ``fhir`` writes the FHIR bundle (JSON; its addresses under ``base_url``), ``redcap`` REDCap's
    files (CSV). A kind in a format it is not written in is refused (``exports.KIND_FORMATS``).
    """
    from familyalliance.core import exports

    problem = exports.format_problem(kind, fmt)
    if problem:
        raise OperationError(problem)
    if kind == "fhir":
        # Imported here: services.fhir reads its answers through this module.
        from familyalliance.services import fhir

        if not base_url:
            raise OperationError(
                "The FHIR bundle names every resource by the address the app is reached at: set PUBLIC_URL "
                "(for example FAMILYALLIANCE_PUBLIC_URL='\"https://alliance.example.org\"')."
            )
        return fhir.write_bundle(path, family_ids, base_url, pseudonymiser, language)
    if kind == "redcap":
        return write_redcap(path, family_ids, settings, pseudonymiser, language)
    instruments = installed_instruments()
    if kind in PER_FAMILY and fmt == "csv":
        rows = write_by_families(kind, path, family_ids, settings, pseudonymiser, instruments)
        book = path.with_name(path.stem + "-codebook.csv")
        exports.write_codebook_csv(list(exports.COLUMNS[kind]), instruments, book)
        return rows, [path, book]
    if kind == "long" and fmt == "csv" and pseudonymiser is None:
        counter = _Counter(iter_long_rows(family_ids))
        exports.write_long_csv(counter, path)
        book = path.with_name(path.stem + "-codebook.csv")
        exports.write_codebook_csv(list(exports.COLUMNS["long"]), instruments, book)
        return counter.count, [path, book]
    table = export_table(kind, family_ids, settings, pseudonymiser, instruments)
    dates = pseudonymiser.dates if pseudonymiser is not None else "shift"
    written = exports.write(kind, table, fmt, path, instruments, settings, pseudonymiser is not None, dates, language)
    return len(table), written


def write_by_families(
    kind: str, path: Path, family_ids: Sequence[int] | None, settings, pseudonymiser=None, instruments=None
) -> int:
    """Write one of the tables computed per family (``PER_FAMILY``) as CSV, ``FAMILY_BATCH`` families at a time;
    returns its rows.

    Each batch is built from its families' stored scores, written and dropped. The batches go in the
    order of the family codes the file shows (the pseudonyms, when pseudonymised), so the rows come
    in the order of metrics.md section 9, as in the whole table built at once.
    """
    from familyalliance.core import analytics, exports

    instruments = instruments if instruments is not None else installed_instruments()
    query = sa.select(Family.id, Family.code)
    if family_ids is not None:
        query = query.where(Family.id.in_(family_ids))
    families = db.session.execute(query).all()
    shown = pseudonymiser.family if pseudonymiser is not None else str
    ids = [family_id for family_id, code in sorted(families, key=lambda row: shown(row[1]))]
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        for start in range(0, max(len(ids), 1), FAMILY_BATCH):
            scored = queries.scores(ids[start : start + FAMILY_BATCH])
            if kind == "scores":
                table = scored
            elif kind == "family":
                table = analytics.family_metrics(scored, instruments, settings)
            else:
                series = analytics.member_series(scored, instruments)
                table = analytics.ruptures(series, settings)[analytics.RUPTURE_COLUMNS]
            if pseudonymiser is not None:
                table = pseudonymiser.apply(table)
            text = exports.csv_text(table)
            f.write(text if start == 0 else text.split("\n", 1)[1])
            rows += len(table)
    return rows


def write_redcap(
    path: Path, family_ids: Sequence[int] | None, settings, pseudonymiser=None, language: str = "en"
) -> tuple[int, list[Path]]:
    """REDCap's records at ``path``, its data dictionary and a note beside it; returns (rows, files written).

    The answers are the long export's (pseudonymised as the research exports when a pseudonymiser
    is given); every member of the families is a record, those without answers too. Like every
    export, it carries codes, never display names.
    """
    from familyalliance.core.exports import redcap

    instruments = installed_instruments()
    long = export_table("long", family_ids, settings, pseudonymiser, instruments)
    project = redcap.project(instruments, language)
    table = redcap.records(long, members_frame(family_ids, pseudonymiser), project)
    return len(table), redcap.write(project, table, path)


def members_frame(family_ids: Sequence[int] | None, pseudonymiser=None) -> pd.DataFrame:
    """Every member of the families (all when None): ``family``, ``member``, ``role``, by code; pseudonymised alike."""
    query = sa.select(Family.code, Member.code, Member.role).join(Family, Family.id == Member.family_id)
    if family_ids is not None:
        query = query.where(Member.family_id.in_(family_ids))
    frame = pd.DataFrame(db.session.execute(query).all(), columns=["family", "member", "role"])
    if pseudonymiser is not None:
        return pseudonymiser.apply(frame)
    return frame.sort_values(["family", "member"], kind="stable", ignore_index=True)


class _Counter:
    """Pass rows through, counting them."""

    def __init__(self, rows):
        """Count the rows of ``rows`` as they pass."""
        self.rows, self.count = rows, 0

    def __iter__(self):
        """The rows, one at a time."""
        for row in self.rows:
            self.count += 1
            yield row
