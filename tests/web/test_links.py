"""Member links: the plan, single-use hashed tokens, the questionnaire page, and answers reaching the scores."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from familyalliance.core.vocab import DIMENSIONS as DIMS
from familyalliance.services import requests
from familyalliance.store import queries
from familyalliance.store.db import db
from familyalliance.store.models import (
    Attendance,
    Member,
    QuestionnaireRequest,
    RequestToken,
    Response,
    ResponseChange,
    TherapySession,
    User,
)

from ..factories import commit, gen_family, gen_member, gen_session, gen_user


@pytest.fixture
def session_four(app, auth):
    """Family FAM-1 at session 4, a session of the full questionnaire: mother and child present, father absent."""
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        gen_user("therapist", "Team B", "cas@example.org")
        family = gen_family("FAM-1", [therapist])
        mother = gen_member(family, "M1", "mother", "Sandra")
        child = gen_member(family, "C1", "child", "Daan")
        gen_member(family, "F1", "father", "Mehmet")
        gen_session(family, 4, present=[mother, child])
        commit()
    auth.login("ann@example.org")


def test_default_plan_per_attendee(app, session_four):
    """alliance16 at the intake and every third session after it (1, 4, 7, ...); children always check4; absent
    members nothing."""
    with app.app_context():
        planned = {a.member.code: a.instrument for a in db.session.scalars(sa.select(Attendance))}
    assert planned == {"M1": "alliance16", "C1": "check4", "F1": None}


def make_links(client) -> dict[str, str]:
    """Ask for links on the session page; return member name -> link path."""
    html = client.post("/families/FAM-1/sessions/4/links").text
    found = dict(re.findall(r"<h3>(\w+)</h3>.*?<a href=\"http://localhost(/r/[^\"]+)\"", html, re.S))
    assert "<svg" in html  # the QR codes
    return found


def test_links_made_once_and_stored_hashed(app, client, session_four):
    paths = make_links(client)
    assert set(paths) == {"Sandra", "Daan"}
    with app.app_context():
        stored = db.session.scalars(sa.select(RequestToken.token_hash)).all()
    tokens = [path.split("/r/")[1] for path in paths.values()]
    assert all(len(token) >= 40 for token in tokens)
    assert sorted(stored) == sorted(requests.token_hash(t) for t in tokens)
    assert not set(tokens) & set(stored)
    page = client.get("/families/FAM-1/sessions/4?lang=en").text
    assert "link made, not answered yet" in page and "/r/" not in page  # not shown again


def test_member_answers_check4_and_scores_appear(app, client, session_four):
    path = make_links(client)["Daan"]
    anonymous = app.test_client()
    page = anonymous.get(path + "?lang=nl")
    assert page.status_code == 200
    assert "Ik merk dat de therapeut naar mij luistert." in page.text
    for secret in ("Sandra", "Daan", "Mehmet", "FAM-1"):
        assert secret not in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    sent = anonymous.post(path, data={"csrf_token": token, "bond": "8", "goals_tasks": "6", "safety": "10"})
    assert sent.status_code == 200 and "Je antwoorden zijn opgeslagen" in sent.text
    with app.app_context():
        values = dict(db.session.execute(sa.select(Response.item, Response.value)).all())
        scores = queries.scores()
    assert values == {"bond": 8, "goals_tasks": 6, "safety": 10, "shared_purpose": None}
    assert scores.iloc[0]["bond_pomp"] == 80.0 and scores.iloc[0]["member"] == "C1"
    again = anonymous.get(path + "?lang=en")
    assert again.status_code == 410 and "Your answers are in" in again.text
    resent = anonymous.post(path, data={"csrf_token": token, "bond": "1"})
    assert resent.status_code == 410
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 4


def test_bad_answer_refused_and_kept(app, client, session_four):
    path = make_links(client)["Sandra"]
    anonymous = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', anonymous.get(path).text).group(1)
    response = anonymous.post(path + "?lang=en", data={"csrf_token": token, "bond_1": "4", "bond_2": "9"})
    assert response.status_code == 422
    assert "9 is outside the scale. Give a whole number from 1 to 5, or leave it empty." in response.text
    assert re.search(r'name="bond_1" value="4" checked', response.text)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
        answered = sa.select(QuestionnaireRequest.answered_at).where(QuestionnaireRequest.instrument == "alliance16")
        assert db.session.scalar(answered) is None


def test_expired_and_unknown_links(app, client, session_four):
    path = make_links(client)["Daan"]
    with app.app_context():
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        db.session.execute(sa.update(QuestionnaireRequest).values(expires_at=past))
        commit()
    expired = app.test_client().get(path + "?lang=en")
    assert expired.status_code == 410 and "too old" in expired.text
    unknown = app.test_client().get("/r/not-a-real-token?lang=en")
    assert unknown.status_code == 404 and "We do not know this link" in unknown.text


def test_only_the_familys_therapists_make_links(app, client, auth, session_four):
    auth.logout()
    auth.login("cas@example.org")
    assert client.post("/families/FAM-1/sessions/4/links").status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RequestToken)) == 0
        assert db.session.scalar(sa.select(TherapySession.target)) == "therapist"


def shown_values(html: str) -> dict[str, str]:
    """The grid's hidden fields that carry the values it showed, as a browser sends them back."""
    return dict(re.findall(r'<input type="hidden" name="(o-[^"]+)" value="([^"]*)"', html))


def test_observation_grid_and_corrections(app, client, session_four):
    """The therapist rates each attending member in one grid; a change later is kept with who and when."""
    with app.app_context():
        ids = {m.code: m.id for m in db.session.scalars(sa.select(Member))}
    grid = client.get("/families/FAM-1/sessions/4/grid/observer4?lang=en")
    assert grid.status_code == 200
    # The header names the dimension and asks the question, visibly; each cell is named by member and question.
    header = r'<span class="grid-dimension">1. Bond</span>\s*<span class="grid-text"[^>]*>(.*?)</span>'
    assert re.search(header, grid.text).group(1) == "This member trusts the therapist and feels heard."
    assert 'aria-label="Sandra, 1. Bond"' in grid.text
    assert "Mehmet" not in grid.text  # absent
    cells = {f"v-{ids['M1']}-{item}": v for item, v in zip(DIMS, ["2", "1", "0", "3"], strict=True)}
    cells |= {f"v-{ids['C1']}-bond": "-1"}
    saved = client.post(
        "/families/FAM-1/sessions/4/grid/observer4?lang=en", data=shown_values(grid.text) | cells, follow_redirects=True
    )
    assert "Therapist&#39;s view (4 ratings per member) saved: 8 answers added, 0 corrected." in saved.text
    grid = client.get("/families/FAM-1/sessions/4/grid/observer4?lang=en")
    cells[f"v-{ids['M1']}-safety"] = "-2"
    again = client.post(
        "/families/FAM-1/sessions/4/grid/observer4?lang=en", data=shown_values(grid.text) | cells, follow_redirects=True
    )
    assert "Therapist&#39;s view (4 ratings per member) saved: 0 answers added, 1 corrected." in again.text
    assert re.search(
        r"ann@example.org</td>\s*<td>Sandra</td>\s*<td>Therapist&#39;s view \(4 ratings per member\): 3. Safety</td>"
        r"\s*<td class=\"num\">0</td>"
        r"\s*<td class=\"num\">-2</td>",
        again.text,
    )
    with app.app_context():
        values = dict(
            db.session.execute(sa.select(Response.item, Response.value).where(Response.member_id == ids["M1"])).all()
        )
        change = db.session.scalar(sa.select(ResponseChange))
        assert (change.old_value, change.new_value, change.changed_by.email) == (0, -2, "ann@example.org")
    assert values == {"bond": 2, "goals_tasks": 1, "safety": -2, "shared_purpose": 3}


def test_paper_grid_refuses_bad_cells_and_keeps_input(app, client, session_four):
    with app.app_context():
        ids = {m.code: m.id for m in db.session.scalars(sa.select(Member))}
    cells = {f"v-{ids['C1']}-bond": "7", f"v-{ids['C1']}-safety": "12", f"v-{ids['C1']}-goals_tasks": "x"}
    response = client.post("/families/FAM-1/sessions/4/grid/check4?lang=en", data=cells)
    assert response.status_code == 422
    assert "12 is outside the scale. Give a whole number from 0 to 10, or leave it empty." in response.text
    assert "“x” is not a whole number. Give a whole number from 0 to 10, or leave it empty." in response.text
    assert "Daan, 3. Safety: 12 is outside the scale." in response.text  # the summary names the question, no code
    assert f'name="v-{ids["C1"]}-bond"' in response.text and 'value="7"' in response.text
    assert "Sandra" not in response.text  # she fills in alliance16 at this session
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0


def test_draft_kept_between_visits(app, client, session_four):
    """Answers saved as the member goes come back when the link is opened again, and go when sent."""
    path = make_links(client)["Daan"]
    member = app.test_client()
    assert member.post(path + "/draft", json={"bond": "7", "safety": "9"}).json == {"saved": True, "problems": {}}
    bad = member.post(path + "/draft", json={"goals_tasks": "15", "nope": "1"})
    assert bad.status_code == 422 and set(bad.json["problems"]) == {"goals_tasks", "nope"}
    page = member.get(path).text
    assert re.search(r'name="bond" value="7" checked', page) and re.search(r'name="safety" value="9" checked', page)
    assert not re.search(r'name="goals_tasks" value="\d+" checked', page)
    assert member.post(path + "/draft", json={"safety": ""}).json["saved"]
    assert not re.search(r'name="safety" value="\d+" checked', member.get(path).text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert member.post(path, data={"csrf_token": token, "bond": "7"}).status_code == 200
    with app.app_context():
        draft = sa.select(QuestionnaireRequest.draft).where(QuestionnaireRequest.instrument == "check4")
        assert db.session.scalar(draft) is None
    assert member.post(path + "/draft", json={"bond": "1"}).status_code == 410


def test_a_link_is_read_once_per_request(app, client, session_four):
    """Opening a link and saving a draft read the link once, though the limit's check and the view both ask."""
    path = make_links(client)["Daan"]
    member = app.test_client()
    with app.app_context():
        engine = db.engine
    lookups: list[str] = []

    def record(conn, cursor, statement, *rest):
        if "FROM request_token" in statement:
            lookups.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert member.get(path).status_code == 200
        assert member.post(path + "/draft", json={"bond": "7"}).json["saved"]
        assert member.get("/r/not-a-token").status_code == 404
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(lookups) == 3


def test_tablet_round(app, client, session_four):
    """Names to pick, one questionnaire each, never an earlier answer; everything else locked until the password."""
    start = client.post("/round/start/FAM-1/4?lang=en")
    assert start.status_code == 302 and start.location == "/round/"
    pick = client.get("/round/").text
    assert "Sandra" in pick and "Daan" in pick and "Mehmet" not in pick
    assert client.get("/families/").location == "/round/"  # the caseload is locked
    assert client.get("/families/FAM-1").location == "/round/"
    daan = re.search(r'href="(/round/\d+)">Daan', pick).group(1)
    sent = client.post(daan, data={"bond": "9", "goals_tasks": "8"}, follow_redirects=True)
    assert "Thank you, Daan. Please hand the device on." in sent.text
    assert "Daan</a>" not in sent.text and "Sandra" in sent.text
    sandra = re.search(r'href="(/round/\d+)">Sandra', sent.text).group(1)
    form = client.get(sandra).text
    assert "checked" not in form  # nothing of Daan's answers
    assert client.get(daan).location == "/round/"  # Daan's questionnaire is closed
    wrong = client.post("/round/leave", data={"password": "guess"})
    assert wrong.status_code == 403 and client.get("/families/").location == "/round/"
    left = client.post("/round/leave", data={"password": "correct horse battery"})
    assert left.location == "/families/FAM-1/sessions/4"
    assert client.get("/families/").status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 4


def test_children_see_faces(app, client, session_four):
    """A child's quick check shows a face on each of its five steps; an adult's questions do not."""
    paths = make_links(client)
    child = app.test_client().get(paths["Daan"]).text
    adult = app.test_client().get(paths["Sandra"]).text
    assert child.count('<svg class="face"') == 4 * 5
    assert '<svg class="face"' not in adult


def test_plan_configurable_per_family(app, client, session_four):
    """A family set to the quick check only gets check4 for everyone at session 4 too."""
    with app.app_context():
        therapist_id = db.session.scalar(sa.select(User.id).where(User.email == "ann@example.org"))
    response = client.post(
        "/families/FAM-1/edit",
        data={
            "code": "FAM-1",
            "status": "active",
            "start_date": "2026-01-05",
            "full_every": "0",
            "therapists": [therapist_id],
        },
    )
    assert response.status_code == 302
    with app.app_context():
        ids = [m.id for m in db.session.scalars(sa.select(Member).where(Member.code.in_(["M1", "C1"])))]
    client.post("/families/FAM-1/sessions/4/edit", data={"number": "4", "date": "2026-02-02", "attendance": ids})
    with app.app_context():
        planned = {a.member.code: a.instrument for a in db.session.scalars(sa.select(Attendance))}
    assert planned == {"M1": "check4", "C1": "check4", "F1": None}


def test_link_lifetime_is_a_setting(app, make_app, session_four):
    """MEMBER_LINK_DAYS sets how long new links stay valid; a round makes no links (the device is in the room)."""
    short = make_app(MEMBER_LINK_DAYS=1)
    client = short.test_client()
    client.post("/login", data={"email": "ann@example.org", "password": "correct horse battery"})
    client.post("/families/FAM-1/sessions/4/links")
    client.post("/round/start/FAM-1/4")
    with app.app_context():
        spans = {
            round(
                (token.request.expires_at.replace(tzinfo=None) - token.created_at.replace(tzinfo=None)).total_seconds()
            )
            for token in db.session.scalars(sa.select(RequestToken))
        }
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RequestToken)) == 2  # the round's: none
    assert spans == {86400}
