"""The follow-up of a rupture: saving, changing and removing it, what it refuses, and where it never goes.

FAM-1 of the ``course`` scenario with a rupture: Sandra (M1) rates every dimension 7 at session 1
and 1 at session 2 (the quick check, about the therapist), a drop of 60 POMP, still open.
"""

from __future__ import annotations

import datetime as dt
import zipfile

import pandas as pd
import pyreadstat
import pytest
import sqlalchemy as sa

from familyalliance.core import analytics, exports, vocab
from familyalliance.services import casework, followups, responses
from familyalliance.services.errors import OperationError
from familyalliance.store import queries
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, RuptureFollowUp, TherapySession, User

from ..scenarios import Scenario, email

pytestmark = pytest.mark.scenario("course")

#: The rupture of the module: M1's own view about the therapist, goals and tasks, at session 2.
KEY = ("self", "therapist", "goals_tasks")
NOTE = "Besproken met moeder: voelde zich niet gehoord over de huiswerkafspraken. Kenmerk-QX7-notitie"


def rupture_at_session_2(family_ids) -> None:
    """Sandra's quick check at session 2: every dimension 1 (7 at session 1), a rupture in each."""
    responses.store_responses(
        {
            "family_id": family_ids.id,
            "member_id": family_ids.members["M1"],
            "session_id": family_ids.sessions[2],
            "informant": "self",
            "target": "therapist",
            "instrument": "check4",
            "item": item,
            "value": 1,
        }
        for item in vocab.DIMENSIONS
    )


@pytest.fixture
def fam1(app, scenario: Scenario):
    """In an app context: FAM-1 with the rupture, its mother, session 2 and ann; everything committed."""
    with app.app_context():
        rupture_at_session_2(scenario.fam1)
        db.session.commit()
        family = db.session.get(Family, scenario.fam1.id)
        mother = db.session.get(Member, scenario.fam1.members["M1"])
        session = db.session.get(TherapySession, scenario.fam1.sessions[2])
        ann = db.session.scalar(sa.select(User).where(User.email == email("ann")))
        yield family, mother, session, ann


def revision(family_id: int) -> int:
    return db.session.scalar(sa.select(Family.revision).where(Family.id == family_id))


def stored() -> list[RuptureFollowUp]:
    return list(db.session.scalars(sa.select(RuptureFollowUp).order_by(RuptureFollowUp.id)))


def test_save_records_the_follow_up_and_raises_the_revision(fam1):
    family, mother, session, ann = fam1
    before = revision(family.id)
    saved = followups.save(family, mother, session, *KEY, dt.date(2026, 2, 3), f"  {NOTE}\r\n", ann)
    db.session.commit()
    [row] = stored()
    assert row.id == saved.id
    assert (row.family_id, row.member_id, row.session_id) == (family.id, mother.id, session.id)
    assert (row.informant, row.target, row.dimension) == KEY
    assert row.discussed_on == dt.date(2026, 2, 3)
    assert row.note == NOTE  # blanks and the final line break trimmed
    assert row.updated_by_id == ann.id and row.updated_at is not None
    assert revision(family.id) == before + 1  # the caseload summary and the cached page are stale


def test_save_again_changes_the_one_follow_up(fam1):
    family, mother, session, ann = fam1
    first = followups.save(family, mother, session, *KEY, None, "Nog te bespreken.", ann)
    db.session.commit()
    after_first = revision(family.id)
    changed = "Besproken.\r\nHerstel afgesproken."
    second = followups.save(family, mother, session, *KEY, dt.date(2026, 2, 10), changed, ann)
    db.session.commit()
    [row] = stored()
    assert first.id == second.id == row.id
    assert (row.discussed_on, row.note) == (dt.date(2026, 2, 10), "Besproken.\nHerstel afgesproken.")
    assert revision(family.id) == after_first + 1
    # Saving the same again changes nothing, not even the revision.
    followups.save(family, mother, session, *KEY, dt.date(2026, 2, 10), "Besproken.\nHerstel afgesproken.", ann)
    db.session.commit()
    assert revision(family.id) == after_first + 1


def test_a_date_without_a_note_and_a_note_without_a_date(fam1):
    family, mother, session, ann = fam1
    followups.save(family, mother, session, "self", "therapist", "bond", dt.date(2026, 2, 3), "", ann)
    followups.save(family, mother, session, "self", "therapist", "safety", None, "Eerst met vader bespreken.", ann)
    db.session.commit()
    rows = {row.dimension: (row.discussed_on, row.note) for row in stored()}
    assert rows == {"bond": (dt.date(2026, 2, 3), None), "safety": (None, "Eerst met vader bespreken.")}


def test_no_date_and_no_note_removes_the_follow_up(fam1):
    family, mother, session, ann = fam1
    followups.save(family, mother, session, *KEY, dt.date(2026, 2, 3), NOTE, ann)
    db.session.commit()
    before = revision(family.id)
    assert followups.save(family, mother, session, *KEY, None, "   \r\n ", ann) is None
    db.session.commit()
    assert stored() == []
    assert revision(family.id) == before + 1
    # Nothing to remove: nothing changes.
    assert followups.save(family, mother, session, *KEY, None, None, ann) is None
    db.session.commit()
    assert revision(family.id) == before + 1


@pytest.mark.parametrize(
    "change",
    [
        {"informant": "mother"},
        {"target": "family"},
        {"dimension": "goals"},
        {"dimension": "goals_tasks_pomp"},
        {"discussed_on": dt.date.today() + dt.timedelta(days=1)},
        {"note": "x" * (followups.NOTE_MAX_LENGTH + 1)},
        {"note": "before\x00after"},
    ],
    ids=["informant", "target", "dimension", "dimension-column", "future", "too-long", "nul"],
)
def test_refused_and_nothing_changes(fam1, change):
    family, mother, session, ann = fam1
    arguments = {
        "informant": "self",
        "target": "therapist",
        "dimension": "goals_tasks",
        "discussed_on": dt.date.today(),
        "note": NOTE,
    } | change
    before = revision(family.id)
    with pytest.raises(OperationError):
        followups.save(family, mother, session, user=ann, **arguments)
    db.session.commit()
    assert stored() == []
    assert revision(family.id) == before


def test_the_longest_note_counts_a_line_break_as_one(fam1):
    family, mother, session, ann = fam1
    note = ("a" * 99 + "\r\n") * 10  # 1000 characters once the line breaks are one each, 1010 as sent
    saved = followups.save(family, mother, session, *KEY, None, note.strip() + "b", ann)
    assert len(saved.note) == followups.NOTE_MAX_LENGTH


def test_member_and_session_of_another_family_are_refused(app, scenario, fam1):
    family, mother, session, ann = fam1
    other_member = db.session.get(Member, scenario.fam2.members["M1"])
    other_session = db.session.get(TherapySession, scenario.fam2.sessions[1])
    with pytest.raises(OperationError):
        followups.save(family, other_member, session, *KEY, None, NOTE, ann)
    with pytest.raises(OperationError):
        followups.save(family, mother, other_session, *KEY, None, NOTE, ann)
    assert stored() == []


def test_the_database_refuses_an_empty_follow_up_and_a_second_one(fam1):
    """Behind the service: a row with neither date nor note, or a second row for one rupture, cannot be stored."""
    family, mother, session, _ann = fam1
    key = {"family_id": family.id, "member_id": mother.id, "session_id": session.id}
    key |= dict(zip(("informant", "target", "dimension"), KEY, strict=True))
    db.session.add(RuptureFollowUp(**key))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()
    db.session.add(RuptureFollowUp(**key, note="een"))
    db.session.add(RuptureFollowUp(**key, note="twee"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_store_hands_follow_ups_to_the_analysis(fam1, scenario):
    """``queries.followups`` lists them by the rupture's key; the analysis puts each beside its rupture."""
    family, mother, session, ann = fam1
    first = db.session.get(TherapySession, scenario.fam1.sessions[1])
    followups.save(family, mother, session, *KEY, dt.date(2026, 2, 3), NOTE, ann)
    followups.save(family, mother, first, "therapist", "therapist", "total", None, "Observatie.", ann)
    db.session.commit()

    table = queries.followups([family.id, scenario.fam2.id])
    assert list(table.columns) == analytics.FOLLOWUP_COLUMNS
    records = sorted(table.to_dict("records"), key=lambda r: r["session"])
    assert records[1] == {
        "family": "FAM-1",
        "member": "M1",
        "session": 2,
        "informant": "self",
        "target": "therapist",
        "dimension": "goals_tasks",
        "discussed_on": dt.date(2026, 2, 3),
        "note": NOTE,
    }
    assert pd.isna(records[0]["discussed_on"])
    assert queries.followups([scenario.fam2.id]).empty

    breaks = queries.analysis([family.id], analytics.DEFAULTS).ruptures
    mine = breaks[(breaks["member"] == "M1") & (breaks["session"] == 2) & (breaks["dimension"] == "goals_tasks")]
    assert mine[["status", "discussed_on", "note"]].values.tolist() == [["open", dt.date(2026, 2, 3), NOTE]]
    others = breaks.drop(mine.index)
    assert others["discussed_on"].isna().all() and others["note"].isna().all()


def test_rupture_status_reads_the_rupture_table(fam1, scenario):
    family, mother, session, _ann = fam1
    first = db.session.get(TherapySession, scenario.fam1.sessions[1])
    settings = analytics.DEFAULTS
    assert followups.rupture_status(family, mother, session, *KEY, settings) == "open"
    assert followups.rupture_status(family, mother, session, "self", "therapist", "total", settings) == "open"
    assert followups.rupture_status(family, mother, first, *KEY, settings) is None  # no drop at session 1
    assert followups.rupture_status(family, mother, session, "self", "team", "goals_tasks", settings) is None


def test_erasing_the_family_erases_its_follow_ups(fam1, scenario):
    family, mother, session, ann = fam1
    other = db.session.get(Family, scenario.fam2.id)
    kees = db.session.get(Member, scenario.fam2.members["M1"])
    followups.save(family, mother, session, *KEY, dt.date(2026, 2, 3), NOTE, ann)
    followups.save(other, kees, other.sessions[0], *KEY, None, "Andere familie.", None)
    db.session.commit()
    assert db.session.get_bind().dialect.name != "sqlite" or db.session.execute(sa.text("PRAGMA foreign_keys")).scalar()
    casework.erase_family(family)
    db.session.commit()
    assert [(row.family_id, row.note) for row in stored()] == [(other.id, "Andere familie.")]


@pytest.mark.scenario("course", "demo")
def test_no_export_carries_a_note(app, runner, tmp_path, scenario):
    """Every export, every format, plain and pseudonymised: built from the answers, none holds a note."""
    with app.app_context():
        rupture_at_session_2(scenario.fam1)
        family = db.session.get(Family, scenario.fam1.id)
        mother = db.session.get(Member, scenario.fam1.members["M1"])
        session = db.session.get(TherapySession, scenario.fam1.sessions[2])
        followups.save(family, mother, session, *KEY, dt.date(2026, 2, 3), NOTE, None)
        for code, ids in scenario.families.items():
            if code.startswith("DEMO"):
                demo_family = db.session.get(Family, ids.id)
                for member in demo_family.members:
                    followups.save(demo_family, member, demo_family.sessions[-1], *KEY, None, NOTE, None)
        db.session.commit()
        assert len(stored()) > 1
    marker = "Kenmerk-QX7"
    for kind in exports.KINDS:
        for fmt in exports.FORMATS:
            for extra in ([], ["--pseudonymise"]):
                folder = tmp_path / f"{kind}-{fmt}-{len(extra)}"
                folder.mkdir()
                path = folder / f"{kind}.{fmt}"
                result = runner.invoke(args=["export", kind, "--format", fmt, "--output", str(path), *extra])
                assert result.exit_code == 0, result.output
                written = list(folder.iterdir())
                assert written, (kind, fmt, extra)
                for file in written:
                    assert marker not in _text_of(file), (file.name, extra)


def _text_of(path) -> str:
    """Everything a written file says: CSV text, every part of an xlsx, an SPSS file's data and labels."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    if path.suffix == ".sav":
        frame, meta = pyreadstat.read_sav(str(path))
        labels = [meta.column_labels, meta.variable_value_labels, meta.file_label, meta.notes]
        return frame.to_csv() + repr(labels) + path.read_bytes().decode("latin-1")
    return path.read_bytes().decode("utf-8", "replace")
