"""``backup`` and ``restore``: online SQLite copies through the backup API, restores that change
nothing when refused, and the pg_dump/pg_restore guidance on PostgreSQL.

The SQLite tests run on an app of their own with its own SQLite file (built by the real
migrations), so they run the same whether the suite uses SQLite or PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
import threading
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask

from familyalliance.services import backup, casework, responses
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, Response, TherapySession

from ..factories import commit, gen_family, gen_member, gen_session, gen_user

HEAD = ScriptDirectory(str(Path(__file__).resolve().parents[2] / "migrations")).get_current_head()


@dataclass
class Live:
    """An app on its own SQLite file, and a CLI runner for it."""

    app: Flask
    path: Path

    def invoke(self, *args: str, **kwargs):
        return self.app.test_cli_runner().invoke(args=[str(arg) for arg in args], **kwargs)


def migrated_app(make_app, path: Path, revision: str = "head") -> Flask:
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        flask_migrate.upgrade(revision=revision)
    return app


def fill() -> None:
    """Two families: FAM-A (three members, two sessions, answers) and FAM-B (one member, one session)."""
    therapist = gen_user(email="therapist@example.org")
    family = gen_family("FAM-A", [therapist])
    members = [
        gen_member(family, "M1", "mother", display_name="Anna"),
        gen_member(family, "F1", "father", display_name="Bert"),
        gen_member(family, "C1", "child", display_name="Kim", birth_year=2015),
    ]
    sessions = [gen_session(family, 1), gen_session(family, 2)]
    items = ["bond", "goals_tasks", "safety", "shared_purpose"]
    responses.store_responses(
        {
            "family_id": family.id,
            "member_id": member.id,
            "session_id": session.id,
            "informant": "self",
            "target": "therapist",
            "instrument": "check4",
            "item": item,
            "value": (3 * i + 2 * j + k) % 11,
        }
        for i, member in enumerate(members)
        for j, session in enumerate(sessions)
        for k, item in enumerate(items)
    )
    other = gen_family("FAM-B", [therapist])
    gen_member(other, "M1", "mother", display_name="Carla")
    gen_session(other, 1)
    commit()


@pytest.fixture
def live(make_app, tmp_path) -> Live:
    path = tmp_path / "live" / "familyalliance.sqlite"
    path.parent.mkdir()
    app = migrated_app(make_app, path)
    with app.app_context():
        fill()
    return Live(app, path)


def snapshot(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table of an SQLite file, sorted, read without changing anything."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            table: sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in tables
            if not table.startswith("sqlite_")
        }


def family_facts(app: Flask, code: str) -> tuple:
    """A family's members (code, name, role) and its answers by (member, session, item), read through the app."""
    with app.app_context():
        family = db.session.scalar(sa.select(Family).where(Family.code == code))
        if family is None:
            return None
        members = [(m.code, m.display_name, m.role) for m in family.members]
        answers = db.session.execute(
            sa.select(Member.code, TherapySession.number, Response.item, Response.value)
            .join(Member, Member.id == Response.member_id)
            .join(TherapySession, TherapySession.id == Response.session_id)
            .where(Response.family_id == family.id)
            .order_by(Member.code, TherapySession.number, Response.item)
        ).all()
        db.session.remove()
        return members, [tuple(row) for row in answers]


def assert_clean_failure(result, *fragments: str) -> None:
    """Refused with a message (exit 1), never a traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


# --- backup ------------------------------------------------------------------------------------


def test_backup_is_a_checked_self_contained_copy(live, tmp_path):
    # The app's connections are open, so the latest commits are still in the WAL file, not the main file.
    assert Path(f"{live.path}-wal").stat().st_size > 0
    target = tmp_path / "backups" / "fa.sqlite"
    target.parent.mkdir()
    result = live.invoke("backup", target)
    assert result.exit_code == 0, result.output
    assert f"Wrote {target}" in result.output
    assert "integrity check ok" in result.output
    assert f"Schema revision {HEAD} (the code's head)" in result.output
    assert "rows: family 2, member 4, therapy_session 3, response 24." in result.output
    assert snapshot(target) == snapshot(live.path)
    with closing(sqlite3.connect(target)) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert sorted(p.name for p in target.parent.iterdir()) == ["fa.sqlite"]  # no temporary file, no -wal
    assert target.stat().st_mode & 0o077 == 0  # private, like the database's contents


def test_backup_is_consistent_while_a_write_transaction_is_open(live, tmp_path):
    before = snapshot(live.path)
    with closing(sqlite3.connect(live.path, isolation_level=None, timeout=5)) as writer:
        writer.execute("BEGIN IMMEDIATE")  # holds the write lock, as the app does while storing answers
        writer.execute("DELETE FROM response WHERE value > 5")
        writer.execute("UPDATE member SET display_name = 'changed'")
        result = live.invoke("backup", tmp_path / "during.sqlite")
        assert result.exit_code == 0, result.output
        writer.execute("COMMIT")
    assert snapshot(tmp_path / "during.sqlite") == before  # what was committed, none of the open transaction
    assert snapshot(live.path) != before
    after = live.invoke("backup", tmp_path / "after.sqlite")
    assert after.exit_code == 0, after.output
    assert snapshot(tmp_path / "after.sqlite") == snapshot(live.path)


def test_backup_while_the_app_writes_gives_whole_transactions(live, tmp_path):
    """A writer adds families with three members each, one transaction per family; every copy holds whole ones."""
    stop = threading.Event()
    committed = []

    def write():
        with closing(sqlite3.connect(live.path, isolation_level=None, timeout=10)) as connection:
            connection.execute("PRAGMA foreign_keys=ON")
            number = 0
            while not stop.is_set():
                number += 1
                connection.execute("BEGIN IMMEDIATE")
                family_id = connection.execute(
                    "INSERT INTO family (code, status, start_date, full_every, revision, created_at) "
                    "VALUES (?, 'active', '2026-01-05', 3, 0, ?)",
                    (f"W-{number}", dt.datetime.now(dt.UTC).isoformat(" ")),
                ).lastrowid
                for code in ("M1", "M2", "M3"):
                    connection.execute(
                        "INSERT INTO member (family_id, code, display_name, role) VALUES (?, ?, 'x', 'mother')",
                        (family_id, code),
                    )
                connection.execute("COMMIT")
                committed.append(number)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while len(committed) < 5:
            stop.wait(0.01)
        started = len(committed)
        copies = []
        for n in range(5):
            copies.append(tmp_path / f"copy{n}.sqlite")
            result = live.invoke("backup", copies[-1])
            assert result.exit_code == 0, result.output
        finished = len(committed)
    finally:
        stop.set()
        thread.join()
    assert finished > started  # the writer did write while the copies were made
    seen = []
    for copy in copies:
        with closing(sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            sizes = connection.execute(
                "SELECT f.code, count(m.id) FROM family f LEFT JOIN member m ON m.family_id = f.id "
                "WHERE f.code LIKE 'W-%' GROUP BY f.id"
            ).fetchall()
        assert sizes and all(size == 3 for _, size in sizes), sizes  # no half-written transaction
        numbers = sorted(int(code[2:]) for code, _ in sizes)
        assert numbers == list(range(1, len(numbers) + 1))  # a prefix of the writer's commits
        seen.append(len(numbers))
    assert seen == sorted(seen) and started <= seen[0] and seen[-1] <= len(committed)


def test_backup_refuses_to_overwrite_without_force(live, tmp_path):
    target = tmp_path / "fa.sqlite"
    target.write_text("an older backup, to keep\n")
    result = live.invoke("backup", target)
    assert_clean_failure(result, "exists", "--force")
    assert target.read_text() == "an older backup, to keep\n"
    forced = live.invoke("backup", target, "--force")
    assert forced.exit_code == 0, forced.output
    assert snapshot(target) == snapshot(live.path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fa.sqlite", "live"]


def test_backup_errors_are_clear(live, tmp_path, monkeypatch):
    missing = live.invoke("backup", tmp_path / "nowhere" / "fa.sqlite")
    assert_clean_failure(missing, "No backup written", "does not exist")
    before = snapshot(live.path)
    onto_itself = live.invoke("backup", live.path, "--force")
    assert_clean_failure(onto_itself, "is the live database")
    assert snapshot(live.path) == before
    directory = live.invoke("backup", tmp_path)
    assert directory.exit_code == 2 and "is a directory" in directory.output  # click's own check

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    unwritable = live.invoke("backup", tmp_path / "fa.sqlite")
    assert_clean_failure(unwritable, "cannot write in", "Permission denied")
    assert not (tmp_path / "fa.sqlite").exists()


def test_backup_without_a_database(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'never-made.sqlite'}")
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "fa.sqlite")])
    assert_clean_failure(result, "there is no database at", "db upgrade")
    assert not (tmp_path / "never-made.sqlite").exists()


# --- restore ---------------------------------------------------------------------------------------


def test_restore_brings_the_data_back_exactly(live, tmp_path):
    target = tmp_path / "fa.sqlite"
    assert live.invoke("backup", target).exit_code == 0
    before = snapshot(live.path)
    family_a, family_b = family_facts(live.app, "FAM-A"), family_facts(live.app, "FAM-B")
    assert family_a[0] == [("C1", "Kim", "child"), ("F1", "Bert", "father"), ("M1", "Anna", "mother")]
    assert len(family_a[1]) == 24 and family_b == ([("M1", "Carla", "mother")], [])

    with live.app.app_context():  # after the backup: a family deleted, one changed, one added
        db.session.delete(db.session.scalar(sa.select(Family).where(Family.code == "FAM-A")))
        carla = db.session.scalar(sa.select(Member).where(Member.display_name == "Carla"))
        casework.update_member(carla, display_name="Carla changed")
        gen_family("FAM-C", [])
        commit()
    assert family_facts(live.app, "FAM-A") is None
    # A connection of the running app, open across the restore.
    with closing(sqlite3.connect(live.path, isolation_level=None)) as open_connection:
        assert open_connection.execute("SELECT count(*) FROM response").fetchone()[0] == 0

        result = live.invoke("restore", target, "--yes")
        assert result.exit_code == 0, result.output
        assert f"Restored {target} into {live.path}" in result.output
        assert "rows: family 2, member 4, therapy_session 3, response 24." in result.output
        assert "db upgrade" not in result.output  # the backup is at the code's head

        assert open_connection.execute("SELECT count(*) FROM response").fetchone()[0] == 24
        assert open_connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert snapshot(live.path) == before
    assert family_facts(live.app, "FAM-A") == family_a
    assert family_facts(live.app, "FAM-B") == family_b
    assert family_facts(live.app, "FAM-C") is None
    with live.app.app_context():
        assert db.session.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
        assert db.session.execute(sa.text("PRAGMA foreign_key_check")).all() == []
        db.session.remove()

    # The replaced database was kept, and holds the state just before the restore.
    kept = [p for p in live.path.parent.iterdir() if ".before-restore-" in p.name]
    assert len(kept) == 1 and f"The replaced database was kept as {kept[0]}" in result.output
    kept_codes = {row[1] for row in snapshot(kept[0])["family"]}
    assert kept_codes == {"FAM-B", "FAM-C"}


def test_restore_into_a_fresh_installation(live, make_app, tmp_path):
    target = tmp_path / "fa.sqlite"
    assert live.invoke("backup", target).exit_code == 0
    fresh = tmp_path / "fresh" / "familyalliance.sqlite"
    fresh.parent.mkdir()
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{fresh}")
    result = app.test_cli_runner().invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert "does not exist yet" in result.output and "kept as" not in result.output
    assert snapshot(fresh) == snapshot(live.path)
    assert family_facts(app, "FAM-A") == family_facts(live.app, "FAM-A")


def test_restore_asks_first(live, tmp_path):
    target = tmp_path / "fa.sqlite"
    assert live.invoke("backup", target).exit_code == 0
    with live.app.app_context():
        gen_family("FAM-C", [])
        commit()
    changed = snapshot(live.path)
    declined = live.invoke("restore", target, input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert "Replace the database" in declined.output and "rows: family 2," in declined.output
    assert snapshot(live.path) == changed
    assert [p for p in live.path.parent.iterdir() if ".before-restore-" in p.name] == []
    accepted = live.invoke("restore", target, "--no-safety-copy", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert snapshot(live.path) == snapshot(target)
    assert [p for p in live.path.parent.iterdir() if ".before-restore-" in p.name] == []


def test_restore_waits_for_the_app_then_gives_up_changing_nothing(live, tmp_path, monkeypatch):
    target = tmp_path / "fa.sqlite"
    assert live.invoke("backup", target).exit_code == 0
    monkeypatch.setattr(backup, "BUSY_TIMEOUT_MS", 200)
    with closing(sqlite3.connect(live.path, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM response")
        result = live.invoke("restore", target, "--yes")
        assert_clean_failure(result, "Restore failed", "the database is unchanged", "locked", "stop the app")
        writer.execute("COMMIT")
    assert snapshot(live.path)["response"] == []  # the app's own transaction went through, nothing else


def foreign_database(path: Path) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO things (name) VALUES ('not ours')")
        connection.commit()


def unknown_revision(path: Path, live: Live) -> None:
    assert live.invoke("backup", path).exit_code == 0
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
        connection.commit()


def damaged(path: Path, live: Live) -> None:
    assert live.invoke("backup", path).exit_code == 0
    data = bytearray(path.read_bytes())
    for page in range(1, len(data) // 4096):  # every b-tree page header after the first page
        data[page * 4096 : page * 4096 + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


def damaged_rows(path: Path, live: Live) -> None:
    """The answers' page garbled, the rest intact: only SQLite's integrity check notices."""
    assert live.invoke("backup", path).exit_code == 0
    with closing(sqlite3.connect(path)) as connection:
        page = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'response'").fetchone()[0]
    data = bytearray(path.read_bytes())
    end = page * 4096  # the cells sit at the end of their page
    data[end - 300 : end - 100] = bytes(range(200))
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "text file": (lambda path, live: path.write_text("family,member\nA,1\n" * 200), "is not an SQLite database"),
    "missing file": (lambda path, live: None, "does not exist"),
    "foreign SQLite database": (lambda path, live: foreign_database(path), "no alembic_version table"),
    "unknown schema revision": (unknown_revision, "ffffffffffff is not one of this code's migrations"),
    "damaged database": (damaged, "damaged"),
    "damaged rows": (damaged_rows, "is damaged; SQLite's integrity check found"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_restore_refuses_what_is_not_a_backup_and_changes_nothing(live, tmp_path, kind):
    make, message = CORRUPTIONS[kind]
    candidate = tmp_path / "candidate.sqlite"
    make(candidate, live)
    before = snapshot(live.path)
    files = sorted(p.name for p in live.path.parent.iterdir())
    result = live.invoke("restore", candidate, "--yes")
    assert_clean_failure(result, "Nothing restored, nothing changed", message)
    assert "Restored" not in result.output
    assert snapshot(live.path) == before
    assert sorted(p.name for p in live.path.parent.iterdir()) == files  # no safety copy either


def test_restore_of_an_older_schema(live, make_app, tmp_path):
    previous = ScriptDirectory(str(Path(__file__).resolve().parents[2] / "migrations")).get_revision(HEAD)
    older_app = migrated_app(make_app, tmp_path / "older.sqlite", revision=previous.down_revision)
    older = Live(older_app, tmp_path / "older.sqlite")
    made = older.invoke("backup", tmp_path / "older-backup.sqlite")
    assert made.exit_code == 0, made.output
    assert "older than the code's head" in made.output

    told = live.invoke("restore", tmp_path / "older-backup.sqlite", "--yes", "--no-safety-copy")
    assert told.exit_code == 0, told.output
    assert f"older than the code's ({HEAD}): run `flask --app familyalliance db upgrade`" in told.output
    assert snapshot(live.path)["alembic_version"] == [(previous.down_revision,)]

    upgraded = live.invoke("restore", tmp_path / "older-backup.sqlite", "--yes", "--no-safety-copy", "--upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"Migrated the restored database to the code's schema ({HEAD})" in upgraded.output
    assert snapshot(live.path)["alembic_version"] == [(HEAD,)]


# --- PostgreSQL and the suite's own database -----------------------------------------------------


def test_postgresql_gets_the_pg_dump_and_pg_restore_commands(make_app, tmp_path):
    app = make_app(
        SQLALCHEMY_DATABASE_URI="postgresql://clinic:s3cret-pw@db.example.org:6543/familyalliance?sslmode=require"
    )
    runner = app.test_cli_runner()
    dump = tmp_path / "fa.dump"
    dumped = runner.invoke(args=["backup", str(dump)])
    assert_clean_failure(dumped, "The database is PostgreSQL", "PGPASSWORD")
    assert (
        f"pg_dump -Fc -h db.example.org -p 6543 -U clinic -d 'dbname=familyalliance sslmode=require' -f {dump}"
        in dumped.output
    )
    restore = runner.invoke(args=["restore", str(dump), "--yes"])
    assert_clean_failure(restore, "into an empty database", "db upgrade")
    assert "createdb -h db.example.org -p 6543 -U clinic -T template0 familyalliance_restored" in restore.output
    assert (
        f"pg_restore -h db.example.org -p 6543 -U clinic -d familyalliance_restored --no-owner --single-transaction "
        f"{dump}" in restore.output
    )
    for result in (dumped, restore):
        assert "s3cret" not in result.output
    assert not dump.exists()

    plain = make_app(SQLALCHEMY_DATABASE_URI="postgresql://clinic@localhost/fa").test_cli_runner()
    result = plain.invoke(args=["backup", str(dump)])
    assert f"pg_dump -Fc -h localhost -U clinic -d fa -f {dump}" in result.output


def test_the_suites_database(app, runner, tmp_path):
    """On the suite's own database: a checked copy on SQLite, the pg_dump command on PostgreSQL."""
    result = runner.invoke(args=["backup", str(tmp_path / "suite.backup")])
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "postgresql":
        assert_clean_failure(result, "pg_dump -Fc")
        assert not (tmp_path / "suite.backup").exists()
    else:
        assert result.exit_code == 0, result.output
        assert f"Schema revision {HEAD} (the code's head)" in result.output
