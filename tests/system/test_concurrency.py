"""Saving at the same moment loses nothing: real concurrent requests on the test database.

Each "browser" is its own test client in its own thread; a barrier lets them send their
forms at once. On SQLite the app takes the write lock at the start of a form post (BEGIN
IMMEDIATE), on PostgreSQL the grid locks the stored answers it compares; either way a
save sees what the other saved.
"""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa

from familyalliance.services import requests
from familyalliance.store.db import db
from familyalliance.store.models import QuestionnaireRequest, Response, TherapySession

from ..factories import PASSWORD, commit, gen_family, gen_member, gen_session, gen_user

DIMS = ("bond", "goals_tasks", "safety", "shared_purpose")
GRID = "/families/FAM-C/sessions/1/grid/observer4"
ROUNDS = 5


@pytest.fixture
def family(app):
    """A family of four, one session, two therapists assigned and a team lead."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        bob = gen_user("therapist", "Team A", "bob@example.org")
        gen_user("team_lead", "Team A", "lead@example.org")
        family = gen_family("FAM-C", [ann, bob], "Team A")
        members = [gen_member(family, f"M{i}", "mother" if i == 1 else "child") for i in range(1, 5)]
        gen_session(family, 1)
        commit()
        return [m.id for m in members]


def browser(app, email: str):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


def shown_values(html: str) -> dict[str, str]:
    """What a browser sends back of the grid untouched: every cell as shown, and the hidden values it was shown with."""
    fields = dict(re.findall(r'name="(v-[^"]+)"[^>]*?value="([^"]*)"', html, flags=re.S))
    return fields | dict(re.findall(r'<input type="hidden" name="(o-[^"]+)" value="([^"]*)"', html))


def at_once(jobs) -> list:
    """Run the jobs in threads released together; return their results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list = []

    def run(i, job):
        try:
            barrier.wait(timeout=10)
            results[i] = job()
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def stored(app) -> dict[tuple[int, str], int | None]:
    with app.app_context():
        return {(r.member_id, r.item): r.value for r in db.session.scalars(sa.select(Response))}


def test_therapists_saving_one_grid_at_once_keep_every_answer(app, family):
    """Four people each fill in another member's row of the same grid at the same moment: all rows are kept."""
    browsers = [
        browser(app, email) for email in ("ann@example.org", "bob@example.org", "lead@example.org", "ann@example.org")
    ]
    for round_number in range(ROUNDS):
        forms = [shown_values(b.get(GRID).text) for b in browsers]
        jobs = []
        for i, (client, form) in enumerate(zip(browsers, forms, strict=True)):
            member = family[i]
            cells = {f"v-{member}-{dim}": str((i + round_number + k) % 7 - 3) for k, dim in enumerate(DIMS)}
            jobs.append(lambda client=client, data=form | cells: client.post(GRID, data=data))
        statuses = [response.status_code for response in at_once(jobs)]
        assert statuses == [302] * 4, statuses
        expected = {(family[i], dim): (i + round_number + k) % 7 - 3 for i in range(4) for k, dim in enumerate(DIMS)}
        assert stored(app) == expected


def test_the_same_answer_changed_at_once_is_not_overwritten_unseen(app, family):
    """Two people change one cell at the same moment: one is saved, the other is told and shown the saved value."""
    ann, bob = browser(app, "ann@example.org"), browser(app, "bob@example.org")
    member = family[0]
    cell = f"v-{member}-bond"
    for round_number in range(ROUNDS):
        forms = [shown_values(b.get(GRID + "?lang=en").text) for b in (ann, bob)]
        values = {"ann": str(round_number % 3), "bob": str(-(round_number % 3) - 1)}
        posts = [(ann, forms[0] | {cell: values["ann"]}), (bob, forms[1] | {cell: values["bob"]})]
        responses = at_once([lambda c=client, d=data: c.post(GRID + "?lang=en", data=d) for client, data in posts])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [302, 409], statuses
        winner = "ann" if responses[0].status_code == 302 else "bob"
        loser = responses[1] if winner == "ann" else responses[0]
        assert stored(app)[(member, "bond")] == int(values[winner])
        assert f"Saved by someone else meanwhile as “{values[winner]}”" in loser.text
        # What the loser typed is still in the form, and sending it again (having seen the other value) works.
        assert f'value="{values["bob" if winner == "ann" else "ann"]}"' in loser.text
        retry = (bob if winner == "ann" else ann).post(GRID, data=shown_values(loser.text) | {cell: "3"})
        assert retry.status_code == 302
        assert stored(app)[(member, "bond")] == 3


def test_a_member_link_sent_twice_at_once_stores_one_set_of_answers(app, family):
    """One link sent from two phones at the same moment: one set of answers stored, the other told they are in."""
    with app.app_context():
        session = db.session.scalar(sa.select(TherapySession))
        for attendance in session.attendance:
            attendance.instrument = "check4"
        made = requests.make_links(session, 7)  # the requests follow the attendance first
        commit()
        request_id, token = made[0][0].id, made[0][1]
    phones = [app.test_client(), app.test_client()]
    answers = {"bond": "7", "goals_tasks": "6", "safety": "8", "shared_purpose": "5"}
    responses = at_once([lambda p=p: p.post(f"/r/{token}?lang=en", data=answers) for p in phones])
    assert sorted(r.status_code for r in responses) == [200, 410]
    winner, loser = sorted(responses, key=lambda r: r.status_code)
    assert "Your answers have been saved" in winner.text
    assert "Your answers are in" in loser.text  # the request's answered state, not a newer link or an error
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == len(answers)
        request = db.session.get(QuestionnaireRequest, request_id)
        assert requests.state(request) == "answered" and request.answered_mode == "link"
        stored = dict(db.session.execute(sa.select(Response.item, Response.value)).all())
    assert stored == {item: int(value) for item, value in answers.items()}


def test_two_therapists_following_up_one_rupture_at_once_both_get_an_answer(app, family):
    """The first follow-up of a rupture saved by two therapists at once: one row, each save answered (no 500).

    The last save wins, as with any later edit; on PostgreSQL the second insert meets the unique key and
    updates the row the first one made (``followups._insert``).
    """
    url = "/families/FAM-C/ruptures/M1/1/self/therapist/bond/follow-up"
    ann, bob = browser(app, "ann@example.org"), browser(app, "bob@example.org")
    for _ in range(ROUNDS):
        answers = at_once(
            [
                lambda: ann.post(url, data={"discussed_on": "2026-01-20", "note": "Ann: besproken."}),
                lambda: bob.post(url, data={"discussed_on": "2026-01-21", "note": "Bob: besproken."}),
            ]
        )
        assert [a.status_code for a in answers] == [302, 302]
        with app.app_context():
            notes = db.session.execute(sa.text("SELECT note FROM rupture_follow_up")).scalars().all()
            assert len(notes) == 1 and notes[0] in ("Ann: besproken.", "Bob: besproken.")
            db.session.execute(sa.text("DELETE FROM rupture_follow_up"))
            commit()
