"""A family whose member series mix the quick check and the full questionnaire, answered by every path.

Four sessions of a family whose plan asks the full questionnaire every second session (metrics.md
section 6; ``core.plan``: at the intake, session 1, and at session 3; the quick check at the others,
and always for the child): links at session 1, the tablet round at 2, a link and a paper form typed
into the grid at 3, links made again and the round at 4, and the therapist's grid. Sandra's and
Noor's drops at session 4 come right after a full questionnaire, so they are ruptures only on the
member's series across instruments. Shared by the web and browser tiers.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from familyalliance.core.instruments import builtin_instruments
from familyalliance.store.db import db
from familyalliance.store.models import Member, QuestionnaireRequest

from .factories import PASSWORD, commit, gen_family, gen_member, gen_session, gen_user
from .web.test_requests import send_link

CHECK4 = ("bond", "goals_tasks", "safety", "shared_purpose")
ALLIANCE16 = builtin_instruments()["alliance16"].item_codes
REVERSED = {"safety_4", "shared_purpose_4"}
NAMES = {"M1": "Sandra", "Y1": "Noor", "C1": "Daan"}


def full(answer: int) -> dict[str, str]:
    """An alliance16 form whose every dimension scores ``answer`` (reverse-keyed items turned around)."""
    return {item: str(6 - answer if item in REVERSED else answer) for item in ALLIANCE16}


def quick(**values: int) -> dict[str, str]:
    """A check4 form: 9 on every question unless given."""
    return {item: str(values.get(item, 9)) for item in CHECK4}


def links(client, number: int) -> dict[str, str]:
    html = client.post(f"/families/MIX-1/sessions/{number}/links").text
    return dict(re.findall(r"<h3>(\w+)</h3>.*?<a href=\"http://localhost(/r/[^\"]+)\"", html, re.S))


def round_answers(client, number: int, answers: dict[str, dict[str, str]]) -> None:
    """The tablet goes round: each member taps their name and answers."""
    assert client.post(f"/round/start/MIX-1/{number}").status_code == 302
    page = client.get("/round/?lang=en").text
    ids = {name: member_id for member_id, name in re.findall(r'href="/round/(\d+)">([^<]+)</a>', page)}
    for name, values in answers.items():
        thanks = client.post(f"/round/{ids[name]}?lang=en", data=values, follow_redirects=True)
        assert f"Thank you, {name}" in thanks.text
    assert client.post("/round/leave", data={"password": PASSWORD}).status_code == 302


def grid(client, app, number: int, instrument: str, rows: dict[str, dict[str, str]]) -> None:
    """Paper forms or the therapist's own ratings, typed into the session's grid."""
    with app.app_context():
        ids = dict(db.session.execute(sa.select(Member.code, Member.id)).all())
    data = {}
    for code, values in rows.items():
        data |= {f"v-{ids[code]}-{item}": value for item, value in values.items()}
        data |= {f"o-{ids[code]}-{item}": "" for item in values}
    answer = client.post(f"/families/MIX-1/sessions/{number}/grid/{instrument}", data=data)
    assert answer.status_code == 302, answer.text


def planned(app, session_id: int) -> dict[str, str]:
    """The questionnaire each member is asked at a session (member code -> instrument)."""
    with app.app_context():
        return dict(
            db.session.execute(
                sa.select(Member.code, QuestionnaireRequest.instrument)
                .join(Member, Member.id == QuestionnaireRequest.member_id)
                .where(QuestionnaireRequest.session_id == session_id)
            ).all()
        )


def build_course(app, client, auth) -> None:
    """Family MIX-1 after four sessions answered by every path; Ann (therapist) is logged in on ``client``."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        gen_user("team_lead", "Team A", "lead@example.org")
        family = gen_family("MIX-1", [ann])
        family.full_every = 2  # the family's own plan: the full questionnaire at sessions 1 and 3
        members = [gen_member(family, code, role, NAMES[code]) for code, role in [("M1", "mother"), ("Y1", "youth")]]
        members.append(gen_member(family, "C1", "child", "Daan"))
        sessions = [gen_session(family, number, present=members).id for number in (1, 2, 3, 4)]
        commit()
    auth.login("ann@example.org")
    # Session 1, the intake: the full questionnaire for Sandra and Noor, Daan's quick check; everyone by link.
    assert planned(app, sessions[0]) == {"M1": "alliance16", "Y1": "alliance16", "C1": "check4"}
    intake = links(client, 1)
    assert send_link(app, intake["Sandra"], full(5)).status_code == 200
    assert send_link(app, intake["Noor"], full(4)).status_code == 200
    assert send_link(app, intake["Daan"], quick()).status_code == 200
    # Session 2: the quick check for everyone, in the tablet round.
    assert planned(app, sessions[1]) == {"M1": "check4", "Y1": "check4", "C1": "check4"}
    round_answers(client, 2, {"Sandra": quick(), "Noor": quick(), "Daan": quick()})
    # Session 3: the full questionnaire for Sandra (link) and Noor (paper, typed in); Daan's quick check in the round.
    assert planned(app, sessions[2]) == {"M1": "alliance16", "Y1": "alliance16", "C1": "check4"}
    assert send_link(app, links(client, 3)["Sandra"], full(5)).status_code == 200
    grid(client, app, 3, "alliance16", {"Y1": full(4)})
    round_answers(client, 3, {"Daan": quick()})
    # Session 4: the quick check again; links made, made again (the first ones stop working), Sandra answers;
    # Noor and Daan in the round.
    assert planned(app, sessions[3]) == {"M1": "check4", "Y1": "check4", "C1": "check4"}
    links(client, 4)
    sandra = links(client, 4)["Sandra"]
    assert send_link(app, sandra, quick(bond=4, safety=3)).status_code == 200
    round_answers(client, 4, {"Noor": quick(safety=2, goals_tasks=7), "Daan": quick()})
    # The therapist's view of each member at session 4.
    grid(client, app, 4, "observer4", {code: dict.fromkeys(CHECK4, "2") for code in NAMES})


#: The ruptures of the members' own view (member, session, dimension), all open: Sandra's bond 100 -> 40,
#: safety 100 -> 30 and total 100 -> 62.5; Noor's safety 75 -> 20 (her total falls only 7.5).
EXPECTED = {
    ("M1", "4", "bond"),
    ("M1", "4", "safety"),
    ("M1", "4", "total"),
    ("Y1", "4", "safety"),
}
