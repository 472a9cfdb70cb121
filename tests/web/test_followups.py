"""The follow-up page of a rupture: what it shows, saving, refusing, who reaches it, the audit log, erasure.

FAM-1 of the ``course`` scenario with a rupture in every dimension of Sandra's (M1) own view at
session 2 (``services/test_followups.py``); ann is its therapist, cas works in another team.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import zipfile

import pytest
import sqlalchemy as sa

from familyalliance.store.db import db
from familyalliance.store.models import AuditEvent, Family, RuptureFollowUp

from ..scenarios import email
from ..services.test_followups import rupture_at_session_2

pytestmark = pytest.mark.scenario("course")

URL = "/families/FAM-1/ruptures/M1/2/self/therapist/goals_tasks/follow-up"
NOTE = "Besproken met moeder; herstel afgesproken. Kenmerk-ZW9-notitie"


@pytest.fixture
def rupture(app, scenario):
    """FAM-1 with the rupture stored; returns the scenario."""
    with app.app_context():
        rupture_at_session_2(scenario.fam1)
        db.session.commit()
    return scenario


@pytest.fixture
def ann(auth, rupture):
    assert auth.login(email("ann")).status_code == 302
    return rupture


def follow_ups(app) -> list[tuple]:
    with app.app_context():
        query = sa.select(
            RuptureFollowUp.family_id,
            RuptureFollowUp.dimension,
            RuptureFollowUp.discussed_on,
            RuptureFollowUp.note,
        ).order_by(RuptureFollowUp.id)
        return [tuple(row) for row in db.session.execute(query)]


def visible_text(page: str) -> str:
    """The text a reader sees: no tags, scripts or styles (addresses in links do not count)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def flashes(client) -> list[str]:
    with client.session_transaction() as session:
        return [message for _category, message in session.get("_flashes", [])]


def test_the_page_shows_the_rupture_and_the_form_in_dutch(ann, client):
    page = client.get(URL + "?lang=nl")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert 'lang="nl"' in page.text
    assert "Sandra" in text  # the member's name
    assert "Doelen en taken" in text  # the dimension's name in the page's language
    assert "Sessie 2 (19 jan 2026)" in re.sub(r"\s+", " ", text)
    assert "eigen oordeel gezinslid" in text  # the member's own view
    assert "breuk, nog open" in text  # what the ratings say of it
    for code in ("goals_tasks", "self", "M1", "check4", "None"):
        assert not re.search(rf"\b{re.escape(code)}\b", text), code
    # The form: the date suggests today, the note says how long it may be.
    assert re.search(rf'<input[^>]*name="discussed_on"[^>]*value="{dt.date.today().isoformat()}"', page.text)
    assert re.search(r'<textarea[^>]*maxlength="1000"[^>]*name="note"', page.text)
    assert 'href="/families/FAM-1#ruptures"' in page.text


def test_the_page_in_english(ann, client):
    text = visible_text(client.get(URL + "?lang=en").text)
    assert "Follow-up of a rupture" in text and "Goals and tasks" in text and "rupture, still open" in text
    assert "At most 1000 characters." in text and "Discussed on" in text


def test_saving_redirects_to_the_family_and_keeps_the_follow_up(app, ann, client):
    response = client.post(URL + "?lang=en", data={"discussed_on": "2026-02-03", "note": NOTE})
    assert response.status_code == 302
    assert response.headers["Location"] == "/families/FAM-1#ruptures"
    assert flashes(client) == ["The follow-up was saved."]
    family_id = ann.fam1.id
    assert follow_ups(app) == [(family_id, "goals_tasks", dt.date(2026, 2, 3), NOTE)]
    # Shown again: the saved date and note, no suggestion of today.
    page = client.get(URL + "?lang=en").text
    assert 'value="2026-02-03"' in page and NOTE in page
    assert "Discussed on Feb 3, 2026" in visible_text(page)
    # Both fields emptied: the follow-up is removed.
    response = client.post(URL, data={"discussed_on": "", "note": "  "})
    assert response.status_code == 302
    assert flashes(client) == ["The follow-up was removed."]
    assert follow_ups(app) == []


def test_a_note_without_a_date(app, ann, client):
    assert client.post(URL, data={"discussed_on": "", "note": "Eerst met vader bespreken."}).status_code == 302
    assert follow_ups(app) == [(ann.fam1.id, "goals_tasks", None, "Eerst met vader bespreken.")]
    page = client.get(URL + "?lang=en").text
    assert re.search(r'<input[^>]*name="discussed_on"[^>]*value=""', page)  # no date suggested over a note
    assert "Not discussed yet" in visible_text(page)


@pytest.mark.parametrize(
    ("date", "note", "error"),
    [
        ((dt.date.today() + dt.timedelta(days=1)).isoformat(), NOTE, "The date cannot be in the future."),
        ("2026-02-31", NOTE, "Not a valid date value."),
        ("2026-02-03", "lang " * 201, "Use at most 1000 characters."),
        ("2026-02-03", "met\x00nul", "Remove the control characters (such as NUL)."),
    ],
    ids=["future", "no-such-date", "too-long", "nul"],
)
def test_bad_input_is_shown_again_with_what_was_typed(app, ann, client, date, note, error):
    page = client.post(URL + "?lang=en", data={"discussed_on": date, "note": note})
    assert page.status_code == 422
    assert error in page.text
    assert f'value="{date}"' in page.text  # the date as typed
    if "\x00" not in note:
        assert html.escape(note, quote=False).strip() in page.text  # the note as typed
    assert 'aria-invalid="true"' in page.text
    assert follow_ups(app) == []


@pytest.mark.parametrize(
    "url",
    [
        "/families/FAM-1/ruptures/X9/2/self/therapist/goals_tasks/follow-up",  # no such member
        "/families/FAM-1/ruptures/M1/9/self/therapist/goals_tasks/follow-up",  # no such session
        "/families/FAM-1/ruptures/M1/2/mother/therapist/goals_tasks/follow-up",
        "/families/FAM-1/ruptures/M1/2/self/family/goals_tasks/follow-up",
        "/families/FAM-1/ruptures/M1/2/self/therapist/goals/follow-up",
        "/families/FAM-9/ruptures/M1/2/self/therapist/goals_tasks/follow-up",  # no such family
        "/families/FAM-2/ruptures/M1/1/self/therapist/goals_tasks/follow-up",  # another team's family
    ],
)
def test_what_is_not_there_is_404(app, ann, client, url):
    assert client.get(url).status_code == 404
    assert client.post(url, data={"discussed_on": "2026-02-03", "note": NOTE}).status_code == 404
    assert follow_ups(app) == []


def test_a_colleague_not_assigned_and_a_researcher_cannot_reach_it(app, rupture, auth, client):
    auth.login(email("cas"))  # another team
    assert client.post(URL, data={"note": NOTE}).status_code == 404
    client.post("/logout")
    auth.login(email("bob"))  # same team, not assigned to FAM-1
    assert client.get(URL).status_code == 404
    client.post("/logout")
    auth.login(email("research"))
    assert client.get(URL).status_code == 403
    assert client.post(URL, data={"note": NOTE}).status_code == 403
    client.post("/logout")
    auth.login(email("lead"))  # ann's team lead may
    assert client.get(URL).status_code == 200
    assert follow_ups(app) == []


def test_saving_is_audited_without_the_note(app, ann, client):
    client.get(URL)
    client.post(URL, data={"discussed_on": "2026-02-03", "note": NOTE})
    with app.app_context():
        events = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))
        family_id = db.session.scalar(sa.select(Family.id).where(Family.code == "FAM-1"))
        logged = [
            (e.action, e.user_email, e.family_id, e.family_code, e.endpoint, e.status)
            for e in events
            if e.family_code == "FAM-1"
        ]
        assert logged == [
            ("family.view", email("ann"), family_id, "FAM-1", "families.rupture_follow_up", 200),
            ("family.change", email("ann"), family_id, "FAM-1", "families.rupture_follow_up", 302),
        ]
        everything = repr([{c.name: getattr(e, c.name) for c in AuditEvent.__table__.columns} for e in events])
        assert "Kenmerk-ZW9" not in everything and "Besproken" not in everything


def test_erasing_the_family_erases_its_follow_ups(app, ann, client, auth):
    assert client.post(URL, data={"discussed_on": "2026-02-03", "note": NOTE}).status_code == 302
    assert len(follow_ups(app)) == 1
    client.post("/logout")
    auth.login(email("lead"))
    assert client.post("/families/FAM-1/erase", data={"confirm": "FAM-1"}).status_code == 302
    assert follow_ups(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(Family.id).where(Family.code == "FAM-1")) is None


def test_the_export_page_never_carries_the_note(app, ann, client, auth):
    """What a team lead takes home from the Export page: every kind, pseudonymised, without the note."""
    assert client.post(URL, data={"discussed_on": "2026-02-03", "note": NOTE}).status_code == 302
    client.post("/logout")
    auth.login(email("lead"))
    for kind in ("long", "scores", "family", "ruptures", "research"):
        response = client.post("/exports/", data={"kind": kind, "fmt": "csv", "dates": "shift", "language": "nl"})
        assert response.status_code == 200, kind
        archive = zipfile.ZipFile(io.BytesIO(response.data))
        text = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
        assert "Kenmerk-ZW9" not in text, kind
