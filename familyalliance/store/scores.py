"""Stored scores: every form's dimension scores, total and POMP, written in the transaction that writes its answers.

Pages read scores (``queries.scores``), never raw answers: each path that stores or corrects
answers calls :func:`rescore_forms` with the forms it wrote (the import, in bulk, stores the
scores of the forms it created with :func:`store_sums`). The scoring itself is the core's
(``core.scoring.form_sums`` and ``score_sums`` for many forms, ``score_answers`` for a few), so
stored scores are what scoring the answers afresh gives. :func:`rescore_families` scores whole
families again (``flask rescore``, after an instrument's definition changed) and says which
families' scores moved.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from familyalliance.core import scoring
from familyalliance.core.instruments import Instrument
from familyalliance.store import bulk, summaries
from familyalliance.store.db import db
from familyalliance.store.models import FormScore, Response
from familyalliance.store.registry import installed_instruments

#: A form's key in the store: the answers' key without the item.
FORM_KEY = ("family_id", "member_id", "session_id", "informant", "target", "instrument")
COLUMNS = (*FORM_KEY, *scoring.FORM_COLUMNS)
#: Members and sessions named in one statement reading answers by key.
BATCH = 500
#: Up to this many forms (a send, a tablet round, a grid, a correction) are scored one at a time in
#: plain Python (``scoring.score_answers``): for a few forms pandas' fixed cost per call is most of
#: the time. Both ways give the same numbers to the last bit (``tests/store/test_stored_scores.py``).
FEW_FORMS = 20


def _answer_rows(where: sa.ColumnElement) -> list[tuple]:
    """The stored answers matching ``where`` as plain tuples from the driver: the form key, item and value."""
    columns = [getattr(Response, name) for name in (*FORM_KEY, "item", "value")]
    # No per-value processing (whole families for ``rescore_families``).
    return db.session.connection().execute(sa.select(*columns).where(where)).cursor.fetchall()


def _answers(where: sa.ColumnElement) -> pd.DataFrame:
    """The stored answers matching ``where``: the form key, item and value (NaN when unanswered)."""
    rows = _answer_rows(where)
    names = [*FORM_KEY, "item", "value"]
    frame = pd.DataFrame(rows, columns=names) if rows else pd.DataFrame({name: [] for name in names})
    frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
    return frame


def score(answers: pd.DataFrame, instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """Every form of ``answers`` (``FORM_KEY``, item, value) scored: ``COLUMNS``, one row per form."""
    if answers.empty:
        return pd.DataFrame({name: [] for name in COLUMNS})
    sums = scoring.form_sums(answers.reset_index(drop=True), instruments, key=list(FORM_KEY))
    return scoring.score_sums(sums, instruments).reset_index(drop=True)[list(COLUMNS)]


#: Columns of whole numbers.
_INTEGERS = {"family_id", "member_id", "session_id", "answered"}


def _plain_rows(forms: pd.DataFrame) -> list[tuple]:
    """Scored forms as tuples of plain Python values in ``COLUMNS`` order, for the driver; missing scores empty.

    Column by column (``tolist`` is C): a NaN score is passed as it is to SQLite, which stores a
    NaN as NULL, and as None to PostgreSQL, which would keep it as NaN.
    """
    nan_is_null = db.session.get_bind().dialect.name == "sqlite"
    columns = []
    for name in COLUMNS:
        if name in _INTEGERS:
            columns.append(forms[name].to_numpy(dtype=np.int64).tolist())
        elif name in FORM_KEY:
            columns.append(forms[name].tolist())
        else:
            values = forms[name].to_numpy(dtype="float64")
            column = values.tolist()
            if not nan_is_null and np.isnan(values).any():
                column = [None if v != v else v for v in column]
            columns.append(column)
    return list(zip(*columns, strict=True))


def _few_scored(keys: set[tuple], instruments: Mapping[str, Instrument]) -> list[tuple]:
    """The rows (``COLUMNS``) of these few forms that have answers, scored one by one from their stored answers."""
    forms: dict[tuple, dict[str, int | None]] = {}
    for where in _people(sorted(keys)):
        for *key, item, value in _answer_rows(where):
            if tuple(key) in keys:
                forms.setdefault(tuple(key), {})[item] = value
    rows = []
    for key, answers in forms.items():
        instrument = instruments.get(key[-1])
        if instrument is None:
            raise ValueError(f"answers to unknown instrument items: {key[-1]}")
        scored = scoring.score_answers(instrument, answers)
        answered = sum(value is not None for value in answers.values())
        rows.append((*key, answered, *(scored[name] for name in scoring.FORM_COLUMNS[1:])))
    return rows


def _upsert(plain: list[tuple]) -> None:
    """Insert the forms' rows (in ``COLUMNS`` order), replacing stored rows of the same forms."""
    if not plain:
        return
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in plain]
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(FormScore)
    updated = {name: insert.excluded[name] for name in scoring.FORM_COLUMNS}
    db.session.execute(insert.on_conflict_do_update(index_elements=list(FORM_KEY), set_=updated), rows)


def _people(keys: Sequence[tuple]) -> Iterator[sa.ColumnElement]:
    """Filters on the answers' leading key columns (family, member, session) that cover these forms, in batches.

    IN lists per column rather than row values: SQLite searches the primary key with them (with row
    values it scans). A batch's families, members and sessions cross, but a member and a session belong
    to one family, so little more than the forms is read; the caller keeps the forms it asked for.
    """
    by_family: dict[int, tuple[set, set]] = {}
    for key in keys:
        members, sessions = by_family.setdefault(key[0], (set(), set()))
        members.add(key[1])
        sessions.add(key[2])

    def where(families: list[int]) -> sa.ColumnElement:
        members = sorted(set().union(*(by_family[f][0] for f in families)))
        sessions = sorted(set().union(*(by_family[f][1] for f in families)))
        return sa.and_(
            Response.family_id.in_(families), Response.member_id.in_(members), Response.session_id.in_(sessions)
        )

    batch: list[int] = []
    size = 0
    for family_id in sorted(by_family):
        batch.append(family_id)
        size += sum(map(len, by_family[family_id]))
        if size >= BATCH:
            yield where(batch)
            batch, size = [], 0
    if batch:
        yield where(batch)


def _form_filter(keys: Sequence[tuple]) -> sa.ColumnElement:
    """The stored rows of exactly these forms."""
    columns = [getattr(FormScore, name) for name in FORM_KEY]
    return sa.or_(*(sa.and_(*(c == v for c, v in zip(columns, key, strict=True))) for key in keys))


def rescore_forms(forms: Iterable[Sequence], instruments: Mapping[str, Instrument] | None = None) -> int:
    """Score these forms (``FORM_KEY`` tuples) from their stored answers and store their rows; return how many.

    In the caller's transaction, after the answers are written: a form with answers gets its row
    (replacing the stored one), a form without any loses it. Called by every path that writes answers.
    """
    keys = {tuple(form) for form in forms}
    if not keys:
        return 0
    instruments = instruments if instruments is not None else installed_instruments()
    db.session.flush()  # answers changed through the ORM (corrections) are read back as they are now
    if len(keys) <= FEW_FORMS:
        rows = _few_scored(keys, instruments)
        _upsert(rows)
        _delete(keys - {row[: len(FORM_KEY)] for row in rows})
        return len(rows)
    # Read by (family, member, session), the leading part of the answers' key, then keep the forms asked for.
    parts = [_answers(where) for where in _people(list(keys))]
    answers = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    wanted = pd.MultiIndex.from_tuples(sorted(keys), names=FORM_KEY)
    answers = answers[pd.MultiIndex.from_frame(answers[list(FORM_KEY)]).isin(wanted)]
    scored = score(answers, instruments)
    _upsert(_plain_rows(scored))
    found = set(scored[list(FORM_KEY)].itertuples(index=False, name=None))
    _delete(keys - found)
    return len(found)


def _delete(keys: set[tuple]) -> None:
    """Delete the stored rows of these forms (forms left without any answer)."""
    gone = sorted(keys)
    for i in range(0, len(gone), 100):
        db.session.execute(sa.delete(FormScore).where(_form_filter(gone[i : i + 100])))


def store_sums(sums: pd.DataFrame, instruments: Mapping[str, Instrument], batch: int = 50_000) -> int:
    """Store the rows of new forms from their sums (``FORM_KEY`` and ``scoring.form_sums``' columns); return how many.

    For the import: forms in sessions it created, whose answers it summed as it read them, are
    scored without reading the answers back and written in bulk (COPY on PostgreSQL), a slice at
    a time so memory stays flat. None of them may have a row yet.
    """
    if sums.empty:
        return 0
    rows = itertools.chain.from_iterable(
        _plain_rows(scoring.score_sums(sums.iloc[start : start + batch], instruments))
        for start in range(0, len(sums), batch)
    )
    bulk.insert(db.session.connection(), FormScore.__tablename__, COLUMNS, rows)
    return len(sums)


def stored(family_ids: Sequence[int]) -> pd.DataFrame:
    """The stored rows of these families (``COLUMNS``), as written."""
    columns = [getattr(FormScore, name) for name in COLUMNS]
    rows = db.session.execute(sa.select(*columns).where(FormScore.family_id.in_(list(family_ids)))).all()
    return _typed(pd.DataFrame(rows, columns=list(COLUMNS)) if rows else pd.DataFrame({c: [] for c in COLUMNS}))


def _typed(forms: pd.DataFrame) -> pd.DataFrame:
    """``COLUMNS`` with one dtype each, whatever the source (so stored and computed rows compare)."""
    out = forms[list(COLUMNS)].copy()
    for name in COLUMNS:
        if name in FORM_KEY[:3] or name == "answered":
            out[name] = out[name].astype("int64")
        elif name in FORM_KEY:
            out[name] = out[name].astype(str)
        else:
            out[name] = out[name].astype("float64")
    return out.sort_values(list(FORM_KEY), ignore_index=True)


def fresh(family_ids: Sequence[int], instruments: Mapping[str, Instrument] | None = None) -> pd.DataFrame:
    """Every form of these families scored afresh from their stored answers, as :func:`stored` gives stored rows."""
    instruments = instruments if instruments is not None else installed_instruments()
    return _typed(score(_answers(Response.family_id.in_(list(family_ids))), instruments))


def rescore_families(family_ids: Iterable[int], instruments: Mapping[str, Instrument] | None = None) -> set[int]:
    """Score every form of these families again from their answers; return the families whose stored scores changed.

    Only the changed families' rows are written. The families are held first (``summaries.hold``),
    so a request storing answers of one of them meanwhile waits, and its own scores come after.
    """
    ids = sorted({int(i) for i in family_ids})
    if not ids:
        return set()
    instruments = instruments if instruments is not None else installed_instruments()
    summaries.hold(ids)
    scored = fresh(ids, instruments)
    differ = pd.concat([scored, stored(ids)], ignore_index=True).drop_duplicates(keep=False)
    changed = {int(i) for i in differ["family_id"].unique()}
    if changed:
        db.session.execute(sa.delete(FormScore).where(FormScore.family_id.in_(sorted(changed))))
        rows = scored[scored["family_id"].isin(changed)]
        if not rows.empty:
            bulk.insert(db.session.connection(), FormScore.__tablename__, COLUMNS, _plain_rows(rows))
    return changed
