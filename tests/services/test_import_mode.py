"""How each form was given, in and out: the long CSV's optional ``mode`` column (metrics.md section 3).

The import makes every form an answered questionnaire request in the file's mode (``import`` for
a ten-column file, unknown for an empty cell), refuses a bad mode and a form given two ways with
the lines named and nothing stored, fulfils an open request, and with ``--replace`` keeps an
answered one; the ``long`` export writes the eleventh column, and imports back to the same modes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pyreadstat
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from familyalliance.core import vocab
from familyalliance.core.validation import LONG_HEADER, LONG_HEADER_WITH_MODE
from familyalliance.services import importer, requests, responses
from familyalliance.store.db import db
from familyalliance.store.models import Member, QuestionnaireRequest, Response, TherapySession, utcnow
from familyalliance.store.registry import installed_instruments

from ..conftest import empty_tables
from ..factories import commit, gen_family, gen_member, gen_session, gen_user

HEADER = ",".join(LONG_HEADER)
MODE_HEADER = ",".join(LONG_HEADER_WITH_MODE)
CHECK4 = ("bond", "goals_tasks", "safety", "shared_purpose")
OBSERVER4 = CHECK4

#: Forms given every way: (family, member, role, session, informant, target, instrument, mode).
FORMS = [
    ("F1", "M1", "mother", 1, "self", "therapist", "check4", "link"),
    ("F1", "Y1", "youth", 1, "self", "therapist", "check4", "round"),
    ("F1", "Y1", "youth", 1, "therapist", "therapist", "observer4", "grid"),
    ("F1", "M1", "mother", 2, "self", "team", "check4", "paper"),
    ("F1", "Y1", "youth", 2, "self", "team", "check4", "import"),
    ("F2", "C1", "child", 1, "self", "therapist", "check4", ""),
]
DATES = {("F1", 1): "2026-01-05", ("F1", 2): "2026-01-12", ("F2", 1): "2026-02-02"}


def rows_of(forms=FORMS, with_mode=True) -> list[str]:
    """The long CSV lines of ``forms``, every item answered 5 (observer4: 1)."""
    lines = []
    for family, member, role, session, informant, target, instrument, mode in forms:
        for item in CHECK4:
            value = 1 if instrument == "observer4" else 5
            line = f"{family},{member},{role},{session},{DATES[(family, session)]},{informant},{target},{instrument},"
            line += f"{item},{value}"
            lines.append(line + (f",{mode}" if with_mode else ""))
    return lines


def write(tmp_path, lines, header=MODE_HEADER, name="ratings.csv", blank_line=False) -> str:
    """The file; ``blank_line`` adds one at its end, which sends it to the exact (csv module) reader."""
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + ("\n\n" if blank_line else "\n"), encoding="utf-8")
    return str(path)


def snapshot(app) -> dict[str, list]:
    """Every row of every table."""
    with app.app_context():
        return {
            table.name: sorted(map(repr, db.session.execute(sa.select(table)).all()))
            for table in db.metadata.sorted_tables
        }


def stored_requests(app) -> dict[tuple, tuple]:
    """(family, member, session, instrument, target) -> (answered, mode, by, withdrawn, request id)."""
    with app.app_context():
        found = db.session.scalars(sa.select(QuestionnaireRequest)).all()
        return {
            (r.member.family.code, r.member.code, r.session.number, r.instrument, r.target): (
                r.answered_at is not None,
                r.answered_mode,
                r.answered_by_id,
                r.withdrawn_at,
                r.id,
            )
            for r in found
        }


def modes_of(app) -> dict[tuple, str | None]:
    return {key: value[1] for key, value in stored_requests(app).items() if value[0]}


def expected_modes(forms=FORMS, mode=None) -> dict[tuple, str | None]:
    return {
        (f, m, s, instrument, target): mode or (given or None) for f, m, _, s, _, target, instrument, given in forms
    }


def imported(runner, path, *extra):
    result = runner.invoke(args=["import-ratings", path, *extra])
    assert result.exit_code == 0, result.output
    return result


def refused(runner, path, *extra):
    result = runner.invoke(args=["import-ratings", path, *extra])
    assert result.exit_code == 1, result.output
    assert "was not imported; nothing was stored" in result.output
    return result.output


# --- Import -------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank_line", [False, True], ids=["fast reader", "exact reader"])
def test_mode_column_answers_a_request_per_form(app, runner, tmp_path, blank_line):
    before = utcnow()
    imported(runner, write(tmp_path, rows_of(), blank_line=blank_line))
    after = utcnow()
    assert modes_of(app) == expected_modes()
    for answered, _mode, by, withdrawn, _id in stored_requests(app).values():
        assert answered and by is None and withdrawn is None
    with app.app_context():
        stamps = set(db.session.scalars(sa.select(QuestionnaireRequest.answered_at)))
        assert len(stamps) == 1  # the import's time, once for all
        stamp = stamps.pop()
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)  # SQLite gives naive UTC
        assert before - dt.timedelta(seconds=1) <= stamp <= after + dt.timedelta(seconds=1)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 4 * len(FORMS)


@pytest.mark.parametrize("blank_line", [False, True], ids=["fast reader", "exact reader"])
def test_ten_columns_give_mode_import(app, runner, tmp_path, blank_line):
    imported(runner, write(tmp_path, rows_of(with_mode=False), HEADER, blank_line=blank_line))
    assert modes_of(app) == expected_modes(mode="import")


def test_ten_columns_into_stored_sessions_answer_their_requests(app, runner, tmp_path):
    """A form of a session stored before the import: its request is found or made, and answered."""
    imported(runner, write(tmp_path, rows_of(FORMS[:1], with_mode=False), HEADER, name="first.csv"))
    imported(runner, write(tmp_path, rows_of(FORMS[1:], with_mode=False), HEADER, name="rest.csv"))
    assert modes_of(app) == expected_modes(mode="import")


BAD_MODES = ["email", "Link", " paper", "import "]


@pytest.mark.parametrize("bad", BAD_MODES)
def test_bad_mode_refused_with_its_line(app, runner, tmp_path, bad):
    lines = rows_of()
    lines[5] = lines[5].rsplit(",", 1)[0] + f",{bad}"
    before = snapshot(app)
    output = refused(runner, write(tmp_path, lines))
    assert (
        f"line 7, mode: {bad!r} is not a mode; use one of link, round, paper, grid, import, or leave it empty "
        "when unknown"
    ) in output
    assert output.count("is not a mode") == 1
    assert snapshot(app) == before


def test_form_with_two_modes_refused_with_its_lines(app, runner, tmp_path):
    lines = rows_of()
    lines[2] = lines[2].replace(",link", ",paper")  # line 4: F1/M1 at session 1, given by link on lines 2, 3, 5
    lines[23] = lines[23].removesuffix(",") + ",paper"  # line 25: F2/C1, of unknown mode on lines 22 to 24
    before = snapshot(app)
    output = refused(runner, write(tmp_path, lines))
    assert (
        "line 4, mode: form F1/M1/1/self/therapist/check4 has mode 'link' on line 2; one mode per form, "
        "this line says 'paper'"
    ) in output
    assert (
        "line 25, mode: form F2/C1/1/self/therapist/check4 has mode empty (unknown) on line 22; one mode per "
        "form, this line says 'paper'"
    ) in output
    assert "2 problem(s)" in output
    assert snapshot(app) == before


def test_two_modes_found_across_chunks_and_after_other_problems(app, runner, tmp_path, monkeypatch):
    """The exact reader in chunks of two rows: a form's modes are compared across chunks, and still after a
    problem on an earlier line (when nothing more is stored)."""
    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    lines = rows_of()
    lines[0] = lines[0].replace("2026-01-05", "2026-02-30")  # line 2: a bad date
    lines[7] = lines[7].replace(",round", ",")  # line 9: Y1's check4 at session 1, chunk 4, unknown
    before = snapshot(app)
    output = refused(runner, write(tmp_path, lines, blank_line=True))
    assert "line 2, date: '2026-02-30' is not a date" in output
    assert (
        "line 9, mode: form F1/Y1/1/self/therapist/check4 has mode 'round' on line 6; one mode per form, "
        "this line says empty (unknown)"
    ) in output
    assert snapshot(app) == before


def test_field_count_follows_the_header(app, runner, tmp_path):
    lines = rows_of()
    lines[3] = lines[3].rsplit(",", 1)[0]  # ten fields under the eleven-column header
    output = refused(runner, write(tmp_path, lines))
    assert "line 5, line: has 10 fields; expected 11" in output
    wrong = refused(runner, write(tmp_path, rows_of(), HEADER + ",how", name="wrong.csv"))
    assert "line 1, header: the header must be exactly " + HEADER + " (optionally followed by ,mode)" in wrong
    assert counts_empty(app)


def counts_empty(app) -> bool:
    with app.app_context():
        return all(
            db.session.scalar(sa.select(sa.func.count()).select_from(table)) == 0
            for table in (Response.__table__, QuestionnaireRequest.__table__, TherapySession.__table__)
        )


@pytest.fixture
def family_with_requests(app):
    """Family F1, session 1 on 2026-01-05: M1 (mother) and Y1 (youth) present, each with an open check4 request."""
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("F1", [therapist])
        family.full_every = 0  # the quick check only, at the intake too (the default plan gives it alliance16)
        mother = gen_member(family, "M1", "mother")
        youth = gen_member(family, "Y1", "youth")
        gen_session(family, 1, dt.date(2026, 1, 5), present=[mother, youth])
        commit()
    return stored_requests(app)


def of_member(code: str) -> sa.Select:
    """The query of a member's request (the fixture's members have one each)."""
    return (
        sa.select(QuestionnaireRequest)
        .join(Member, Member.id == QuestionnaireRequest.member_id)
        .where(Member.code == code)
    )


def test_an_open_request_is_fulfilled_by_the_import(app, runner, tmp_path, family_with_requests):
    assert {key: value[0] for key, value in family_with_requests.items()} == {
        ("F1", "M1", 1, "check4", "therapist"): False,
        ("F1", "Y1", 1, "check4", "therapist"): False,
    }
    with app.app_context():  # Y1's request was withdrawn meanwhile, with a draft kept: answered all the same
        request = db.session.scalar(of_member("Y1"))
        request.withdrawn_at, request.draft = utcnow(), '{"bond": 3}'
        commit()
    imported(runner, write(tmp_path, rows_of(FORMS[:2])))
    after = stored_requests(app)
    assert set(after) == set(family_with_requests)  # the same requests, no new ones
    for key, (answered, _mode, by, withdrawn, request_id) in after.items():
        assert answered and by is None and withdrawn is None
        assert request_id == family_with_requests[key][-1]
    assert modes_of(app) == expected_modes(FORMS[:2])
    with app.app_context():
        assert set(db.session.scalars(sa.select(QuestionnaireRequest.draft))) == {None}


def test_an_open_request_is_fulfilled_by_a_ten_column_import(app, runner, tmp_path, family_with_requests):
    imported(runner, write(tmp_path, rows_of(FORMS[:1], with_mode=False), HEADER))
    mother, youth = ("F1", "M1", 1, "check4", "therapist"), ("F1", "Y1", 1, "check4", "therapist")
    after = stored_requests(app)
    assert after[mother][:2] == (True, "import") and after[mother][-1] == family_with_requests[mother][-1]
    assert after[youth][0] is False


def answer_by_link(app, member: str, value: int) -> None:
    with app.app_context():
        request = db.session.scalar(of_member(member))
        requests.submit(request, dict.fromkeys(CHECK4, value), installed_instruments(), "link")
        commit()


def test_replace_keeps_the_answered_request_and_takes_the_files_mode(app, runner, tmp_path, family_with_requests):
    answer_by_link(app, "M1", 2)
    key = ("F1", "M1", 1, "check4", "therapist")
    linked = stored_requests(app)[key]
    assert linked[:2] == (True, "link")
    path = write(tmp_path, rows_of([FORMS[0][:-1] + ("paper",)]))
    before = snapshot(app)
    output = refused(runner, path)
    assert "line 2, item: F1/M1/1/self/therapist/check4/bond is already stored; import with --replace" in output
    assert snapshot(app) == before
    imported(runner, path, "--replace")
    answered, mode, by, withdrawn, request_id = stored_requests(app)[key]
    assert (answered, mode, by, withdrawn, request_id) == (True, "paper", None, None, linked[-1])
    with app.app_context():
        assert set(db.session.scalars(sa.select(Response.value).where(Response.instrument == "check4"))) == {5}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireRequest)) == 2


def test_an_answered_form_refused_without_replace_even_with_other_items(app, runner, tmp_path):
    """A form answered before (here by a first file with two of its items) takes no more answers without --replace."""
    lines = rows_of(FORMS[:1])
    imported(runner, write(tmp_path, lines[:2], name="half.csv"))
    rest = write(tmp_path, lines[2:], name="rest.csv")
    before = snapshot(app)
    output = refused(runner, rest)
    assert (
        "line 2, instrument: form F1/M1/1/self/therapist/check4 is already answered (mode link); import with "
        "--replace to replace it"
    ) in output
    assert snapshot(app) == before
    imported(runner, rest, "--replace")
    assert modes_of(app) == {("F1", "M1", 1, "check4", "therapist"): "link"}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 4


def test_a_rejected_import_leaves_no_temporary_table(app, runner, tmp_path):
    """The tables the import keeps its forms in go with its transaction, refused or not: a second import works."""
    lines = rows_of()
    refused(runner, write(tmp_path, [*lines, lines[0].replace(",link", ",email")], name="bad.csv"))
    imported(runner, write(tmp_path, lines))
    imported(runner, write(tmp_path, lines), "--replace")
    assert modes_of(app) == expected_modes()


# --- Export, and back -----------------------------------------------------------------------------


def export(runner, tmp_path, fmt="csv", *extra, name=None):
    path = tmp_path / (name or f"long.{fmt}")
    result = runner.invoke(args=["export", "long", "--format", fmt, "--output", str(path), *extra])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def every_mode(app, runner, tmp_path):
    """Forms given every way (link, round, paper, grid, import, unknown), and one form without a request."""
    imported(runner, write(tmp_path, rows_of(), name="every.csv"))
    with app.app_context():
        session = db.session.scalar(sa.select(TherapySession).where(TherapySession.number == 2))
        member = db.session.scalar(sa.select(Member).where(Member.code == "M1"))
        responses.store_answers(
            [
                {
                    "family_id": session.family_id,
                    "member_id": member.id,
                    "session_id": session.id,
                    "informant": "therapist",
                    "target": "team",
                    "instrument": "observer4",
                    "item": item,
                    "value": 2,
                }
                for item in OBSERVER4
            ],
            installed_instruments(),
        )
        commit()


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_long_csv_has_the_mode_of_each_form(app, runner, tmp_path, every_mode):
    text = export(runner, tmp_path).read_text(encoding="utf-8")
    assert next(csv.reader(io.StringIO(text))) == LONG_HEADER_WITH_MODE
    table = read(io.StringIO(text))
    forms = table.groupby(["family", "member", "session", "informant", "target", "instrument"])["mode"]
    assert (forms.nunique() == 1).all()
    modes = forms.first().to_dict()
    assert modes == {
        ("F1", "M1", "1", "self", "therapist", "check4"): "link",
        ("F1", "M1", "2", "self", "team", "check4"): "paper",
        ("F1", "M1", "2", "therapist", "team", "observer4"): "",  # no request
        ("F1", "Y1", "1", "self", "therapist", "check4"): "round",
        ("F1", "Y1", "1", "therapist", "therapist", "observer4"): "grid",
        ("F1", "Y1", "2", "self", "team", "check4"): "import",
        ("F2", "C1", "1", "self", "therapist", "check4"): "",  # unknown
    }
    codebook = read(tmp_path / "long-codebook.csv")
    assert list(codebook["variable"]) == LONG_HEADER_WITH_MODE
    mode = codebook.set_index("variable").loc["mode"]
    assert mode["type"] == "category" and mode["measure"] == "nominal"
    assert mode["values_en"] == (
        "link=by personal link; round=in the round on one device; paper=typed in from paper; "
        "grid=the therapist's grid; import=imported"
    )


def test_long_table_paths_agree(app, runner, tmp_path, every_mode):
    """The streamed CSV, the built table (the xlsx path) and the pseudonymised CSV carry the same modes."""
    streamed = read(export(runner, tmp_path))
    book = load_workbook(export(runner, tmp_path, "xlsx"))
    data = list(book["data"].values)
    assert list(data[0]) == LONG_HEADER_WITH_MODE
    assert [row[-1] or "" for row in data[1:]] == list(streamed["mode"])
    assert [row[0] for row in list(book["codebook"].values)[1:]] == LONG_HEADER_WITH_MODE
    pseudo = read(export(runner, tmp_path, "csv", "--pseudonymise", name="pseudo.csv"))
    assert list(pseudo.columns) == LONG_HEADER_WITH_MODE
    key = ["session", "informant", "target", "instrument", "item", "value", "mode"]
    assert sorted(map(tuple, pseudo[key].to_numpy())) == sorted(map(tuple, streamed[key].to_numpy()))


def test_long_sav_labels_the_modes(app, runner, tmp_path, every_mode):
    frame, meta = pyreadstat.read_sav(str(export(runner, tmp_path, "sav")))
    assert meta.column_names == LONG_HEADER_WITH_MODE
    assert meta.variable_value_labels["mode"] == {
        1.0: "by personal link",
        2.0: "in the round on one device",
        3.0: "typed in from paper",
        4.0: "the therapist's grid",
        5.0: "imported",
    }
    assert meta.variable_measure["mode"] == "nominal"
    codes = {mode: float(i) for i, mode in enumerate(vocab.MODES, start=1)}
    streamed = read(export(runner, tmp_path))
    assert frame["mode"].fillna(-1).tolist() == [codes.get(m, -1) for m in streamed["mode"]]


def test_long_round_trip_keeps_the_modes(app, runner, tmp_path, every_mode):
    """long export -> import into an empty database -> long export: the same bytes, the same modes."""
    first = export(runner, tmp_path)
    assert set(read(first)["mode"]) == {*vocab.MODES, ""}
    modes = modes_of(app)
    with app.app_context():
        empty_tables()
    imported(runner, str(first))
    again = export(runner, tmp_path, name="again.csv")
    assert again.read_bytes() == first.read_bytes()
    # The form that had no request has one now, of unknown mode; the others kept theirs.
    assert modes_of(app) == modes | {("F1", "M1", 2, "observer4", "team"): None}
