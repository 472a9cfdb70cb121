"""The migration to questionnaire requests keeps every link and every answer.

A database is built at the revision before, filled with what the old model held (links used,
open, made twice with a draft, expired; answers by link, from paper, from the therapist), and
upgraded: each becomes a request in the right state, every token still opens what it opened.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import flask_migrate
import pytest
import sqlalchemy as sa

from familyalliance import create_app
from familyalliance.services import requests
from familyalliance.store.db import db
from familyalliance.store.models import QuestionnaireRequest

from ..conftest import base_config

BEFORE = "b7e2d4f1a9c3"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def scratch_database(tmp_path):
    """An empty database of the suite's kind: a SQLite file, or a fresh PostgreSQL database beside the suite's."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield "sqlite:///" + str(tmp_path / "old.sqlite")
        return
    scratch = sa.engine.make_url(url).set(database=sa.engine.make_url(url).database + "_request_migration")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch.database}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{scratch.database}"'))
    yield scratch.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
    admin.dispose()


def test_links_and_answers_become_requests(scratch_database):
    app = create_app(base_config(scratch_database))
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        run = db.session.execute
        now = dt.datetime.now(dt.UTC)
        later, past = now + dt.timedelta(days=5), now - dt.timedelta(days=1)
        run(
            sa.text(
                "INSERT INTO family (id, code, status, start_date, created_at, full_every, revision) "
                "VALUES (1, 'FAM-1', 'active', '2026-01-05', :now, 3, 0)"
            ),
            {"now": now},
        )
        for member_id, code, role in ((1, "M1", "mother"), (2, "C1", "child"), (3, "F1", "father"), (4, "Y1", "youth")):
            run(
                sa.text("INSERT INTO member (id, family_id, code, display_name, role) VALUES (:i, 1, :c, :c, :r)"),
                {"i": member_id, "c": code, "r": role},
            )
        run(
            sa.text(
                "INSERT INTO therapy_session (id, family_id, number, date, target, created_at) "
                "VALUES (1, 1, 1, '2026-01-12', 'therapist', :now)"
            ),
            {"now": now},
        )
        for member_id in (1, 2, 3, 4):
            run(
                sa.text(
                    "INSERT INTO attendance (session_id, member_id, family_id, present, instrument) "
                    "VALUES (1, :m, 1, :p, 'check4')"
                ),
                {"m": member_id, "p": member_id != 4},
            )
        link = (
            "INSERT INTO member_link (token_hash, family_id, session_id, member_id, instrument, target, "
            "created_at, expires_at, used_at, draft) VALUES (:h, 1, 1, :m, 'check4', 'therapist', :c, :e, :u, :d)"
        )
        run(sa.text(link), {"h": digest("used-by-mother"), "m": 1, "c": now, "e": later, "u": now, "d": None})
        run(sa.text(link), {"h": digest("old-of-child"), "m": 2, "c": past, "e": later, "u": None, "d": None})
        run(sa.text(link), {"h": digest("new-of-child"), "m": 2, "c": now, "e": later, "u": None, "d": '{"bond": 4}'})
        run(sa.text(link), {"h": digest("expired-of-father"), "m": 3, "c": past, "e": past, "u": None, "d": None})
        answer = (
            "INSERT INTO response (family_id, member_id, session_id, informant, target, instrument, item, value) "
            "VALUES (1, :m, 1, :who, 'therapist', :i, 'bond', 7)"
        )
        run(sa.text(answer), {"m": 1, "who": "self", "i": "check4"})  # by the mother's link
        run(sa.text(answer), {"m": 4, "who": "self", "i": "check4"})  # typed in for an absent youth
        run(sa.text(answer), {"m": 1, "who": "therapist", "i": "observer4"})  # the therapist's view
        db.session.commit()

        flask_migrate.upgrade()

        found = {
            (r.member.code, r.instrument): (requests.state(r), r.answered_mode)
            for r in db.session.scalars(sa.select(QuestionnaireRequest))
        }
        assert found == {
            ("M1", "check4"): ("answered", "link"),
            ("C1", "check4"): ("in_progress", None),
            ("F1", "check4"): ("expired", None),
            ("Y1", "check4"): ("answered", None),  # how it came in is not known: empty, not guessed
            ("M1", "observer4"): ("answered", "grid"),
        }
        assert requests.find("new-of-child")[1] == "in_progress"
        assert requests.find("old-of-child")[1] == "replaced"
        assert requests.find("used-by-mother")[1] == "answered"
        assert requests.find("expired-of-father")[1] == "expired"
        child = requests.find("new-of-child")[0]
        assert requests.draft_values(child) == {"bond": "4"}

        db.session.remove()
        flask_migrate.downgrade(revision=BEFORE)  # and back: the newest links again
        db.session.remove()
        tokens = set(db.session.scalars(sa.text("SELECT token_hash FROM member_link")))
        assert tokens == {digest(t) for t in ("used-by-mother", "new-of-child", "expired-of-father")}
        db.session.remove()  # give the connection back before the pool closes (PostgreSQL warns otherwise)
        db.engine.dispose()
