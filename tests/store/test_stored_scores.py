"""Stored scores stay what scoring the answers afresh gives, whichever path wrote the answers.

Random answers go through the real write paths (answers of a link, the paper and observer grids
with their corrections, the import of a small CSV with and without ``--replace``), mixed; after
each, the stored table (``queries.scores``, read by every page) equals ``score_frame`` of the raw
answers, column for column, and every form's stored row (items answered included) equals a fresh
scoring. Then the corrections of a reopened form, erasure, an import whose forms span chunks, and
``rescore`` after a changed definition.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import hypothesis.strategies as st
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from pandas.testing import assert_frame_equal

from familyalliance.core.scoring import score_frame
from familyalliance.services import casework, importer, requests, responses
from familyalliance.store import queries, scores, summaries
from familyalliance.store.db import db
from familyalliance.store.models import Family, FormScore
from familyalliance.store.registry import installed_instruments

from ..factories import commit, gen_family, gen_member, gen_session, gen_user

HEADER = "family,member,role,session,date,informant,target,instrument,item,value"
MEMBERS = (("M1", "mother"), ("F1", "father"), ("C1", "child"))
START = dt.date(2026, 1, 5)
_codes = itertools.count(1)


def assert_in_step(family_ids: list[int]) -> None:
    """The stored scores are exactly what scoring the stored answers afresh gives."""
    instruments = installed_instruments()
    expected = score_frame(queries.responses_frame(family_ids), instruments)
    assert_frame_equal(queries.scores(family_ids), expected, check_exact=True)
    assert_frame_equal(scores.stored(family_ids), scores.fresh(family_ids), check_exact=True)


def make_family(sessions: int = 3) -> Family:
    family = gen_family(f"PROP-{next(_codes):04d}", [gen_user()])
    for code, role in MEMBERS:
        gen_member(family, code, role)
    for number in range(1, sessions + 1):
        gen_session(family, number, START + dt.timedelta(days=7 * number))
    commit()
    return family


def text(value: int | None) -> str:
    return "" if value is None else str(value)


def write_csv(path, family: Family, forms, mode: str | None = None) -> str:
    """A long CSV of ``forms``: (member index, session number, instrument code, values per item)."""
    instruments = installed_instruments()
    lines = [HEADER + (",mode" if mode else "")]
    for member, number, code, values in forms:
        instrument = instruments[code]
        date = (START + dt.timedelta(days=7 * number)).isoformat()
        member_code, role = MEMBERS[member]
        for item, value in zip(instrument.items, values, strict=True):
            row = [family.code, member_code, role, number, date, instrument.informant, "therapist", code, item.code]
            lines.append(",".join(map(str, [*row, text(value)])) + (f",{mode}" if mode else ""))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


#: Scale and number of items of the built-in instruments.
SCALES = {"check4": (0, 10, 4), "alliance16": (1, 5, 16), "observer4": (-3, 3, 4)}


def form_values(code: str) -> st.SearchStrategy[list[int | None]]:
    """One form's answers in item order, any of them unanswered."""
    lo, hi, count = SCALES[code]
    return st.lists(st.one_of(st.none(), st.integers(lo, hi)), min_size=count, max_size=count)


@st.composite
def writes(draw):
    """A few writes, each (path, instrument, session number, {member index: values per item})."""
    out = []
    for _ in range(draw(st.integers(1, 5))):
        path = draw(st.sampled_from(["answers", "grid", "import", "import_new"]))
        code = draw(st.sampled_from(sorted(SCALES)))
        members = draw(st.lists(st.integers(0, len(MEMBERS) - 1), min_size=1, max_size=3, unique=True))
        number = draw(st.integers(4, 5)) if path == "import_new" else draw(st.integers(1, 3))
        out.append((path, code, number, {m: draw(form_values(code)) for m in members}))
    return out


@pytest.mark.parametrize("few_forms", [scores.FEW_FORMS, 0], ids=["few forms one by one", "all in frames"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=writes())
def test_every_write_path_keeps_stored_scores_equal_to_fresh_ones(app, tmp_path, monkeypatch, few_forms, steps):
    # A send or a grid scores its few forms in plain Python, more forms go through pandas: both ways.
    monkeypatch.setattr(scores, "FEW_FORMS", few_forms)
    with app.app_context():
        family = make_family()
        user = family.therapists[0]
        instruments = installed_instruments()
        for path, code, number, forms in steps:
            instrument = instruments[code]
            session = next((s for s in family.sessions if s.number == number), None)
            if path == "answers":
                stored = {
                    tuple(k)
                    for k in db.session.execute(
                        sa.select(FormScore.member_id, FormScore.instrument).where(FormScore.session_id == session.id)
                    )
                }
                rows = [
                    {
                        "family_id": family.id,
                        "member_id": family.members[m].id,
                        "session_id": session.id,
                        "informant": instrument.informant,
                        "target": session.target,
                        "instrument": code,
                        "item": item.code,
                        "value": text(value),
                    }
                    for m, values in forms.items()
                    if (family.members[m].id, code) not in stored
                    for item, value in zip(instrument.items, values, strict=True)
                ]
                if rows:
                    responses.store_answers(rows, instruments)
            elif path == "grid":
                cells = {
                    (family.members[m].id, item.code): text(value)
                    for m, values in forms.items()
                    for item, value in zip(instrument.items, values, strict=True)
                }
                requests.save_grid(session, instrument, cells, user, instruments)
            else:
                members = {code: i for i, (code, _) in enumerate(MEMBERS)}
                order = [members[m.code] for m in family.members]  # members by code, as the family lists them
                listed = [(order[m], number, code, values) for m, values in forms.items()]
                csv = write_csv(tmp_path / f"step-{next(_codes)}.csv", family, listed)
                importer.import_long_csv(csv, instruments, replace=True)
                db.session.expire_all()
            commit()
            assert_in_step([family.id])


@pytest.fixture
def family(app):
    with app.app_context():
        return make_family().id


def observer_cells(family: Family, values: dict[int, list[int]]) -> dict[tuple[int, str], str]:
    items = installed_instruments()["observer4"].items
    return {
        (family.members[m].id, item.code): str(v)
        for m, row in values.items()
        for item, v in zip(items, row, strict=True)
    }


def test_a_grid_correction_moves_the_stored_score(app, family):
    with app.app_context():
        fam = db.session.get(Family, family)
        session, instrument = fam.sessions[0], installed_instruments()["observer4"]
        user = fam.therapists[0]
        requests.save_grid(session, instrument, observer_cells(fam, {0: [3, 3, 3, 3]}), user, installed_instruments())
        commit()
        assert queries.scores([family])["total"].tolist() == [3.0]
        added, corrected = requests.save_grid(
            session, instrument, {(fam.members[0].id, "safety"): "-3"}, user, installed_instruments()
        )
        commit()
        assert (added, corrected) == (0, 1)
        assert queries.scores([family])[["safety", "total"]].values.tolist() == [[-3.0, 1.5]]
        assert_in_step([family])


def test_answering_a_reopened_form_again_moves_the_stored_score(app, family):
    with app.app_context():
        fam = db.session.get(Family, family)
        session, user = fam.sessions[1], fam.therapists[0]
        check = installed_instruments()["check4"]
        request = requests._get_or_create(session, fam.members[0].id, "check4")
        requests.submit(request, {item: "8" for item in check.item_codes}, installed_instruments(), "link")
        commit()
        assert queries.scores([family])["total"].tolist() == [8.0]
        requests.reopen(request, user)
        requests.submit(request, {"bond": "2", "goals_tasks": "2"}, installed_instruments(), "round")
        commit()
        # The items left out of the second send are corrected to unanswered: two dimensions, so no total.
        row = queries.scores([family]).iloc[0]
        assert (row.bond, row.goals_tasks) == (2.0, 2.0)
        assert pd.isna(row.safety) and pd.isna(row.total)
        assert scores.stored([family])["answered"].tolist() == [2]
        assert_in_step([family])


def test_erasing_a_family_takes_its_scores(app, family):
    with app.app_context():
        fam = db.session.get(Family, family)
        requests.save_grid(
            fam.sessions[0],
            installed_instruments()["observer4"],
            observer_cells(fam, {0: [1, 2, 3, 0], 1: [0, 0, 0, 0]}),
            fam.therapists[0],
            installed_instruments(),
        )
        commit()
        other = make_family()
        responses.store_answers(
            [
                {
                    "family_id": other.id,
                    "member_id": other.members[0].id,
                    "session_id": other.sessions[0].id,
                    "informant": "self",
                    "target": "therapist",
                    "instrument": "check4",
                    "item": item,
                    "value": "5",
                }
                for item in installed_instruments()["check4"].item_codes
            ],
            installed_instruments(),
        )
        commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FormScore)) == 3
        counts = casework.erase_family(db.session.get(Family, family))
        commit()
        assert counts["scores"] == 2
        left = db.session.execute(sa.select(FormScore.family_id)).scalars().all()
        assert left == [other.id]
        assert_in_step([other.id])


def test_an_import_whose_forms_span_chunks_stores_whole_forms(app, tmp_path, monkeypatch):
    """Read a few rows at a time (the exact reader, for the blank line), every alliance16 form is split."""
    monkeypatch.setattr(importer, "CHUNK_ROWS", 7)
    with app.app_context():
        fam = make_family(sessions=1)
        forms = [
            (m, number, "alliance16", [(m + number + i) % 5 + 1 if i % 6 else None for i in range(16)])
            for m in range(3)
            for number in (2, 3)
        ]
        forms += [(m, 1, "check4", [m, None, 10, 3]) for m in range(3)]
        csv = write_csv(tmp_path / "split.csv", fam, forms, mode="paper")
        csv.write_text(csv.read_text().replace("\n", "\n\n", 1))  # a blank line after the header
        summary = importer.import_long_csv(csv, installed_instruments())
        assert summary.rows == 6 * 16 + 3 * 4 and summary.sessions_created == 2
        stored = scores.stored([fam.id])
        assert len(stored) == 9 and set(stored["answered"]) == {13, 3}
        assert_in_step([fam.id])
        # Its summary was stored with it: the caseload computes nothing for this family.
        db.session.expire_all()
        visible = sa.select(Family).where(Family.id == fam.id)
        assert fam.summary is not None
        assert summaries.stale_families(visible, fam.summary.settings_key) == []


def test_rescore_after_a_changed_definition(app, family, monkeypatch):
    """A definition changed by an upgrade: ``rescore_families`` scores again and names the families that moved."""
    with app.app_context():
        fam = db.session.get(Family, family)
        requests.save_grid(
            fam.sessions[0],
            installed_instruments()["observer4"],
            observer_cells(fam, {0: [1, 2, 3, 0]}),
            fam.therapists[0],
            installed_instruments(),
        )
        commit()
        assert scores.rescore_families([family]) == set()  # nothing changed: nothing written
        instruments = installed_instruments()
        observer = instruments["observer4"]
        items = tuple(dataclasses.replace(item, reverse=item.code == "safety") for item in observer.items)
        changed = dict(instruments) | {"observer4": dataclasses.replace(observer, items=items)}
        assert scores.rescore_families([family], changed) == {family}
        commit()
        assert queries.scores([family])["safety"].tolist() == [-3.0]  # 3 reversed on -3..3
        pd.testing.assert_frame_equal(scores.stored([family]), scores.fresh([family], changed))
