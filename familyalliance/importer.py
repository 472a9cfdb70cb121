"""Import of the long CSV (metrics.md section 3): streamed, checked, all or nothing.

The file is read a chunk of rows at a time with the csv module, checked with the shared
rules of ``validation.check_long_chunk`` plus the rules across rows (one date per session,
one role per member, one answer per key), and written in the same transaction straight into
the response store. Any problem rolls everything back (families, members and sessions the
import created included) and is reported with its line number. Memory holds one chunk and
the codes of the families, members and sessions seen, never the whole file.

Answers the store already holds are refused as duplicates; with ``replace`` they are
replaced, in the same transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from . import operations
from .extensions import db
from .instruments import Instrument
from .models import Attendance, Family, Member, Response, Team, TherapySession, User, utcnow
from .validation import LONG_HEADER, Problem, check_long_chunk

CHUNK_ROWS = 50_000
#: Problems reported in full; the rest are counted.
MAX_REPORTED = 100
KEY = ("family", "member", "session", "informant", "target", "instrument", "item")
INSERT_COLUMNS = ("family_id", "member_id", "session_id", "informant", "target", "instrument", "item", "value",
                  "created_at")  # fmt: skip


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

    def add(self, problems: Sequence[Problem]) -> None:
        self.total += len(problems)
        room = MAX_REPORTED - len(self.items)
        if room > 0:
            self.items.extend(problems[:room])

    def __bool__(self) -> bool:
        return self.total > 0


def strip_quote(value: str) -> str:
    """Undo the leading apostrophe exports put before text cells a spreadsheet would run (``'-F1``)."""
    return value[1:] if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@") else value


def read_chunks(path: Path, problems: _Problems) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield (rows as text DataFrame, their line numbers); bad headers, field counts and encodings become problems."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, strict=True)
            header = next(reader, None)
            if header is None:
                problems.add([Problem("file", "the file is empty; expected the header "
                                              + ",".join(LONG_HEADER), 1)])  # fmt: skip
                return
            if header != LONG_HEADER:
                problems.add([Problem("header", f"the header must be exactly {','.join(LONG_HEADER)}; found "
                                                f"{','.join(header)}", 1)])  # fmt: skip
                return
            rows: list[list[str]] = []
            lines: list[int] = []
            seen_rows = False
            for record in reader:
                seen_rows = True
                if len(record) != len(LONG_HEADER):
                    if record:  # a blank line is no row
                        problems.add([Problem("line", f"has {len(record)} fields; expected {len(LONG_HEADER)}",
                                              reader.line_num)])  # fmt: skip
                    continue
                rows.append(record)
                lines.append(reader.line_num)
                if len(rows) >= CHUNK_ROWS:
                    yield pd.DataFrame(rows, columns=LONG_HEADER), np.array(lines)
                    rows, lines = [], []
            if rows:
                yield pd.DataFrame(rows, columns=LONG_HEADER), np.array(lines)
            elif not seen_rows:
                problems.add([Problem("file", "the file has a header but no rows", 1)])
    except UnicodeDecodeError:
        problems.add([Problem("file", "is not UTF-8 text (save it as CSV UTF-8)", _first_bad_line(path))])
    except csv.Error as exc:
        problems.add([Problem("file", f"cannot be read as CSV: {exc}", None)])


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

    def _load(self, code: str) -> None:
        if code in self.families:
            return
        family = db.session.scalar(sa.select(Family).where(Family.code == code))
        self.families[code] = family.id if family else None
        if family is not None:
            for m in family.members:
                self.members[(code, m.code)] = [m.id, m.role, None]
            for s in family.sessions:
                self.sessions[(code, s.number)] = [s.id, s.date, None]

    def observe(self, family: str, member: str, role: str, number: int, date: dt.date, line: int) -> list[Problem]:
        """Check one row's role and date against what the file and the store said before."""
        self._load(family)
        problems = []
        known = self.members.setdefault((family, member), [None, role, line])
        if known[1] != role:
            where = f"on line {known[2]}" if known[2] else "in the database"
            problems.append(Problem("role", f"member {member} of family {family} has role {known[1]!r} {where}; a "
                                            f"member keeps one role, this line says {role!r}", line))  # fmt: skip
        session = self.sessions.setdefault((family, number), [None, date, line])
        if session[1] != date:
            where = f"on line {session[2]}" if session[2] else "in the database"
            problems.append(Problem("date", f"session {number} of family {family} has date {session[1].isoformat()} "
                                            f"{where}; one date per session, this line says {date.isoformat()}",
                                    line))  # fmt: skip
        return problems

    def family_id(self, code: str) -> int:
        if self.families[code] is None:
            family = operations.create_family(code, dt.date.today(), self.therapists, self.team)
            self.families[code] = family.id
            self.summary.families_created.append(code)
        return self.families[code]

    def member_id(self, family: str, code: str) -> int:
        known = self.members[(family, code)]
        if known[0] is None:
            member = Member(family_id=self.family_id(family), code=code, display_name=code, role=known[1])
            db.session.add(member)
            db.session.flush()
            known[0] = member.id
            self.summary.members_created += 1
        return known[0]

    def session_id(self, family: str, number: int) -> int:
        known = self.sessions[(family, number)]
        if known[0] is None:
            session = TherapySession(family_id=self.family_id(family), number=number, date=known[1])
            db.session.add(session)
            db.session.flush()
            known[0] = session.id
            self.new_sessions.add(session.id)
            self.summary.sessions_created += 1
        return known[0]


ENTITY_FIELDS = ("family", "member", "role", "session", "date")


def import_long_csv(
    path: Path,
    instruments: Mapping[str, Instrument],
    replace: bool = False,
    team: Team | None = None,
    therapists: Sequence[User] = (),
) -> ImportSummary:
    """Import a long CSV file; commit and return what was stored, or raise ImportRejected having stored nothing."""
    summary = ImportSummary()
    problems = _Problems()
    entities = _Entities(summary, team, therapists)
    connection = db.session.connection()
    now = utcnow()
    attendance: set[tuple[int, int, int]] = set()
    try:
        for chunk, lines in read_chunks(path, problems):
            for name in ("family", "member"):
                chunk[name] = chunk[name].map(strip_quote)
            found = check_long_chunk(chunk, lines, instruments)
            problems.add(found)
            # Roles and dates across rows, on the rows whose codes, role, session and date are valid.
            faulty = {p.line for p in found if p.field in ENTITY_FIELDS}
            combos = chunk.assign(line=lines)[~np.isin(lines, list(faulty))]
            for row in combos.drop_duplicates(list(ENTITY_FIELDS)).itertuples(index=False):
                problems.add(entities.observe(row.family, row.member, row.role, int(row.session),
                                              dt.date.fromisoformat(row.date), row.line))  # fmt: skip
            if problems:
                continue  # keep checking the rest of the file; store nothing more
            family_ids, member_ids, session_ids = _ids(chunk, entities)
            values = pd.to_numeric(chunk["value"].where(chunk["value"] != ""), errors="raise")
            rows = list(zip(family_ids.tolist(), member_ids.tolist(), session_ids.tolist(),
                            chunk["informant"].tolist(), chunk["target"].tolist(), chunk["instrument"].tolist(),
                            chunk["item"].tolist(), [None if v != v else int(v) for v in values.tolist()],
                            strict=True))  # fmt: skip
            if replace:
                summary.replaced += _delete_existing(connection, rows)
            _insert(connection, rows, now)
            summary.rows += len(rows)
            summary.unanswered += int(values.isna().sum())
            for f, m, s in zip(family_ids.tolist(), member_ids.tolist(), session_ids.tolist(), strict=True):
                if s in entities.new_sessions:
                    attendance.add((f, m, s))
        if problems:
            raise ImportRejected(sorted(problems.items, key=lambda p: p.line or 0), problems.total)
        if attendance:
            present = [{"family_id": f, "member_id": m, "session_id": s, "present": True} for f, m, s in attendance]
            db.session.execute(sa.insert(Attendance), present)
        db.session.commit()
    except (sa.exc.IntegrityError, connection.dialect.dbapi.IntegrityError):
        # The store refused a key twice: in the file, or already stored. Find the lines.
        db.session.rollback()
        found = diagnose_duplicates(path, replace)
        raise ImportRejected(found[:MAX_REPORTED], len(found)) from None
    except BaseException:
        db.session.rollback()
        raise
    return summary


def _ids(chunk: pd.DataFrame, entities: _Entities) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The family, member and session id of every row, creating the new ones."""
    for row in chunk.drop_duplicates(["family", "member", "session"]).itertuples(index=False):
        entities.member_id(row.family, row.member)
        entities.session_id(row.family, int(row.session))
    family_ids = chunk["family"].map(entities.families).to_numpy(dtype=np.int64)
    member_ids = np.fromiter(
        (entities.members[(f, m)][0] for f, m in zip(chunk["family"], chunk["member"], strict=True)), dtype=np.int64,
        count=len(chunk))  # fmt: skip
    session_ids = np.fromiter(
        (entities.sessions[(f, int(s))][0] for f, s in zip(chunk["family"], chunk["session"], strict=True)),
        dtype=np.int64, count=len(chunk))  # fmt: skip
    return family_ids, member_ids, session_ids


def _insert(connection: sa.Connection, rows: list[tuple], now: dt.datetime) -> None:
    """Write rows into the response store on the fastest path each database offers."""
    raw = connection.connection.driver_connection
    columns = ", ".join(INSERT_COLUMNS)
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY response ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, now))
    elif connection.dialect.name == "sqlite":
        stamp = now.isoformat(sep=" ")
        raw.executemany(f"INSERT INTO response ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(*row, stamp) for row in rows])  # fmt: skip
    else:
        keys = INSERT_COLUMNS[:-1]
        db.session.execute(sa.insert(Response), [dict(zip(keys, row, strict=True)) | {"created_at": now}
                                                  for row in rows])  # fmt: skip


def _delete_existing(connection: sa.Connection, rows: list[tuple]) -> int:
    """Delete stored answers with the keys of ``rows`` (for ``replace``); return how many."""
    delete = sa.delete(Response).where(
        Response.family_id == sa.bindparam("f"), Response.member_id == sa.bindparam("m"),
        Response.session_id == sa.bindparam("s"), Response.informant == sa.bindparam("i"),
        Response.target == sa.bindparam("t"), Response.instrument == sa.bindparam("n"),
        Response.item == sa.bindparam("k"),
    )  # fmt: skip
    params = [dict(zip("fmsitnk", row[:7], strict=True)) for row in rows]
    result = connection.execute(delete, params)
    return result.rowcount if result.rowcount and result.rowcount > 0 else 0


def diagnose_duplicates(path: Path, replace: bool) -> list[Problem]:
    """After the store refused a duplicate key: find which lines repeat a key, or hit stored answers.

    Reads the file again into a temporary table of keys and lines (this path runs only when an
    import already failed), then asks the database.
    """
    staging = sa.Table(
        "import_keys", sa.MetaData(), sa.Column("line", sa.Integer),
        *(sa.Column(name, sa.Integer if name == "session" else sa.String(64)) for name in KEY),
        prefixes=["TEMPORARY"],
    )  # fmt: skip
    connection = db.session.connection()
    staging.create(connection)
    try:
        for chunk, lines in read_chunks(path, _Problems()):
            for name in ("family", "member"):
                chunk[name] = chunk[name].map(strip_quote)
            records = chunk[list(KEY)].assign(session=pd.to_numeric(chunk["session"], errors="coerce"), line=lines)
            connection.execute(staging.insert(), records.to_dict("records"))
        s = staging.c
        repeated = connection.execute(
            sa.select(*(s[k] for k in KEY), sa.func.min(s.line), sa.func.max(s.line), sa.func.count())
            .group_by(*(s[k] for k in KEY)).having(sa.func.count() > 1).order_by(sa.func.min(s.line))
            .limit(MAX_REPORTED)
        ).all()  # fmt: skip
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
                .join(Response, (Response.family_id == Family.id) & (Response.member_id == Member.id)
                      & (Response.session_id == TherapySession.id) & (Response.informant == s.informant)
                      & (Response.target == s.target) & (Response.instrument == s.instrument)
                      & (Response.item == s.item))
                .order_by(s.line).limit(MAX_REPORTED)
            ).all()  # fmt: skip
            problems += [
                Problem(
                    "item", f"{'/'.join(map(str, r[1:]))} is already stored; import with --replace to replace it", r[0]
                )  # fmt: skip
                for r in stored
            ]
    finally:
        db.session.rollback()
    return sorted(problems, key=lambda p: p.line or 0)
