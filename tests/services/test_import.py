"""Import of the long CSV: all or nothing, every problem named with its line."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from familyalliance.store.db import db
from familyalliance.store.models import Attendance, Family, Member, Response, TherapySession

HEADER = "family,member,role,session,date,informant,target,instrument,item,value"
GOOD = [
    "F1,M1,mother,1,2026-01-05,self,therapist,check4,bond,7",
    "F1,M1,mother,1,2026-01-05,self,therapist,check4,goals_tasks,",
    "F1,Y1,youth,1,2026-01-05,self,therapist,check4,bond,3",
    "F1,Y1,youth,1,2026-01-05,therapist,therapist,observer4,bond,-2",
    "F1,Y1,youth,2,2026-01-12,self,team,alliance16,safety_4,5",
]


def write(tmp_path, lines, name="ratings.csv", header=HEADER, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(("\n".join(([header] if header is not None else []) + lines) + "\n").encode(encoding))
    return str(path)


def counts(app):
    with app.app_context():
        return {
            m.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Family, Member, TherapySession, Attendance, Response)
        }


def test_import_creates_what_it_does_not_know(app, runner, tmp_path):
    result = runner.invoke(args=["import-ratings", write(tmp_path, GOOD), "--team", "Noord"])
    assert result.exit_code == 0, result.output
    assert "Imported 5 rows (1 unanswered)" in result.output
    assert counts(app) == {"Family": 1, "Member": 2, "TherapySession": 2, "Attendance": 3, "Response": 5}
    with app.app_context():
        family = db.session.scalar(sa.select(Family))
        assert family.team.name == "Noord"
        assert family.start_date.isoformat() == "2026-01-05"  # its first session
        assert [(m.code, m.role) for m in family.members] == [("M1", "mother"), ("Y1", "youth")]
        values = db.session.execute(
            sa.select(Response.item, Response.value).order_by(*Response.__table__.primary_key.columns)
        ).all()
        assert values == [("bond", 7), ("goals_tasks", None), ("bond", 3), ("bond", -2), ("safety_4", 5)]


BAD = {
    "wrong header": (
        None,
        "family,member,role,session,date,informant,target,instrument,item",
        1,
        "the header must be exactly family,member,role,session,date,informant,target,instrument,item,value",
    ),
    "unknown instrument": ("F1,M1,mother,1,2026-01-05,self,therapist,srs,bond,3", None, 2, "unknown instrument 'srs'"),
    "unknown item": (
        "F1,M1,mother,1,2026-01-05,self,therapist,check4,bond_1,3",
        None,
        2,
        "'bond_1' is not an item of check4",
    ),
    "informant not the instrument's": (
        "F1,M1,mother,1,2026-01-05,therapist,therapist,check4,bond,3",
        None,
        2,
        "check4 is filled in by informant 'self', not 'therapist'",
    ),
    "value out of range": (
        "F1,M1,mother,1,2026-01-05,self,therapist,alliance16,bond_1,6",
        None,
        2,
        "6 is outside the scale; alliance16 takes a whole number from 1 to 5",
    ),
    "value not an integer": (
        "F1,M1,mother,1,2026-01-05,self,therapist,check4,bond,7.5",
        None,
        2,
        "'7.5' is not a whole number",
    ),
    "impossible date": (
        "F1,M1,mother,1,2026-02-30,self,therapist,check4,bond,3",
        None,
        2,
        "'2026-02-30' is not a date; use YYYY-MM-DD",
    ),
    "session below 1": (
        "F1,M1,mother,0,2026-01-05,self,therapist,check4,bond,3",
        None,
        2,
        "'0' is not a session number",
    ),
    "invalid code": ("F 1,M1,mother,1,2026-01-05,self,therapist,check4,bond,3", None, 2, "'F 1' is not a valid code"),
    "unknown role": ("F1,M1,aunt,1,2026-01-05,self,therapist,check4,bond,3", None, 2, "'aunt' is not a role"),
    "too few fields": ("F1,M1,mother,1,2026-01-05,self,therapist,check4,bond", None, 2, "has 9 fields; expected 10"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_rows_refused_with_their_line(app, runner, tmp_path, case):
    row, header, line, message = BAD[case]
    lines = GOOD[:2] + ([row] if row else []) + GOOD[2:]
    before = counts(app)
    result = runner.invoke(args=["import-ratings", write(tmp_path, lines, header=header or HEADER)])
    assert result.exit_code == 1
    assert "was not imported; nothing was stored" in result.output
    expected_line = 4 if row else line
    assert f"line {expected_line}, " in result.output and message in result.output, result.output
    assert counts(app) == before


def test_cross_row_problems(app, runner, tmp_path):
    """Two dates for one session, a member whose role changes, and a duplicate key, each with its lines."""
    lines = GOOD + [
        "F1,M1,mother,1,2026-01-06,self,therapist,check4,safety,3",
        "F1,Y1,child,2,2026-01-12,self,team,alliance16,safety_3,4",
        "F1,M1,mother,1,2026-01-05,self,therapist,check4,bond,8",
    ]
    result = runner.invoke(args=["import-ratings", write(tmp_path, lines)])
    assert result.exit_code == 1
    assert (
        "line 7, date: session 1 of family F1 has date 2026-01-05 on line 2; one date per session, this line "
        "says 2026-01-06"
    ) in result.output
    assert (
        "line 8, role: member Y1 of family F1 has role 'youth' on line 4; a member keeps one role, this line "
        "says 'child'"
    ) in result.output
    assert counts(app)["Response"] == 0
    duplicate = runner.invoke(args=["import-ratings", write(tmp_path, GOOD + [GOOD[0]])])
    assert duplicate.exit_code == 1
    assert "line 7, item: a second answer for F1/M1/1/self/therapist/check4/bond (first on line 2)" in duplicate.output
    assert counts(app)["Family"] == 0


def test_not_utf8_and_empty_files(app, runner, tmp_path):
    latin = write(
        tmp_path, GOOD[:2] + ["F1,M1,mother,1,2026-01-05,self,therapist,check4,safety,3 café"], encoding="latin-1"
    )
    result = runner.invoke(args=["import-ratings", latin])
    assert result.exit_code == 1 and "line 4, file: is not UTF-8 text" in result.output
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = runner.invoke(args=["import-ratings", str(empty)])
    assert result.exit_code == 1 and "the file is empty" in result.output
    result = runner.invoke(args=["import-ratings", write(tmp_path, [], name="header.csv")])
    assert result.exit_code == 1 and "the file has a header but no rows" in result.output
    assert counts(app)["Family"] == 0


def test_problems_are_capped_but_counted(app, runner, tmp_path):
    lines = [f"F1,M1,mother,1,2026-01-05,self,therapist,check4,bond,{11 + i}" for i in range(150)]
    result = runner.invoke(args=["import-ratings", write(tmp_path, lines)])
    assert result.exit_code == 1
    assert "150 problem(s)" in result.output and "... and 50 more" in result.output
    assert result.output.count("is outside the scale") == 100


def test_reimport_refused_then_replaced(app, runner, tmp_path):
    path = write(tmp_path, GOOD)
    assert runner.invoke(args=["import-ratings", path]).exit_code == 0
    again = runner.invoke(args=["import-ratings", path])
    assert again.exit_code == 1
    assert "line 2, item: F1/M1/1/self/therapist/check4/bond is already stored; import with --replace" in again.output
    changed = write(tmp_path, [GOOD[0].replace(",7", ",9")] + GOOD[1:], name="changed.csv")
    replaced = runner.invoke(args=["import-ratings", changed, "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert "replaced 5" in replaced.output
    assert counts(app)["Response"] == 5
    with app.app_context():
        assert sorted(v for v in db.session.scalars(sa.select(Response.value)) if v is not None) == [-2, 3, 5, 9]


def test_replace_with_a_bad_row_keeps_the_old_answers(app, runner, tmp_path):
    assert runner.invoke(args=["import-ratings", write(tmp_path, GOOD)]).exit_code == 0
    bad = write(tmp_path, [GOOD[0].replace(",7", ",9")] + GOOD[1:] + [GOOD[0].replace(",7", ",99")], "bad.csv")
    assert runner.invoke(args=["import-ratings", bad, "--replace"]).exit_code == 1
    with app.app_context():
        assert sorted(v for v in db.session.scalars(sa.select(Response.value)) if v is not None) == [-2, 3, 5, 7]


def test_existing_member_with_other_role_refused(app, runner, tmp_path):
    assert runner.invoke(args=["import-ratings", write(tmp_path, GOOD)]).exit_code == 0
    other = write(tmp_path, ["F1,M1,father,3,2026-01-19,self,therapist,check4,bond,7"], name="other.csv")
    result = runner.invoke(args=["import-ratings", other])
    assert result.exit_code == 1
    assert "member M1 of family F1 has role 'mother' in the database" in result.output


@pytest.mark.parametrize(
    "content, line",
    [
        # The file: the last line ends in an unclosed quote (and no newline after it).
        ("\n".join([HEADER, *GOOD, 'F1,Y1,youth,2,2026-01-12,self,team,alliance16,bond_1,"3']), 7),
        # The same with a newline after it, and an unclosed quote in the middle of the file.
        ("\n".join([HEADER, *GOOD, 'F1,Y1,youth,2,2026-01-12,self,team,alliance16,bond_1,"3']) + "\n", 7),
        ("\n".join([HEADER, *GOOD[:2], 'F1,M1,mother,1,2026-01-05,self,therapist,check4,safety,"3', *GOOD[2:]]), 4),
    ],
)
def test_an_unclosed_quote_is_refused_with_its_line(app, runner, tmp_path, content, line):
    """A quote opened and never closed is a malformed file: refused with the line it opens on, nothing stored."""
    path = tmp_path / "unclosed.csv"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(args=["import-ratings", str(path)])
    assert result.exit_code == 1, result.output
    assert "was not imported; nothing was stored" in result.output
    assert f"line {line}, file: a quoted value opened on this line is never closed" in result.output, result.output
    assert counts(app)["Response"] == 0 and counts(app)["Family"] == 0
