"""Every voice exactly once: one questionnaire request per member and session, whatever path answers it.

Each test walks a real session's mix of paths (links, links made again, the tablet round, paper
forms, the therapist's grid, two devices at once) and checks what the member is shown and what
is stored: exactly one form per member, and every send answered with a thank-you or the reason.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from familyalliance.services import casework, requests
from familyalliance.store.db import db
from familyalliance.store.models import Member, QuestionnaireRequest, Response, ResponseChange, TherapySession

from ..factories import commit, gen_family, gen_member, gen_session, gen_user

CHECK4 = ("bond", "goals_tasks", "safety", "shared_purpose")


@pytest.fixture
def session_one(app, auth):
    """Family FAM-1 at session 1: Sandra (mother) and Daan (child), both on check4; Ann their therapist."""
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-1", [therapist])
        family.full_every = 0  # the quick check only, at the intake too (the default plan gives Sandra alliance16)
        mother = gen_member(family, "M1", "mother", "Sandra")
        child = gen_member(family, "C1", "child", "Daan")
        gen_session(family, 1, present=[mother, child])
        commit()
    auth.login("ann@example.org")


def make_links(client) -> dict[str, str]:
    """Ask for links on the session page; return member name -> link path."""
    html = client.post("/families/FAM-1/sessions/1/links").text
    return dict(re.findall(r"<h3>(\w+)</h3>.*?<a href=\"http://localhost(/r/[^\"]+)\"", html, re.S))


def send_link(app, path: str, values: dict, lang: str = "en"):
    """A member opens their link on their own phone and sends the form."""
    phone = app.test_client()
    page = phone.get(f"{path}?lang={lang}")
    if page.status_code != 200:
        return page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return phone.post(f"{path}?lang={lang}", data={"csrf_token": token, **values})


def stored(app, member: str) -> dict[str, int | None]:
    """The member's stored check4 answers."""
    with app.app_context():
        return dict(
            db.session.execute(
                sa.select(Response.item, Response.value)
                .join(Member, Member.id == Response.member_id)
                .where(Member.code == member, Response.instrument == "check4")
            ).all()
        )


def request_of(app, member: str) -> tuple[str, str | None]:
    """The state and mode of the member's check4 request."""
    with app.app_context():
        found = db.session.scalar(
            sa.select(QuestionnaireRequest)
            .join(Member, Member.id == QuestionnaireRequest.member_id)
            .where(Member.code == member, QuestionnaireRequest.instrument == "check4")
        )
        return requests.state(found), found.answered_mode


def start_round(client) -> None:
    assert client.post("/round/start/FAM-1/1").status_code == 302


def round_ids(client) -> dict[str, str]:
    """The round's name list: name -> the member id in its button's URL."""
    page = client.get("/round/?lang=en").text
    return {name: member_id for member_id, name in re.findall(r'href="/round/(\d+)">([^<]+)</a>', page)}


def values(score: int) -> dict[str, str]:
    return dict.fromkeys(CHECK4, str(score))


def test_requests_follow_the_attendance(app, session_one):
    assert request_of(app, "M1") == ("open", None) and request_of(app, "C1") == ("open", None)
    with app.app_context():
        family = db.session.scalar(sa.select(TherapySession)).family
        session = family.sessions[0]
        mother = next(m for m in family.members if m.code == "M1")
        casework.record_session(family, 1, session.date, [m.id for m in family.members if m is not mother], session)
        commit()
    assert request_of(app, "M1")[0] == "withdrawn"


def test_link_then_round(app, client, session_one):
    """Sandra answers by link; the round shows her as done and stores nothing of a second try."""
    paths = make_links(client)
    sent = send_link(app, paths["Sandra"], values(7))
    assert sent.status_code == 200 and "Your answers have been saved" in sent.text
    start_round(client)
    names = round_ids(client)
    assert "Sandra" not in names and "Daan" in names
    done = client.get("/round/?lang=en").text
    assert re.search(r"Sandra\s*<span aria-hidden=\"true\">✓", done)
    # Her id is still in the round: opening or sending it says her answers are in, and stores nothing.
    with app.app_context():
        sandra = db.session.scalar(sa.select(Member.id).where(Member.code == "M1"))
    answer = client.post(f"/round/{sandra}?lang=en", data=values(2), follow_redirects=True)
    assert "your answers are already in" in answer.text
    assert stored(app, "M1") == dict.fromkeys(CHECK4, 7)
    assert request_of(app, "M1") == ("answered", "link")


def test_round_then_link(app, client, session_one):
    """Daan answers in the round; his link, made before, says his answers are in and stores nothing."""
    paths = make_links(client)
    start_round(client)
    daan = round_ids(client)["Daan"]
    thanks = client.post(f"/round/{daan}?lang=en", data=values(9), follow_redirects=True)
    assert "Thank you, Daan" in thanks.text
    late = send_link(app, paths["Daan"], values(1), lang="nl")
    assert late.status_code == 410 and "Je antwoorden zijn binnen" in late.text
    assert stored(app, "C1") == dict.fromkeys(CHECK4, 9)
    assert request_of(app, "C1") == ("answered", "round")


def test_link_made_again_mid_draft(app, client, session_one):
    """A link made again replaces the old one, which says so kindly; the draft waits on the new one."""
    first = make_links(client)["Sandra"]
    phone = app.test_client()
    page = phone.get(first + "?lang=en")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    draft = phone.post(first + "/draft", json={"bond": "4"}, headers={"X-CSRFToken": token})
    assert draft.status_code == 200
    assert request_of(app, "M1")[0] == "in_progress"
    second = make_links(client)["Sandra"]
    assert second != first
    old = phone.post(first + "?lang=en", data={"csrf_token": token, **values(3)})
    assert old.status_code == 410 and "A newer link was made for you" in old.text
    assert stored(app, "M1") == {}
    fresh = app.test_client().get(second + "?lang=en")
    assert re.search(r'name="bond" value="4"[^>]*checked|checked[^>]*name="bond" value="4"', fresh.text)
    assert send_link(app, second, values(5)).status_code == 200
    assert stored(app, "M1") == dict.fromkeys(CHECK4, 5)
    # Links made once more: Sandra answered, so she gets none; Daan gets a new one.
    assert set(make_links(client)) == {"Daan"}


def test_paper_after_link(app, client, session_one):
    """A paper form typed in after a link answer corrects it (kept in the history); a paper-only form
    answers the request, and the member's link then says the answers are in."""
    paths = make_links(client)
    assert send_link(app, paths["Sandra"], values(7)).status_code == 200
    with app.app_context():
        ids = dict(db.session.execute(sa.select(Member.code, Member.id)).all())
    grid = {f"v-{ids['M1']}-{item}": "6" for item in CHECK4} | {f"o-{ids['M1']}-{item}": "7" for item in CHECK4}
    grid |= {f"v-{ids['C1']}-{item}": "8" for item in CHECK4} | {f"o-{ids['C1']}-{item}": "" for item in CHECK4}
    assert client.post("/families/FAM-1/sessions/1/grid/check4", data=grid).status_code == 302
    assert stored(app, "M1") == dict.fromkeys(CHECK4, 6) and stored(app, "C1") == dict.fromkeys(CHECK4, 8)
    assert request_of(app, "M1") == ("answered", "link")
    assert request_of(app, "C1") == ("answered", "paper")
    late = send_link(app, paths["Daan"], values(1))
    assert late.status_code == 410 and "Your answers are in" in late.text
    assert stored(app, "C1") == dict.fromkeys(CHECK4, 8)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ResponseChange)) == 4
    page = client.get("/families/FAM-1/sessions/1?lang=en").text
    assert "answered by link" in page and "answered from paper" in page


def test_two_devices_send_the_same_request(app, client, session_one):
    """Two devices open the same link; the first send is stored, the second is told the answers are in."""
    path = make_links(client)["Daan"]
    one, two = app.test_client(), app.test_client()
    tokens = []
    for device in (one, two):
        page = device.get(path + "?lang=en")
        tokens.append(re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1))
    first = one.post(path + "?lang=en", data={"csrf_token": tokens[0], **values(6)})
    second = two.post(path + "?lang=en", data={"csrf_token": tokens[1], **values(2)})
    assert first.status_code == 200 and "Your answers have been saved" in first.text
    assert second.status_code == 410 and "Your answers are in" in second.text
    assert stored(app, "C1") == dict.fromkeys(CHECK4, 6)


def test_let_them_answer_again(app, client, session_one):
    """The therapist lets Sandra answer again: a new link, new answers, the earlier ones kept as corrections."""
    assert send_link(app, make_links(client)["Sandra"], values(7)).status_code == 200
    with app.app_context():
        request_id = db.session.scalar(
            sa.select(QuestionnaireRequest.id)
            .join(Member, Member.id == QuestionnaireRequest.member_id)
            .where(Member.code == "M1")
        )
    page = client.post(f"/families/FAM-1/sessions/1/requests/{request_id}/reopen?lang=en", follow_redirects=True)
    assert "Sandra may answer again" in page.text
    assert request_of(app, "M1") == ("open", None)
    again = make_links(client)["Sandra"]
    assert send_link(app, again, values(4)).status_code == 200
    assert stored(app, "M1") == dict.fromkeys(CHECK4, 4)
    with app.app_context():
        changes = db.session.scalars(sa.select(ResponseChange)).all()
        assert {(c.old_value, c.new_value) for c in changes} == {(7, 4)} and len(changes) == 4
        assert all(c.changed_by.email == "ann@example.org" for c in changes)


def test_withdrawn_and_tampered_links_are_refused(app, client, session_one):
    paths = make_links(client)
    assert app.test_client().get(paths["Sandra"][:-2] + "xx").status_code == 404
    with app.app_context():
        family = db.session.scalar(sa.select(TherapySession)).family
        session = family.sessions[0]
        casework.record_session(family, 1, session.date, [m.id for m in family.members if m.code == "C1"], session)
        commit()
    gone = send_link(app, paths["Sandra"], values(7))
    assert gone.status_code == 410 and "no longer asked" in gone.text
    assert stored(app, "M1") == {}
    page = client.get("/families/FAM-1/sessions/1?lang=en").text
    assert "no longer asked" in page
