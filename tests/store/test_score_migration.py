"""The migration that stores form scores fills them from the answers already stored.

A database is built at the revision before, with answers of the built-in instruments and of a
custom one (its definition stored in the database), spread over more families than one batch
holds; upgraded, every form has its row, equal to scoring the answers afresh, and the pages'
scores table is what scoring the raw answers gives.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random

import flask_migrate
import pytest
import sqlalchemy as sa
from pandas.testing import assert_frame_equal

from familyalliance import create_app
from familyalliance.core.instruments import builtin_instruments, parse_definition
from familyalliance.core.scoring import score_frame
from familyalliance.store import queries, scores
from familyalliance.store.db import db
from familyalliance.store.registry import installed_instruments

from ..conftest import base_config

BEFORE = "c2b655d711e8"
MIGRATION = "47ac1e83d722"


@pytest.fixture
def scratch_database(tmp_path):
    """An empty database of the suite's kind: a SQLite file, or a fresh PostgreSQL database beside the suite's."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield "sqlite:///" + str(tmp_path / "old.sqlite")
        return
    scratch = sa.engine.make_url(url).set(database=sa.engine.make_url(url).database + "_score_migration")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch.database}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{scratch.database}"'))
    yield scratch.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
    admin.dispose()


def custom_definition() -> str:
    """A custom instrument: check4's definition as ``pulse4`` on 1..7, with its safety item reversed."""
    definition = json.loads(json.dumps(builtin_instruments()["check4"].definition))
    definition["code"] = "pulse4"
    definition["scale"] = {
        "min": 1,
        "max": 7,
        "anchors": [{"value": 1, "label": {"nl": "nee", "en": "no"}}, {"value": 7, "label": {"nl": "ja", "en": "yes"}}],
    }
    for item in definition["items"]:
        if item["dimension"] == "safety":
            item["reverse"] = True
    return json.dumps(definition)


def test_the_migration_scores_the_stored_answers(scratch_database, monkeypatch):
    app = create_app(base_config(scratch_database))
    rng = random.Random(17)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        run = db.session.execute
        now = dt.datetime.now(dt.UTC)
        run(
            sa.text(
                "INSERT INTO instrument_definition (code, version, definition, loaded_at) "
                "VALUES ('pulse4', '1', :d, :n)"
            ),
            {"d": custom_definition(), "n": now},
        )
        answer = sa.text(
            "INSERT INTO response (family_id, member_id, session_id, informant, target, instrument, item, value) "
            "VALUES (:f, :m, :s, :who, :t, :i, :item, :v)"
        )
        rows = []
        for family_id in range(1, 13):
            run(
                sa.text(
                    "INSERT INTO family (id, code, status, start_date, created_at, full_every, revision) "
                    "VALUES (:id, :code, 'active', '2026-01-05', :now, 3, 0)"
                ),
                {"id": family_id, "code": f"MIG-{family_id:02d}", "now": now},
            )
            for m, role in enumerate(("mother", "youth")):
                member_id = family_id * 10 + m
                run(
                    sa.text("INSERT INTO member (id, family_id, code, display_name, role) VALUES (:i, :f, :c, :c, :r)"),
                    {"i": member_id, "f": family_id, "c": f"M{m}", "r": role},
                )
            for number in (1, 2):
                session_id = family_id * 10 + number
                run(
                    sa.text(
                        "INSERT INTO therapy_session (id, family_id, number, date, target, created_at) "
                        "VALUES (:i, :f, :n, :d, 'therapist', :now)"
                    ),
                    {"i": session_id, "f": family_id, "n": number, "d": f"2026-01-{5 + 7 * number:02d}", "now": now},
                )
                for m in range(2):
                    for code in ("check4", "alliance16", "observer4", "pulse4"):
                        definition = instrument(code)
                        lo, hi = definition.scale_min, definition.scale_max
                        for item in definition.items:
                            value = None if rng.random() < 0.3 else rng.randint(lo, hi)
                            rows.append(
                                {
                                    "f": family_id,
                                    "m": family_id * 10 + m,
                                    "s": session_id,
                                    "who": definition.informant,
                                    "t": "therapist",
                                    "i": code,
                                    "item": item.code,
                                    "v": value,
                                }
                            )
        run(answer, rows)
        db.session.commit()

        # Batches of about 100 answers: a dozen families take several.
        monkeypatch.setenv("FAMILYALLIANCE_SCORE_MIGRATION_BATCH", "100")
        flask_migrate.upgrade(revision=MIGRATION)

        ids = list(range(1, 13))
        stored = scores.stored(ids)
        assert len(stored) == 12 * 2 * 2 * 4  # every form has its row, scored or not
        assert_frame_equal(stored, scores.fresh(ids), check_exact=True)
        expected = score_frame(queries.responses_frame(ids), installed_instruments())
        assert_frame_equal(queries.scores(ids), expected, check_exact=True)
        assert set(queries.scores(ids)["instrument"]) == {"check4", "alliance16", "observer4", "pulse4"}
        db.session.remove()
        flask_migrate.downgrade(revision=BEFORE)  # and back
        db.session.remove()
        assert "form_score" not in sa.inspect(db.engine).get_table_names()
        db.session.remove()  # give the connection back before the pool closes (PostgreSQL warns otherwise)
        db.engine.dispose()


def instrument(code: str):
    """The built-in instrument, or the custom one the test stores."""
    return builtin_instruments().get(code) or parse_definition(custom_definition())
