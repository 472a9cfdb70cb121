"""The therapist's flow: a new session leads to its page; the intake asks the full questionnaire; the caseload's
reasons are one line per kind, at most three; the Dutch interface says "je"."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from babel.messages import pofile

from familyalliance.core import prompts
from familyalliance.core.catalog import TRANSLATIONS
from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import caseload, responses
from familyalliance.store.db import db
from familyalliance.store.models import Attendance, Family, FamilySummary, Member, TherapySession, User

from ..factories import commit, gen_family, gen_member, gen_session, gen_user


@pytest.fixture
def therapist(app, auth):
    """Ann with FAM-1 (Sandra, mother; Noor, youth; Daan, child) after its first session, logged in."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-1", [ann])
        gen_member(family, "M1", "mother", "Sandra")
        gen_member(family, "Y1", "youth", "Noor")
        gen_member(family, "C1", "child", "Daan")
        gen_session(family, 1)
        commit()
    auth.login("ann@example.org")


def everyone(app, code: str = "FAM-1") -> list[int]:
    """The ids of the family's members, to mark them all present."""
    with app.app_context():
        return list(db.session.scalars(sa.select(Member.id).join(Family).where(Family.code == code)))


def planned(app, code: str = "FAM-1") -> dict[int, dict[str, str | None]]:
    """Session number -> member code -> the questionnaire planned for them."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(TherapySession.number, Member.code, Attendance.instrument)
            .join(Attendance, Attendance.session_id == TherapySession.id)
            .join(Member, Member.id == Attendance.member_id)
            .join(Family, Family.id == TherapySession.family_id)
            .where(Family.code == code)
        ).all()
    found: dict[int, dict[str, str | None]] = {}
    for number, member, instrument in rows:
        found.setdefault(number, {})[member] = instrument
    return found


# --- after saving ---------------------------------------------------------------------------------


def test_a_new_session_is_saved_onto_its_own_page(client, therapist):
    """Where the links are made and the round starts: the therapist's next step."""
    response = client.post("/families/FAM-1/sessions/new?lang=en", data={"number": "2", "date": "2026-01-19"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/families/FAM-1/sessions/2"
    page = client.get(response.headers["Location"] + "?lang=en").text
    assert "Session 2 was saved." in page
    assert "Who fills in what" in page and "Make personal links" in page


def test_an_edited_session_is_saved_onto_the_family_page(client, therapist):
    response = client.post("/families/FAM-1/sessions/1/edit", data={"number": "1", "date": "2026-01-12"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/families/FAM-1"


# --- the plan ----------------------------------------------------------------------------------------


def test_the_intake_and_every_third_session_after_it_ask_the_full_questionnaire(client, app, therapist):
    """Sessions 1, 4 and 7: the full questionnaire for the adults and the youth; the child the quick check always."""
    for number in range(2, 8):
        day = (dt.date(2026, 1, 12) + dt.timedelta(days=7 * (number - 1))).isoformat()
        form = {"number": str(number), "date": day, "attendance": everyone(app)}
        answer = client.post("/families/FAM-1/sessions/new", data=form)
        assert answer.headers["Location"] == f"/families/FAM-1/sessions/{number}"
    plan = planned(app)
    full = {n for n, members in plan.items() if members["M1"] == "alliance16"}
    assert full == {1, 4, 7}
    assert all(plan[n]["Y1"] == plan[n]["M1"] for n in plan)
    assert {plan[n]["C1"] for n in plan} == {"check4"}
    assert {plan[n]["M1"] for n in plan if n not in full} == {"check4"}


def test_a_family_without_the_full_questionnaire_gets_the_quick_check_at_the_intake_too(client, app, therapist):
    with app.app_context():
        ann = db.session.scalar(sa.select(User.id).where(User.email == "ann@example.org"))
    form = {"code": "FAM-2", "status": "active", "start_date": "2026-03-02", "full_every": "0", "therapists": [ann]}
    assert client.post("/families/new", data=form).status_code == 302
    member = {"code": "M1", "display_name": "Ilse", "role": "father"}
    assert client.post("/families/FAM-2/members/new", data=member).status_code == 302
    session = {"number": "1", "date": "2026-03-02", "attendance": everyone(app, "FAM-2")}
    answer = client.post("/families/FAM-2/sessions/new", data=session)
    assert answer.headers["Location"] == "/families/FAM-2/sessions/1"
    assert planned(app, "FAM-2") == {1: {"M1": "check4"}}


def test_the_session_page_of_the_intake_offers_the_full_questionnaires_grid(client, therapist):
    page = client.get("/families/FAM-1/sessions/1?lang=en").text
    assert "/families/FAM-1/sessions/1/grid/alliance16" in page and "/families/FAM-1/sessions/1/grid/check4" in page


# --- the caseload's reasons -----------------------------------------------------------------------------


def rupture(member: str, size: float, dimension: str = "safety", **extra) -> dict:
    return {"kind": "rupture_open", "points": 1, "member": member, "size": size, "session": 4,
            "dimension": dimension, "target": "therapist"} | extra  # fmt: skip


NAMES = {"M1": "Sandra", "Y1": "Noor", "C1": "Daan"}


def test_one_reason_of_a_kind_reads_as_before():
    reasons = [
        {"kind": "split_severe", "points": 3, "session": 4, "dimension": "bond", "size": 55.0, "member": "Y1"},
        {"kind": "low_early", "points": 2, "dimension": "total", "size": 41.7, "member": "C1", "target": "therapist"},
        rupture("M1", 70.0),
    ]
    for language in ("en", "nl"):
        assert prompts.reason_lines(reasons, language, NAMES) == [
            prompts.render_reason(reason, language, NAMES) for reason in reasons
        ]


def test_several_reasons_of_a_kind_share_one_line():
    reasons = [
        rupture("M1", 70.0),
        rupture("Y1", 30.2, "bond", discussed_on="2026-11-30"),
        rupture("C1", 25.0, "total", session=3),
        {"kind": "low_early", "points": 2, "dimension": "total", "size": 41.7, "member": "M1", "target": "therapist"},
        {"kind": "low_early", "points": 2, "dimension": "total", "size": 38.0, "member": "Y1", "target": "therapist"},
    ]
    # Most concern points first (two low early alliances: 4; three open ruptures: 3); in a line, the most
    # concerning member first.
    assert prompts.reason_lines(reasons, "en", NAMES) == [
        "Low early alliance: Noor (38 out of 100), Sandra (42 out of 100).",
        "Recent rupture, not repaired yet: Sandra (sense of safety, 70 points in session 4), Noor (bond with the "
        "therapist, 30 points in session 4, discussed on November 30, 2026), Daan (overall alliance, 25 points in "
        "session 3).",
    ]


def answers(family, session, member, instrument: str, value: int, informant: str = "self") -> list[dict]:
    """One member's form with every item at ``value``."""
    key = {"family_id": family.id, "member_id": member.id, "session_id": session.id, "target": "therapist"}
    return [
        key | {"informant": informant, "instrument": instrument, "item": item, "value": str(value)}
        for item in builtin_instruments()[instrument].item_codes
    ]


@pytest.fixture
def crowded(app, auth):
    """FAM-9, a family with every kind of concern at its third session, and Ann, its therapist, logged in.

    Sandra's alliance was low from the start; Noor's and Mila's fell at session 3, where the members differ
    widely and the therapist sees it all rosier than the family does.
    """
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-9", [ann])
        family.full_every = 0
        members = {
            "M1": gen_member(family, "M1", "mother", "Sandra"),
            "Y1": gen_member(family, "Y1", "youth", "Noor"),
            "F1": gen_member(family, "F1", "father", "Ahmed"),
            "S1": gen_member(family, "S1", "sibling", "Mila"),
        }
        course = {"M1": (2, 2, 2), "Y1": (9, 9, 1), "F1": (9, 9, 9), "S1": (9, 9, 3)}
        rows = []
        for number in (1, 2, 3):
            session = gen_session(family, number)
            for code, values in course.items():
                rows += answers(family, session, members[code], "check4", values[number - 1])
                if number == 3:
                    rows += answers(family, session, members[code], "observer4", 3, informant="therapist")
        responses.store_answers(rows, builtin_instruments())
        commit()
    auth.login("ann@example.org")


def reason_cells(html: str) -> dict[str, tuple[list[str], list[str], str | None]]:
    """Per family on the caseload: the reasons' lines shown, those behind "and N more", and that summary."""
    cells = {}
    for code, cell in re.findall(
        r'<a href="/families/([^"]+)">[^<]+</a></th>.*?<td class="why">(.*?)</td>', html, re.S
    ):
        shown, _, rest = cell.partition("<details")
        summary = re.search(r"<summary>(.*?)</summary>", rest)
        cells[code] = (
            re.findall(r"<li>(.*?)</li>", shown, re.S),
            re.findall(r"<li>(.*?)</li>", rest, re.S),
            summary.group(1) if summary else None,
        )
    return cells


def test_the_caseload_shows_at_most_three_lines_per_family(client, app, crowded, monkeypatch):
    html = client.get("/families/?lang=en").text
    with app.app_context():
        reasons = db.session.scalar(sa.select(FamilySummary.reasons).join(Family).where(Family.code == "FAM-9"))
    assert [r["kind"] for r in reasons] == ["split_severe", "low_early", "gap_large", "rupture_open", "rupture_open"]
    shown, more, summary = reason_cells(html)["FAM-9"]
    # One line per kind, most concern first (two ruptures weigh as much as one low early alliance): three shown,
    # the others behind "and N more" on the same page.
    assert shown == [
        "Severe split in session 3: members differ 80 points on the bond with the therapist (lowest: Noor).",
        "Low early alliance: Sandra, 20 out of 100 over the first sessions.",
        "Recent rupture, not repaired yet: Noor (bond with the therapist, 80 points in session 3), "
        "Mila (bond with the therapist, 60 points in session 3).",
    ]
    assert more == ["Family and therapist see the bond with the therapist differently: 62 points in session 3."]
    assert summary == "and 1 more" and '<details class="more-reasons"><summary>and 1 more</summary>' in html
    # With fewer lines allowed, the rest moves behind "and N more"; nothing is lost.
    monkeypatch.setattr(caseload, "REASON_LINES", 1)
    app.extensions.pop("familyalliance.pages", None)
    fewer_shown, fewer_more, fewer_summary = reason_cells(client.get("/families/?lang=en").text)["FAM-9"]
    assert fewer_shown + fewer_more == shown + more
    assert len(fewer_shown) == 1 and fewer_summary == "and 3 more"


def test_a_family_with_few_reasons_has_no_more(client, app, crowded):
    with app.app_context():
        ann = db.session.scalar(sa.select(User).where(User.email == "ann@example.org"))
        family = gen_family("FAM-1", [ann])
        gen_member(family, "M1", "mother", "Sandra")
        gen_session(family, 1)
        commit()
    shown, more, summary = reason_cells(client.get("/families/?lang=en").text)["FAM-1"]
    assert shown == [] and more == [] and summary is None


# --- the Dutch interface ---------------------------------------------------------------------------------


def test_the_dutch_interface_says_je_throughout():
    """No formal "u", "uw" or "uzelf" in any Dutch text of the app."""
    with open(TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = pofile.read_po(handle)
    formal = re.compile(r"\b(u|uw|uzelf)\b", re.IGNORECASE)
    found = []
    for message in catalog:
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        found += [text for text in texts if text and formal.search(re.sub(r"%\(\w+\)s", "", text))]
    assert found == []
