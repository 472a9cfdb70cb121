"""The refresher: after a member's answer, the summary and the dashboards are ready before anyone opens them."""

from __future__ import annotations

import contextlib
import os
import re

import flask
import pytest
import sqlalchemy as sa

from familyalliance.services import pagecache, refresher
from familyalliance.store import summaries
from familyalliance.store.db import db
from familyalliance.store.models import Family, FamilySummary

from ..conftest import PASSWORD
from ..factories import commit, gen_family, gen_member, gen_session, gen_user


@pytest.fixture
def refreshing(app, make_app):
    """An app whose refresher runs right after each commit, with FAM-1 (mother and child present at session 4);
    its tables are emptied after the test by ``app``'s fixture."""
    refreshing = make_app(REFRESH_AHEAD=True, REFRESH_DELAY=0.0, REFRESH_MAX_LOAD=1000)
    with refreshing.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-1", [therapist])
        mother = gen_member(family, "M1", "mother", "Sandra")
        child = gen_member(family, "C1", "child", "Daan")
        gen_session(family, 4, present=[mother, child])
        commit()
    yield refreshing
    assert refresher.of(refreshing).wait_idle(30)


@contextlib.contextmanager
def statements(app):
    """The SQL statements run inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, *rest):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def answer_by_link(app, staff, name: str, values: dict[str, str]) -> None:
    """The therapist makes the session's links; the member opens theirs and sends ``values``."""
    html = staff.post("/families/FAM-1/sessions/4/links").text
    path = dict(re.findall(r"<h3>(\w+)</h3>.*?<a href=\"http://localhost(/r/[^\"]+)\"", html, re.S))[name]
    member = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', member.get(path).text).group(1)
    sent = member.post(path + "?lang=nl", data={"csrf_token": token, **values})
    assert sent.status_code == 200 and "Je antwoorden zijn opgeslagen" in sent.text


def test_after_a_members_answer_the_summary_and_dashboards_are_ready(refreshing, monkeypatch):
    """The journey: links, a child answers, the therapist opens caseload and dashboard in both languages. The
    refresher did the work after the answer's commit: the caseload computes no summary, the dashboard reads no
    score, and both pages are those the requests would have built."""
    staff = refreshing.test_client()
    staff.post("/login", data={"email": "ann@example.org", "password": PASSWORD})
    assert "FAM-1" in staff.get("/families/").text  # the day starts (the expected course is learned: not due again)
    answer_by_link(refreshing, staff, "Daan", {"bond": "2", "goals_tasks": "9", "safety": "10"})
    assert refreshing.config["REFRESH_AHEAD"] and refresher.of(refreshing).wait_idle(30)

    with refreshing.app_context():
        family = db.session.scalar(sa.select(Family))
        summary = db.session.get(FamilySummary, family.id)
        assert summary is not None and summary.revision == family.revision  # stored after the answer

    computed = []
    monkeypatch.setattr(summaries, "refresh", lambda *a, **k: computed.append(a) or 0)
    with statements(refreshing) as seen:
        caseload = staff.get("/families/?lang=en")
        dashboards = {lang: staff.get(f"/families/FAM-1?lang={lang}") for lang in ("nl", "en")}
    assert caseload.status_code == 200 and "FAM-1" in caseload.text
    assert computed == []  # no summary computed in the therapist's request
    assert not [s for s in seen if "form_score" in s], "the dashboards were rebuilt in the request"
    assert "Voor de volgende sessie" in dashboards["nl"].text and "For the next session" in dashboards["en"].text
    assert "Daan" in dashboards["en"].text

    # The same pages as built in the request: empty this worker's cache and ask again.
    monkeypatch.undo()
    with refreshing.app_context():
        pagecache.page_cache().local.clear()
    for lang, warm in dashboards.items():
        rebuilt = staff.get(f"/families/FAM-1?lang={lang}")
        assert rebuilt.text == warm.text


def test_a_failed_refresh_costs_time_not_correctness(refreshing, monkeypatch, caplog):
    """When the refresher's work fails, it is logged and the pages compute what changed when opened."""

    def fail(*args):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(refreshing.extensions[refresher.EXTENSION], "tasks", (fail,))
    staff = refreshing.test_client()
    staff.post("/login", data={"email": "ann@example.org", "password": PASSWORD})
    answer_by_link(refreshing, staff, "Daan", {"bond": "2", "goals_tasks": "9", "safety": "10"})
    assert refresher.of(refreshing).wait_idle(30)
    assert "the disk is full" in caplog.text
    with refreshing.app_context():
        family = db.session.scalar(sa.select(Family))
        assert db.session.get(FamilySummary, family.id) is None  # nothing stored ahead
    assert "FAM-1" in staff.get("/families/?lang=en").text
    with refreshing.app_context():
        assert db.session.get(FamilySummary, family.id).revision == family.revision  # computed by the page
    assert "Daan" in staff.get("/families/FAM-1?lang=en").text


def test_members_answering_one_after_another_make_one_refresh(app, make_app):
    """Changes to a family within REFRESH_DELAY are refreshed together; a commit changing more families than
    REFRESH_MAX_FAMILIES (an import) is left to the pages, as one outside a request (a command)."""
    app = make_app(REFRESH_AHEAD=True, REFRESH_DELAY=0.5, REFRESH_MAX_FAMILIES=2, REFRESH_MAX_LOAD=1000)
    runs: list[list[int]] = []
    app.extensions[refresher.EXTENSION].tasks = (lambda ids, root: runs.append(ids),)
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        families = [gen_family(f"FAM-{n}", [therapist]) for n in range(1, 4)]
        commit()
        ids = [f.id for f in families]
    with app.test_request_context("/"):
        for _ in range(3):
            summaries.touch(ids[:1])
            db.session.commit()
        summaries.touch(ids)  # three families: more than the limit
        db.session.commit()
        summaries.touch(ids[1:2])
        db.session.rollback()  # nothing changed
    with app.app_context():  # a command's commit: no request, nothing scheduled
        summaries.touch(ids[2:])
        db.session.commit()
    assert refresher.of(app).wait_idle(30)
    assert runs == [[ids[0]]]


def test_the_refresh_waits_while_its_process_serves_a_request(app, make_app):
    """The thread shares the interpreter with the requests: it starts a family only once none has been served for
    REFRESH_IDLE seconds (a worker that keeps answering requests is on a busy host)."""
    app = make_app(REFRESH_AHEAD=True, REFRESH_DELAY=0.0, REFRESH_MAX_LOAD=1000, REFRESH_IDLE=2.0)
    runs: list[list[int]] = []
    ahead = refresher.of(app)
    ahead.tasks = (lambda ids, root: runs.append(ids),)
    with app.test_request_context("/"):
        flask.request_started.send(app)  # a request of this process is being served
        ahead.schedule([7], "http://localhost/")
        assert not ahead.wait_idle(0.5) and runs == []
        flask.request_tearing_down.send(app)
        assert not ahead.wait_idle(0.5) and runs == []  # the request just ended
        assert ahead.wait_idle(30) and runs == [[7]]


def test_the_refresh_waits_for_a_spare_core_and_leaves_the_rest_to_the_pages(app, make_app, monkeypatch):
    """On a machine whose cores are busy (the other workers' requests) nothing is done ahead: it would take the
    cores from the requests. Once the load average is down it runs; past REFRESH_MAX_WAIT it gives up."""
    app = make_app(REFRESH_AHEAD=True, REFRESH_DELAY=0.0, REFRESH_MAX_LOAD=0.75, REFRESH_MAX_WAIT=1.5)
    runs: list[list[int]] = []
    ahead = refresher.of(app)
    ahead.tasks = (lambda ids, root: runs.append(ids),)
    cores = os.cpu_count() or 1
    load = [2.0 * cores]
    monkeypatch.setattr(refresher.os, "getloadavg", lambda: (load[0], load[0], load[0]))
    ahead.schedule([7], "http://localhost/")
    assert not ahead.wait_idle(0.6) and runs == []  # waiting for a spare core
    load[0] = 0.5 * cores
    assert ahead.wait_idle(30) and runs == [[7]]
    load[0] = 2.0 * cores
    ahead.schedule([8], "http://localhost/")
    assert ahead.wait_idle(30) and runs == [[7]]  # given up after REFRESH_MAX_WAIT: family 8 left to the pages
