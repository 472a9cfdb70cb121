"""Import of the long CSV (metrics.md section 3): streamed, checked, all or nothing.

The file is read a chunk of rows at a time with the csv module, checked with the shared
rules of ``validation.check_long_chunk`` plus the rules across rows (one date per session,
one role per member, one answer per key, one mode per form), and written in the same
transaction straight into the response store. Any problem rolls everything back (families,
members and sessions the import created included) and is reported with its line number.
Memory holds one chunk and the codes of the families, members and sessions seen, never the
whole file.

Every form of the file (one member's questionnaire at one session about one target) becomes an
answered questionnaire request in the same transaction, answered at the import's time in the
file's ``mode`` (``import`` for a file without the column, unknown for an empty cell). In bulk,
set-based at the end of the file, with the forms waiting in temporary tables of the database
rather than in the importing process: a file with the mode column keeps each form's modes and
first lines (to check one mode per form, to the end of the file even once a problem was found);
a file without it keeps the forms of sessions stored before, while the forms of the sessions the
import created are read back from their stored scores (one row per form). An open request is
answered; an answered one is refused, or with ``replace`` takes the file's mode.

Every form's scores are stored in the same transaction (``store.scores``): the forms of the
sessions the import created from the sums of their dimensions taken as the file is read (in the
reading thread, a form's parts in several chunks added up at the end), without reading the answers
back; the forms of sessions stored before, which may hold other answers too, scored again from the
store. The commit raises the revisions of the families the file wrote; then, each in a transaction of
its own, the expected trajectory and the caseload's summaries of those families, from the scores just
stored, so the next caseload page computes none of them (should that step fail, they stay stale and
the caseload computes them: never a summary of the data before the import).

Answers the store already holds are refused as duplicates, and so is a form whose request is
already answered; with ``replace`` they are replaced (the request keeps existing and takes the
file's mode), in the same transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from familyalliance.core import scoring
from familyalliance.core.instruments import Instrument
from familyalliance.core.validation import (
    FORM_KEY,
    LONG_HEADERS,
    MODE,
    Problem,
    check_long_chunk,
    header_problem,
    mode_conflict,
    parse_value,
)
from familyalliance.core.vocab import INFORMANTS, TARGETS
from familyalliance.services import rescoring, trajectories
from familyalliance.store import bulk, scores, summaries
from familyalliance.store.db import begin_write, db
from familyalliance.store.models import (
    Attendance,
    Family,
    FormScore,
    Member,
    QuestionnaireRequest,
    Response,
    Team,
    TherapySession,
    User,
    family_therapist,
    utcnow,
)

log = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
#: Problems reported in full; the rest are counted.
MAX_REPORTED = 100
KEY = ("family", "member", "session", "informant", "target", "instrument", "item")
INSERT_COLUMNS = ("family_id", "member_id", "session_id", "informant", "target", "instrument", "item", "value")
#: How a form of a file without the mode column was given.
IMPORT_MODE = "import"

# The file's forms by their codes, one row per form and mode with the first line that says it
# (a form whose rows span chunks comes again and is kept once); mode '' is unknown. For a file with
# the mode column: to check one mode per form, and then to answer the requests.
_FORMS = sa.Table(
    "import_forms",
    sa.MetaData(),
    sa.Column("family", sa.String(64), nullable=False),
    sa.Column("member", sa.String(64), nullable=False),
    sa.Column("session", sa.Integer, nullable=False),
    sa.Column("informant", sa.String(16), nullable=False),
    sa.Column("target", sa.String(16), nullable=False),
    sa.Column("instrument", sa.String(32), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("family", "member", "session", "informant", "target", "instrument", "mode"),
    prefixes=["TEMPORARY"],
    sqlite_with_rowid=False,
)
FORM_COLUMNS = tuple(c.name for c in _FORMS.c)
# Forms whose request is looked up and answered at the end, by the request's key, with their codes for problems:
# all forms of a file with the mode column, those of sessions stored before the import of a file without it.
_ANSWERED = sa.Table(
    "import_answered_forms",
    sa.MetaData(),
    sa.Column("session_id", sa.Integer, nullable=False),
    sa.Column("member_id", sa.Integer, nullable=False),
    sa.Column("instrument", sa.String(32), nullable=False),
    sa.Column("target", sa.String(16), nullable=False),
    sa.Column("family_id", sa.Integer, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("family", sa.String(64), nullable=False),
    sa.Column("member", sa.String(64), nullable=False),
    sa.Column("session", sa.Integer, nullable=False),
    sa.Column("informant", sa.String(16), nullable=False),
    sa.PrimaryKeyConstraint("session_id", "member_id", "instrument", "target"),
    prefixes=["TEMPORARY"],
    sqlite_with_rowid=False,
)
ANSWERED_COLUMNS = tuple(c.name for c in _ANSWERED.c)
# The sessions the import created: their answers are all the file's.
_NEW_SESSIONS = sa.Table(
    "import_new_sessions",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("family_id", sa.Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
#: The columns of a request the import creates answered.
REQUEST_COLUMNS = (
    "family_id",
    "session_id",
    "member_id",
    "instrument",
    "target",
    "created_at",
    "answered_at",
    "answered_mode",
)
_TEMPORARY = (_FORMS, _ANSWERED, _NEW_SESSIONS)


class ImportRejected(Exception):
    """The file was not imported; nothing changed. ``problems`` holds the first ones, ``total`` counts all."""

    def __init__(self, problems: list[Problem], total: int):
        super().__init__(f"{total} problem(s)")
        self.problems = problems
        self.total = total


@dataclass
class ImportSummary:
    """What an import stored."""

    rows: int = 0
    unanswered: int = 0
    replaced: int = 0
    families_created: list[str] = field(default_factory=list)
    members_created: int = 0
    sessions_created: int = 0


class _Problems:
    """Collects problems up to a cap and counts the rest."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.total = 0

    def add(self, problems: Sequence[Problem], total: int | None = None) -> None:
        """Keep ``problems`` (as far as the cap allows), counting ``total`` of them (default: all given)."""
        self.total += len(problems) if total is None else total
        room = MAX_REPORTED - len(self.items)
        if room > 0:
            self.items.extend(problems[:room])

    def __bool__(self) -> bool:
        return self.total > 0


def unquote(codes: pd.Series) -> pd.Series:
    """Drop the apostrophe exports put before text cells a spreadsheet would run (``'-F1`` is ``-F1``)."""
    quoted = codes.str.startswith("'")
    if not quoted.any():
        return codes
    return codes.where(~quoted, codes[quoted].str.replace(r"^'(?=[=+\-@])", "", regex=True))


def read_chunks(path: Path, problems: _Problems) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield (rows as text DataFrame, their line numbers); bad headers, field counts and encodings become problems."""
    reader = None
    opened = unclosed_quote_line(path)
    if opened is not None:
        problems.add([Problem("file", 'a quoted value opened on this line is never closed (a " is missing)', opened)])
        return
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, strict=True)
            header = next(reader, None)
            wrong = header_problem(header)
            if wrong:
                problems.add([Problem("file" if header is None else "header", wrong, 1)])
                return
            rows: list[list[str]] = []
            lines: list[int] = []
            seen_rows = False
            for record in reader:
                seen_rows = True
                if len(record) != len(header):
                    if record:  # a blank line is no row
                        problems.add(
                            [Problem("line", f"has {len(record)} fields; expected {len(header)}", reader.line_num)]
                        )
                    continue
                rows.append(record)
                lines.append(reader.line_num)
                if len(rows) >= CHUNK_ROWS:
                    yield pd.DataFrame(rows, columns=header), np.array(lines)
                    rows, lines = [], []
            if rows:
                yield pd.DataFrame(rows, columns=header), np.array(lines)
            elif not seen_rows:
                problems.add([Problem("file", "the file has a header but no rows", 1)])
    except UnicodeDecodeError:
        problems.add([Problem("file", "is not UTF-8 text (save it as CSV UTF-8)", _first_bad_line(path))])
    except csv.Error as exc:
        problems.add([Problem("file", f"cannot be read as CSV: {exc}", reader.line_num if reader else None)])


def unclosed_quote_line(path: Path) -> int | None:
    """The line on which a quoted value opens that the file never closes, or None.

    A quoted value may run over several lines, and ``""`` inside it is a quote: what counts is whether
    the number of quotes seen is odd at the end of the file. Both readers would otherwise take the
    rest of the file as that value (Arrow even stores the ``3`` of a last line ``...,bond,"3``).
    Files without any quote, which is what the exports write, are read once in large blocks.
    """
    with path.open("rb") as f:
        if not any(b'"' in block for block in iter(lambda: f.read(1 << 24), b"")):
            return None
        f.seek(0)
        opened = None
        for number, raw in enumerate(f, start=1):
            if raw.count(b'"') % 2:
                opened = number if opened is None else None
    return opened


class _NeedsExactReader(Exception):
    """The fast reader met something it cannot give exact line numbers for."""


def fast_chunks(path: Path, problems: _Problems) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield (rows, line numbers) with Arrow's CSV reader; raise _NeedsExactReader on anything irregular."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), None)
    except (UnicodeDecodeError, csv.Error):
        raise _NeedsExactReader from None
    if header not in LONG_HEADERS or unclosed_quote_line(path) is not None:
        raise _NeedsExactReader  # the exact reader words the header problem and the unclosed quote
    irregular = []

    def on_invalid_row(row) -> str:
        irregular.append(row)
        return "skip"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=4 << 20),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=on_invalid_row
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        row = 0
        for batch in reader:
            if irregular:
                raise _NeedsExactReader
            if batch.num_rows == 0:
                continue
            frame = batch.to_pandas()
            if frame.eq("").all(axis=1).any():  # a blank line: Arrow gives it as a row of empty cells
                raise _NeedsExactReader
            yield frame, np.arange(row + 2, row + 2 + len(frame))
            row += len(frame)
    except pa.ArrowInvalid:
        raise _NeedsExactReader from None
    if irregular:
        raise _NeedsExactReader
    if row == 0:
        problems.add([Problem("file", "the file has a header but no rows", 1)])


def _first_bad_line(path: Path) -> int | None:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


class _Entities:
    """Families, members and sessions by code: stored ones looked up once, the file's checked for consistency.

    ``observe`` checks a row's member role and session date against the file's earlier lines
    and the database, always; ``ids`` creates what is new, only while the import is clean.
    """

    def __init__(self, summary: ImportSummary, team: Team | None, therapists: Sequence[User]):
        self.summary = summary
        self.team = team
        self.therapists = list(therapists)
        self.families: dict[str, int | None] = {}
        # (family, member) -> [id or None, role, first line or None when stored]
        self.members: dict[tuple[str, str], list] = {}
        # (family, session number) -> [id or None, date, first line or None when stored]
        self.sessions: dict[tuple[str, int], list] = {}
        self.new_sessions: set[int] = set()

    def load(self, codes: Sequence[str]) -> None:
        """Look up the families not seen before, with their members and sessions: three queries in all."""
        unseen = [code for code in codes if code not in self.families]
        if not unseen:
            return
        self.families.update(dict.fromkeys(unseen))
        found = dict(db.session.execute(sa.select(Family.id, Family.code).where(Family.code.in_(unseen))).all())
        for family_id, code in found.items():
            self.families[code] = family_id
        if not found:
            return
        for family_id, code, role, member_id in db.session.execute(
            sa.select(Member.family_id, Member.code, Member.role, Member.id).where(Member.family_id.in_(found))
        ):
            self.members[(found[family_id], code)] = [member_id, role, None]
        for family_id, number, date, session_id in db.session.execute(
            sa.select(TherapySession.family_id, TherapySession.number, TherapySession.date, TherapySession.id).where(
                TherapySession.family_id.in_(found)
            )
        ):
            self.sessions[(found[family_id], number)] = [session_id, date, None]

    def observe(self, family: str, member: str, role: str, number: int, date: dt.date, line: int) -> list[Problem]:
        """Check one row's role and date against what the file and the store said before (``load`` first)."""
        problems = []
        known = self.members.setdefault((family, member), [None, role, line])
        if known[1] != role:
            where = f"on line {known[2]}" if known[2] else "in the database"
            problems.append(
                Problem(
                    "role",
                    f"member {member} of family {family} has role {known[1]!r} {where}; a "
                    f"member keeps one role, this line says {role!r}",
                    line,
                )
            )
        session = self.sessions.setdefault((family, number), [None, date, line])
        if session[1] != date:
            where = f"on line {session[2]}" if session[2] else "in the database"
            problems.append(
                Problem(
                    "date",
                    f"session {number} of family {family} has date {session[1].isoformat()} "
                    f"{where}; one date per session, this line says {date.isoformat()}",
                    line,
                )
            )
        return problems

    def _fill_ids(self, cache: dict, stored: Iterable[tuple]) -> list[int]:
        """Put the ids of just-created rows, given as (id, family id, code or number), into ``cache``."""
        codes = {family_id: code for code, family_id in self.families.items()}
        filled = []
        for new_id, family_id, key in stored:
            known = cache.get((codes[family_id], key))
            if known is not None and known[0] is None:
                known[0] = new_id
                filled.append(new_id)
        return filled

    def create_missing(
        self, families: Sequence[str], members: Sequence[tuple[str, str]], sessions: Sequence[tuple[str, int]]
    ) -> None:
        """Create, in bulk, the families, members and sessions among these that the store lacks.

        Plain bulk INSERTs, then one SELECT each for the new ids: far cheaper than
        returning ids row by row.
        """
        new = [code for code in families if self.families[code] is None]
        if new:
            today, now = dt.date.today(), utcnow()
            team_id = self.team.id if self.team else None
            db.session.execute(
                sa.insert(Family.__table__),
                [
                    {"code": code, "start_date": today, "team_id": team_id, "status": "active", "created_at": now}
                    for code in new
                ],
            )
            created = db.session.execute(sa.select(Family.id, Family.code).where(Family.code.in_(new))).all()
            for family_id, code in created:
                self.families[code] = family_id
            if self.therapists:
                db.session.execute(
                    sa.insert(family_therapist),
                    [
                        {"family_id": family_id, "user_id": user.id}
                        for family_id, _ in created
                        for user in self.therapists
                    ],
                )
            self.summary.families_created.extend(new)
        new_members = [key for key in members if self.members[key][0] is None]
        connection = db.session.connection()
        if new_members:
            bulk.insert(
                connection,
                "member",
                ("family_id", "code", "display_name", "role"),
                [(self.families[f], m, m, self.members[(f, m)][1]) for f, m in new_members],
            )
            self._fill_ids(
                self.members,
                db.session.execute(
                    sa.select(Member.id, Member.family_id, Member.code).where(
                        Member.family_id.in_({self.families[f] for f, _ in new_members})
                    )
                ),
            )
            self.summary.members_created += len(new_members)
        new_sessions = [key for key in sessions if self.sessions[key][0] is None]
        if new_sessions:
            now = bulk.native(connection, utcnow())
            bulk.insert(
                connection,
                "therapy_session",
                ("family_id", "number", "date", "created_at"),
                [
                    (self.families[f], n, bulk.native(connection, self.sessions[(f, n)][1]), now)
                    for f, n in new_sessions
                ],
            )
            created = self._fill_ids(
                self.sessions,
                db.session.execute(
                    sa.select(TherapySession.id, TherapySession.family_id, TherapySession.number).where(
                        TherapySession.family_id.in_({self.families[f] for f, _ in new_sessions})
                    )
                ),
            )
            self.new_sessions.update(created)
            self.summary.sessions_created += len(new_sessions)


ENTITY_FIELDS = ("family", "member", "role", "session", "date")


def import_long_csv(
    path: Path,
    instruments: Mapping[str, Instrument],
    replace: bool = False,
    team: Team | None = None,
    therapists: Sequence[User] = (),
) -> ImportSummary:
    """Import a long CSV file; commit and return what was stored, or raise ImportRejected having stored nothing.

    The fast reader (Arrow's CSV parser) reads a well-formed file; a file it cannot number
    line by line exactly (rows with the wrong number of fields, blank lines, line breaks
    inside values, bytes that are not UTF-8) is read again with the csv module, whose line
    numbers are exact, so that every problem names its line.
    """
    try:
        return _import(path, instruments, replace, team, therapists, fast_chunks)
    except _NeedsExactReader:
        return _import(path, instruments, replace, team, therapists, read_chunks)


def _import(path, instruments, replace, team, therapists, reader) -> ImportSummary:
    summary = ImportSummary()
    problems = _Problems()
    entities = _Entities(summary, team, therapists)
    connection = db.session.connection()
    now = utcnow()
    with_mode = False
    # The sums of the forms stored so far, by ids, a frame per chunk (scored at the end).
    form_parts: list[pd.DataFrame] = []
    try:
        for table in _TEMPORARY:
            table.create(connection)
        for part in _checked(reader(path, problems), instruments):
            with_mode = with_mode or part.with_mode
            problems.add(part.found)
            # Roles and dates across rows, on the rows whose codes, role, session and date are valid.
            entities.load(part.families)
            for family, member, role, session, date, line in part.combos:
                problems.add(entities.observe(family, member, role, session, date, line))
            if part.with_mode:
                # Every form with each of its modes, for one mode per form (checked at the end).
                bulk.insert(connection, _FORMS.name, FORM_COLUMNS, part.form_rows, skip_existing=True)
            if problems:
                continue  # keep checking the rest of the file; store nothing more
            family_ids, member_ids, session_ids = _ids(part.chunk, entities)
            values = part.columns["value"]
            rows = zip(
                family_ids.tolist(),
                member_ids.tolist(),
                session_ids.tolist(),
                part.columns["informant"],
                part.columns["target"],
                part.columns["instrument"],
                part.columns["item"],
                values,
                strict=True,
            )
            if replace:
                rows = list(rows)
                summary.replaced += _delete_existing(connection, rows)
            bulk.insert(connection, "response", INSERT_COLUMNS, rows)  # streamed to the driver
            form_parts.append(_form_sums(part, family_ids, member_ids, session_ids, instruments))
            summary.rows += len(values)
            summary.unanswered += values.count(None)
            if not part.with_mode:
                # Forms in sessions stored before may have a request: kept for the end.
                known = _known_forms(part, entities)
                if known:
                    bulk.insert(connection, _ANSWERED.name, ANSWERED_COLUMNS, known, skip_existing=True)
        if with_mode:
            problems.add(*_mode_conflicts(connection))
        if problems:
            raise ImportRejected(sorted(problems.items, key=lambda p: p.line or 0), problems.total)
        _store_scores(form_parts, entities, instruments)
        _record_attendance(connection, entities)
        _answer_requests(connection, entities, with_mode, replace, now)
        for table in reversed(_TEMPORARY):
            table.drop(connection)
        if summary.families_created:
            # A family the file created started with its first session.
            first = (
                sa.select(sa.func.min(TherapySession.date))
                .where(TherapySession.family_id == Family.id)
                .scalar_subquery()
            )
            db.session.execute(
                sa.update(Family).where(Family.code.in_(summary.families_created)).values(start_date=first)
            )
        written = [family_id for family_id in entities.families.values() if family_id is not None]
        # Their stored summaries are stale from this commit on (until _summarise stores them again).
        summaries.touch(written)
        db.session.commit()
    except sa.exc.IntegrityError:
        # The store refused a key twice: in the file, or already stored. Find the lines.
        db.session.rollback()
        found = diagnose_duplicates(path, replace)
        raise ImportRejected(found[:MAX_REPORTED], len(found)) from None
    except BaseException:  # _NeedsExactReader included: the caller starts again with the exact reader
        db.session.rollback()
        raise
    _summarise(written)
    return summary


def _summarise(family_ids: list[int]) -> None:
    """After the import's commit: the expected trajectory, then the caseload's summaries of the families it wrote.

    Each in a transaction of its own, the summaries a batch of families at a time (as ``flask
    refresh-summaries``), so the answers' transaction does not hold them and requests for other
    families go on meanwhile. The import's commit raised the families' revisions: a summary not
    stored here (a failure, the process stopped) stays stale, never wrong, and the next caseload
    page or ``flask refresh-summaries`` computes it; so a failure here is logged, not raised.
    """
    try:
        begin_write()
        # The trajectory learns from the data just stored (and stores the summaries it moves again).
        trajectories.refresh()
        db.session.commit()
        for start in range(0, len(family_ids), rescoring.BATCH):
            batch = family_ids[start : start + rescoring.BATCH]
            begin_write()
            summaries.hold(batch)
            rescoring.store_summaries(batch)
            db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("the import's data is stored; its families' summaries are left for the caseload to compute")


def _form_sums(
    part: _Part,
    family_ids: np.ndarray,
    member_ids: np.ndarray,
    session_ids: np.ndarray,
    instruments: Mapping[str, Instrument],
) -> pd.DataFrame:
    """A stored chunk's forms with their dimensions' sums (``scoring.form_sums``), keyed by ids (``scores.FORM_KEY``).

    In the storing thread, on the ids it just found: numbering forms by integers is cheap, and work in
    the reading thread would slow the storing thread's inserts as much (both need the interpreter).
    Kept small until the end of the file: the key's words as categories, the sums as small integers.
    """
    chunk = part.chunk
    answers = pd.DataFrame(
        {
            "family_id": family_ids,
            "member_id": member_ids,
            "session_id": session_ids,
            **{name: chunk[name].array for name in ("informant", "target", "instrument", "item")},
            "value": part.values,
        }
    )
    sums = scoring.form_sums(answers, instruments, key=list(scores.FORM_KEY)).reset_index(drop=True)
    words = {"informant": INFORMANTS, "target": TARGETS, "instrument": sorted(instruments)}
    return sums.astype(
        {name: pd.CategoricalDtype(categories) for name, categories in words.items()}
        | {name: np.int32 for name in scoring.SUM_COLUMNS}
        | {name: np.int16 for name in scoring.COUNT_COLUMNS}
    )


def _store_scores(form_parts: list[pd.DataFrame], entities: _Entities, instruments: Mapping[str, Instrument]) -> None:
    """The scores of every form the file wrote, in the import's transaction.

    A form in a session the import created holds only the file's answers: it is scored from the
    sums taken as the file was read (a form split over chunks has its parts added up first) and
    stored in bulk. A form in a session stored before may hold other answers too: it is scored
    again from the store (``scores.rescore_forms``).
    """
    if not form_parts:
        return
    key = list(scores.FORM_KEY)
    sums = pd.concat(form_parts, ignore_index=True)
    form_parts.clear()
    new = sums["session_id"].isin(list(entities.new_sessions)).to_numpy()
    fresh = sums[new]
    if fresh.duplicated(key).any():
        fresh = fresh.groupby(key, sort=False, as_index=False, observed=True).sum()
    scores.store_sums(fresh, instruments)
    if not new.all():
        scores.rescore_forms(sums.loc[~new, key].drop_duplicates().itertuples(index=False, name=None), instruments)


def _pylist(column: pd.Series, cast: str | None = None) -> list:
    """A column as a Python list through Arrow (fast for text), optionally cast (empty text becomes None)."""
    import pyarrow as pa

    array = pa.array(column, from_pandas=True)
    return (array.cast(cast) if cast else array).to_pylist()


@dataclass
class _Part:
    """A checked chunk, with everything the storing thread needs already taken out of pandas."""

    chunk: pd.DataFrame
    found: list[Problem]
    #: Distinct (family, member, role, session, date, line) of the rows whose entity fields are valid.
    combos: list[tuple]
    families: list[str]
    #: informant, target, instrument, item and value columns as lists (only for a chunk without problems).
    columns: dict[str, list]
    #: The rows' line numbers.
    lines: np.ndarray
    #: Whether the file has the mode column (else every form's mode is ``import``).
    with_mode: bool
    #: With the mode column: the chunk's forms with each mode they are given, as rows of ``_FORMS``.
    form_rows: list[tuple]
    #: The values as numbers (NaN: unanswered), for the forms' scores (only for a chunk without problems).
    values: np.ndarray | None = None


#: The fields that say which form a row belongs to, and how it was given.
FORM_FIELDS = (*FORM_KEY, MODE)


def _forms(chunk: pd.DataFrame, lines: np.ndarray, found: list[Problem]) -> pd.DataFrame:
    """The chunk's distinct (form, mode) pairs with the first line of each, from rows whose form fields are valid.

    Only the distinct rows are copied out of the chunk (a few per form, not every item).
    """
    with_mode = MODE in chunk.columns
    keys = [*FORM_KEY, MODE] if with_mode else FORM_KEY
    faulty = [p.line for p in found if p.field in FORM_FIELDS]
    # Rows run in line order: the first row of each form and mode is its first line.
    if faulty:
        valid = ~np.isin(lines, faulty)
        first = np.zeros(len(chunk), dtype=bool)
        first[np.flatnonzero(valid)] = ~chunk.loc[valid, keys].duplicated().to_numpy()
    else:
        first = ~chunk.duplicated(keys).to_numpy()
    forms = chunk.loc[first, keys].assign(line=lines[first])
    forms["session"] = forms["session"].astype("int64")
    return forms if with_mode else forms.assign(**{MODE: IMPORT_MODE})


def _form_rows(forms: pd.DataFrame) -> list[tuple]:
    """``_Part.forms`` as rows of ``_FORMS``."""
    if forms.empty:
        return []
    return list(
        zip(
            *(_pylist(forms[c]) for c in FORM_KEY[:2]),
            forms["session"].tolist(),
            *(_pylist(forms[c]) for c in (*FORM_KEY[3:], MODE)),
            forms["line"].tolist(),
            strict=True,
        )
    )


def _prepare(chunk: pd.DataFrame, lines: np.ndarray, instruments: Mapping[str, Instrument]) -> _Part:
    """Check a chunk and take out what storing it needs (runs in the reading thread)."""
    for name in ("family", "member"):
        chunk[name] = unquote(chunk[name])
    found = check_long_chunk(chunk, lines, instruments)
    faulty = [p.line for p in found if p.field in ENTITY_FIELDS]
    combos = chunk[list(ENTITY_FIELDS)].assign(line=lines)
    if faulty:
        combos = combos[~np.isin(lines, faulty)]
    combos = combos.drop_duplicates(list(ENTITY_FIELDS))
    dates = {text: dt.date.fromisoformat(text) for text in combos["date"].unique()}
    entity_rows = [
        (family, member, role, int(session), dates[date], line)
        for family, member, role, session, date, line in zip(
            *(_pylist(combos[c]) for c in ENTITY_FIELDS), combos["line"].tolist(), strict=True
        )
    ]
    columns, values = {}, None
    if not found:
        columns = {name: _pylist(chunk[name]) for name in ("informant", "target", "instrument", "item")}
        # The values as the shared check read them (" 5" and "+5" are 5), each distinct text parsed once.
        parsed = {text: parse_value(text)[0] for text in chunk["value"].unique()}
        columns["value"] = [parsed[text] for text in _pylist(chunk["value"])]
        # Each distinct text once: the reading thread holds the interpreter as little as it can (see _form_sums).
        codes, texts = pd.factorize(chunk["value"])
        numbers = np.array([np.nan if parsed[t] is None else parsed[t] for t in texts], dtype="float64")
        values = numbers[codes] if len(texts) else np.zeros(0)
    with_mode = MODE in chunk.columns
    return _Part(
        chunk,
        found,
        entity_rows,
        _pylist(pd.Series(combos["family"].unique())),
        columns,
        lines,
        with_mode,
        _form_rows(_forms(chunk, lines, found)) if with_mode else [],
        values,
    )


def _checked(
    chunks: Iterator[tuple[pd.DataFrame, np.ndarray]], instruments: Mapping[str, Instrument]
) -> Iterator[_Part]:
    """Read and check the next chunks in a second thread while this one stores the current chunk.

    Parsing and the column checks run mostly outside the GIL (Arrow, pandas), as does SQLite's
    work on the insert, so the two overlap on a machine with two cores. The database is only
    touched from the calling thread.
    """
    import queue
    import threading

    ready: queue.Queue = queue.Queue(maxsize=2)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk, lines in chunks:
                item = _prepare(chunk, lines, instruments)
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(exc)

    worker = threading.Thread(target=produce, name="import-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _pairs(family: np.ndarray, families: Sequence, other: pd.Series) -> tuple[np.ndarray, list[tuple]]:
    """Number the rows' (family, ``other``) pairs in order of first appearance: (number per row, the pairs).

    Integers all the way (the family's code number times the other's), so each distinct pair is
    looked up once, not each row merged on text.
    """
    codes, uniques = pd.factorize(other)
    pair, combined = pd.factorize(family * len(uniques) + codes)
    found = uniques[combined % len(uniques)]
    return pair, list(zip((families[i] for i in combined // len(uniques)), _pylist(pd.Series(found)), strict=True))


def _ids(chunk: pd.DataFrame, entities: _Entities) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The family, member and session id of every row, creating the new ones in bulk."""
    family, uniques = pd.factorize(chunk["family"])
    families = _pylist(pd.Series(uniques))
    member, members = _pairs(family, families, chunk["member"])
    session, sessions = _pairs(family, families, chunk["session"].astype("int64"))
    sessions = [(f, int(n)) for f, n in sessions]
    entities.create_missing(families, members, sessions)
    return (
        np.array([entities.families[f] for f in families], dtype=np.int64)[family],
        np.array([entities.members[key][0] for key in members], dtype=np.int64)[member],
        np.array([entities.sessions[key][0] for key in sessions], dtype=np.int64)[session],
    )


def _form_name(family, member, session, informant, target, instrument) -> str:
    """A form as problems name it: F1/M1/1/self/therapist/check4."""
    return "/".join(map(str, (family, member, session, informant, target, instrument)))


def _mode_conflicts(connection: sa.Connection) -> tuple[list[Problem], int]:
    """Forms of the file given two ways: the first lines of every mode after the form's first; and how many in all.

    Set-based on the temporary table of the file's forms (one row per form and mode): the count is
    one query, and only the forms with more than one mode are read back.
    """
    f = _FORMS.c
    key = [f[name] for name in FORM_KEY]
    twice = (
        sa.select(*key, sa.func.count().label("modes"), sa.func.min(f.line).label("first"))
        .group_by(*key)
        .having(sa.func.count() > 1)
        .subquery()
    )
    total = connection.execute(sa.select(sa.func.coalesce(sa.func.sum(twice.c.modes - 1), 0))).scalar_one()
    if not total:
        return [], 0
    # Of the forms given two ways, those that begin first in the file.
    forms = sa.select(*(twice.c[name] for name in FORM_KEY)).order_by(twice.c.first).limit(MAX_REPORTED).subquery()
    rows = connection.execute(
        sa.select(*key, f.mode, f.line)
        .join(forms, sa.and_(*(column == forms.c[column.name] for column in key)))
        .order_by(*key, f.line)
    ).all()
    problems = []
    for _form, given in itertools.groupby(rows, key=lambda row: tuple(row[: len(FORM_KEY)])):
        first, *others = given
        problems += [
            mode_conflict(_form_name(*_form), first.mode, first.line, other.mode, other.line) for other in others
        ]
    problems.sort(key=lambda p: p.line or 0)
    return problems[:MAX_REPORTED], int(total)


def _known_forms(part: _Part, entities: _Entities) -> list[tuple]:
    """The forms of a clean chunk without the mode column in sessions stored before the import, as rows of
    ``_ANSWERED``.

    Decided per session (from the chunk's distinct entity rows): the forms are taken out of the
    chunk only for the rows of sessions stored before, so nothing at all when the import created
    every session the chunk names.
    """
    stored = {
        (family, number)
        for family, _member, _role, number, _date, _line in part.combos
        if entities.sessions[(family, number)][0] not in entities.new_sessions
    }
    if not stored:
        return []
    chunk = part.chunk
    rows = pd.MultiIndex.from_arrays([chunk["family"], chunk["session"].astype("int64")]).isin(list(stored))
    forms = _forms(chunk[rows], part.lines[rows], [])
    known = []
    for family, member, session, informant, target, instrument, mode, line in _form_rows(forms):
        session_id, member_id = entities.sessions[(family, session)][0], entities.members[(family, member)][0]
        known.append(
            (session_id, member_id, instrument, target, entities.families[family], mode, line)
            + (family, member, session, informant)
        )
    return known


def _record_attendance(connection: sa.Connection, entities: _Entities) -> None:
    """Members with answers in a session the import created were present: one INSERT ... SELECT from the forms'
    stored rows (the import's sessions noted in ``_NEW_SESSIONS`` for this and for the requests)."""
    if not entities.new_sessions:
        return
    bulk.insert(
        connection,
        _NEW_SESSIONS.name,
        ("id", "family_id"),
        [
            (known[0], entities.families[family])
            for (family, _number), known in entities.sessions.items()
            if known[0] in entities.new_sessions
        ],
    )
    f, n = FormScore.__table__.c, _NEW_SESSIONS.c
    connection.execute(
        Attendance.__table__.insert().from_select(
            ["family_id", "member_id", "session_id", "present"],
            sa.select(f.family_id, f.member_id, f.session_id, sa.literal(True))
            .where(f.family_id.in_(sa.select(n.family_id)), f.session_id.in_(sa.select(n.id)))
            .distinct(),
        )
    )


def _answer_requests(
    connection: sa.Connection, entities: _Entities, with_mode: bool, replace: bool, now: dt.datetime
) -> None:
    """Every form of the file as an answered questionnaire request, set-based: a handful of statements in all.

    A file without the mode column: the forms of the sessions the import created get their
    requests by one INSERT ... SELECT from their stored scores, one row per form (mode ``import``).
    A file with it: all its forms are matched to their family, member and session by one
    INSERT ... SELECT. Then the
    forms kept for the end: an answered request is refused (ImportRejected, naming the form's
    first line) unless ``replace`` (its answers were replaced, so it takes the file's mode); the
    others (open, in progress, expired, withdrawn) are answered now in the file's mode by one
    UPDATE, and the forms without a request get one, answered, by one INSERT ... SELECT.
    """
    a, q = _ANSWERED.c, QuestionnaireRequest.__table__.c
    requests = QuestionnaireRequest.__table__
    stamp = sa.literal(now, q.answered_at.type)
    if with_mode:
        f = _FORMS.c
        connection.execute(
            _ANSWERED.insert().from_select(
                list(ANSWERED_COLUMNS),
                sa.select(
                    TherapySession.id,
                    Member.id,
                    f.instrument,
                    f.target,
                    Family.id,
                    f.mode,
                    f.line,
                    f.family,
                    f.member,
                    f.session,
                    f.informant,
                )
                .join(Family, Family.code == f.family)
                .join(Member, (Member.family_id == Family.id) & (Member.code == f.member))
                .join(TherapySession, (TherapySession.family_id == Family.id) & (TherapySession.number == f.session)),
            )
        )
    elif entities.new_sessions:
        # One stored form row per form (scored or not), already stored: a quarter of the rows to read.
        r, n = FormScore.__table__.c, _NEW_SESSIONS.c
        connection.execute(
            requests.insert().from_select(
                list(REQUEST_COLUMNS),
                sa.select(
                    r.family_id,
                    r.session_id,
                    r.member_id,
                    r.instrument,
                    r.target,
                    stamp,
                    stamp,
                    sa.literal(IMPORT_MODE),
                )
                # By family, the key's first column; then the family's new sessions.
                .where(r.family_id.in_(sa.select(n.family_id)), r.session_id.in_(sa.select(n.id))),
            )
        )
    same = (q.session_id == a.session_id) & (q.member_id == a.member_id) & (q.instrument == a.instrument)
    same &= q.target == a.target
    if not replace:
        answered = (
            sa.select(a.line, a.family, a.member, a.session, a.informant, a.target, a.instrument, q.answered_mode)
            .join_from(_ANSWERED, requests, same)
            .where(q.answered_at.is_not(None))
        )
        total = connection.execute(sa.select(sa.func.count()).select_from(answered.subquery())).scalar_one()
        if total:
            found = [
                Problem(
                    "instrument",
                    f"form {_form_name(*form)} is already answered (mode {mode or 'unknown'}); "
                    "import with --replace to replace it",
                    line,
                )
                for line, *form, mode in connection.execute(answered.order_by(a.line).limit(MAX_REPORTED))
            ]
            raise ImportRejected(found, total)
    mode = sa.func.nullif(a.mode, "")
    # The requests by their ids (found through the form's key), each taking its form's mode: both
    # lookups go by an index, whatever the sizes of the two tables.
    matched = requests.alias("matched")
    ids = sa.select(matched.c.id).join_from(
        _ANSWERED,
        matched,
        (matched.c.session_id == a.session_id)
        & (matched.c.member_id == a.member_id)
        & (matched.c.instrument == a.instrument)
        & (matched.c.target == a.target),
    )
    connection.execute(
        sa.update(requests)
        .where(q.id.in_(ids))
        .values(
            answered_at=stamp,
            answered_mode=sa.select(mode).where(same).scalar_subquery(),
            answered_by_id=None,
            withdrawn_at=None,
            draft=None,
        )
    )
    connection.execute(
        requests.insert().from_select(
            list(REQUEST_COLUMNS),
            sa.select(a.family_id, a.session_id, a.member_id, a.instrument, a.target, stamp, stamp, mode).where(
                ~sa.exists().where(same)
            ),
        )
    )


def _delete_existing(connection: sa.Connection, rows: list[tuple]) -> int:
    """Delete stored answers with the keys of ``rows`` (for ``replace``); return how many."""
    delete = sa.delete(Response).where(
        Response.family_id == sa.bindparam("f"),
        Response.member_id == sa.bindparam("m"),
        Response.session_id == sa.bindparam("s"),
        Response.informant == sa.bindparam("i"),
        Response.target == sa.bindparam("t"),
        Response.instrument == sa.bindparam("n"),
        Response.item == sa.bindparam("k"),
    )
    params = [dict(zip("fmsitnk", row[:7], strict=True)) for row in rows]
    result = connection.execute(delete, params)
    return result.rowcount if result.rowcount and result.rowcount > 0 else 0


def diagnose_duplicates(path: Path, replace: bool) -> list[Problem]:
    """After the store refused a duplicate key: find which lines repeat a key, or hit stored answers.

    Reads the file again into a temporary table of keys and lines (this path runs only when an
    import already failed), then asks the database.
    """
    staging = sa.Table(
        "import_keys",
        sa.MetaData(),
        sa.Column("line", sa.Integer),
        *(sa.Column(name, sa.Integer if name == "session" else sa.String(64)) for name in KEY),
        prefixes=["TEMPORARY"],
    )
    connection = db.session.connection()
    staging.create(connection)
    try:
        for chunk, lines in read_chunks(path, _Problems()):
            for name in ("family", "member"):
                chunk[name] = unquote(chunk[name])
            records = chunk[list(KEY)].assign(session=pd.to_numeric(chunk["session"], errors="coerce"), line=lines)
            connection.execute(staging.insert(), records.to_dict("records"))
        s = staging.c
        repeated = connection.execute(
            sa.select(*(s[k] for k in KEY), sa.func.min(s.line), sa.func.max(s.line), sa.func.count())
            .group_by(*(s[k] for k in KEY))
            .having(sa.func.count() > 1)
            .order_by(sa.func.min(s.line))
            .limit(MAX_REPORTED)
        ).all()
        problems = [
            Problem("item", f"a second answer for {'/'.join(map(str, r[:7]))} (first on line {r[7]})", r[8])
            for r in repeated
        ]
        if not replace:
            stored = connection.execute(
                sa.select(s.line, *(s[k] for k in KEY))
                .join(Family, Family.code == s.family)
                .join(Member, (Member.family_id == Family.id) & (Member.code == s.member))
                .join(TherapySession, (TherapySession.family_id == Family.id) & (TherapySession.number == s.session))
                .join(
                    Response,
                    (Response.family_id == Family.id)
                    & (Response.member_id == Member.id)
                    & (Response.session_id == TherapySession.id)
                    & (Response.informant == s.informant)
                    & (Response.target == s.target)
                    & (Response.instrument == s.instrument)
                    & (Response.item == s.item),
                )
                .order_by(s.line)
                .limit(MAX_REPORTED)
            ).all()
            problems += [
                Problem(
                    "item", f"{'/'.join(map(str, r[1:]))} is already stored; import with --replace to replace it", r[0]
                )
                for r in stored
            ]
    finally:
        db.session.rollback()
    return sorted(problems, key=lambda p: p.line or 0)
