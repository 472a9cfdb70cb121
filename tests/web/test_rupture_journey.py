"""One rupture, one status, everywhere: a family whose series mixes the quick check and the full questionnaire.

The family (``tests/mixed_course.py``) answers four sessions by every path; Sandra's and Noor's
drops at session 4 are ruptures only on the member's series across instruments. The test reads every
place that shows a rupture (the ``ruptures`` export, the family page's table and chart marks, the
prompts, the caseload, the session report) and checks they name the same ruptures with the same
status; the therapist follows one up, and the caseload says so.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from familyalliance.store.db import db
from familyalliance.store.models import Family

from ..factories import PASSWORD, commit, gen_session
from ..mixed_course import EXPECTED, build_course, links


@pytest.fixture
def course(app, client, auth):
    build_course(app, client, auth)


def exported_ruptures(client, auth) -> list[dict[str, str]]:
    """The ruptures export (identifiable, CSV) as the team lead downloads it."""
    auth.logout()
    auth.login("lead@example.org")
    answer = client.post("/exports/", data={"kind": "ruptures", "fmt": "csv", "language": "en", "dates": "shift"})
    assert answer.status_code == 200 and answer.mimetype == "application/zip", answer.text
    with zipfile.ZipFile(io.BytesIO(answer.data)) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv") and "codebook" not in n)
        rows = list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))
    auth.logout()
    auth.login("ann@example.org")
    return rows


def test_one_rupture_one_status_everywhere(app, client, auth, course):
    rows = exported_ruptures(client, auth)
    own = [r for r in rows if r["informant"] == "self" and r["target"] == "therapist"]
    # All open, each from the full questionnaire at session 3 to the quick check at session 4.
    expected = EXPECTED
    assert {(r["member"], r["session"], r["dimension"]) for r in own} == expected
    # Cell for cell: full precision, the repaired session empty while open (metrics.md sections 7 and 9).
    drops = {(r["member"], r["dimension"]): r["drop_pomp"] for r in own}
    assert drops == {
        ("M1", "bond"): "60.0",
        ("M1", "safety"): "70.0",
        ("M1", "total"): "37.5",
        ("Y1", "safety"): "55.0",
    }
    assert all(r["family"] == "MIX-1" for r in rows) and len(rows) == len(own)  # no other family, no other view
    for r in own:
        assert (r["instrument"], r["previous_instrument"], r["status"], r["repaired_session"]) == (
            "check4",
            "alliance16",
            "open",
            "",
        ), r
    assert list(rows[0]) == [
        "family",
        "member",
        "session",
        "informant",
        "target",
        "dimension",
        "instrument",
        "previous_instrument",
        "drop_pomp",
        "repaired_session",
        "status",
    ]

    # The family page: the rupture table and the chart's marks name the same ruptures, all open.
    page = client.get("/families/MIX-1?lang=en").text
    table = re.findall(r'<tr class="rupture-(\w+)" data-rupture="(\w+)/(\d+)/(\w+)">', page)
    assert {(m, s, d) for _, m, s, d in table} == expected
    assert {status for status, *_ in table} == {"open"}
    spec = json.loads(re.search(r'data-chart="chart-lines">(.*?)</script>', page, re.S).group(1))
    data = next(iter(spec["datasets"].values())) if "datasets" in spec else spec["data"]["values"]
    marks = {(row["member"], str(row["session"]), row["dimension"]) for row in data if row.get("layer") == "mark"}
    assert marks == expected
    # The prompts name each member's largest drop, at session 4.
    assert "In session 4, Sandra&#39;s sense of safety fell 70 points (from 100 to 30 out of 100)" in page
    assert "In session 4, Noor&#39;s sense of safety fell 55 points (from 75 to 20 out of 100)" in page
    # Both members' safety is at or below 30, and Noor is young: the safety signal with the safeguarding text.
    safety = page.split('<section class="safety-signal"')[1].split("</section>")[0]
    assert "Sandra rates their sense of safety in the sessions 30 out of 100 (session 4)." in safety
    assert "Noor&#39;s sense of safety fell 55 points in session 4 and has not come back yet." in safety
    assert "meldcode huiselijk geweld en kindermishandeling" in safety

    # The caseload: one reason per member and session, the largest drop, open; the two members' ruptures on one line.
    caseload = client.get("/families/?lang=en").text
    assert (
        "<li>Recent rupture, not repaired yet: Sandra (sense of safety, 70 points in session 4), "
        "Noor (sense of safety, 55 points in session 4).</li>" in caseload
    )

    # The session report of session 4: the same table, the same statuses.
    report = client.get("/families/MIX-1/sessions/4/report?lang=en").text
    in_report = re.findall(r'<tr class="rupture-(\w+)" data-rupture="(\w+)/(\d+)/(\w+)">', report)
    assert sorted(in_report) == sorted(table)
    assert "meldcode" in report

    # The therapist discusses Noor's safety with her and notes it: the caseload says so, the status stays open.
    form = client.get("/families/MIX-1/ruptures/Y1/4/self/therapist/safety/follow-up?lang=en")
    assert form.status_code == 200
    assert "Sense of safety" in form.text or "Safety" in form.text
    saved = client.post(
        "/families/MIX-1/ruptures/Y1/4/self/therapist/safety/follow-up?lang=en",
        data={"discussed_on": "2026-11-30", "note": "Talked with Noor alone; she feels unheard."},
        follow_redirects=True,
    )
    assert saved.status_code == 200
    row = saved.text.split('data-rupture="Y1/4/safety">')[1].split("</tr>")[0]
    assert "open" in row and "Discussed on" in row and "she feels unheard" in row
    caseload = client.get("/families/?lang=en").text
    assert (
        "<li>Recent rupture, not repaired yet: Sandra (sense of safety, 70 points in session 4), "
        "Noor (sense of safety, 55 points in session 4, discussed on November 30, 2026).</li>" in caseload
    )
    dutch = client.get("/families/?lang=nl").text
    assert "besproken op 30 november 2026" in dutch
    # The printed report (A4 PDF) carries the safety signal and the rupture table with its follow-up.
    printed = client.get("/families/MIX-1/sessions/4/report.pdf?lang=en")
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(printed.data)).pages).split())
    assert "meldcode huiselijk geweld en kindermishandeling" in text
    assert "Ruptures and repairs" in text and "she feels unheard" in text and "Discussed on" in text
    assert "Recent rupture, not repaired yet: Sandra (sense of safety" in caseload
    # The note is clinical content: never in an export.
    for kind in ("long", "scores", "family", "ruptures"):
        auth.logout()
        auth.login("lead@example.org")
        answer = client.post("/exports/", data={"kind": kind, "fmt": "csv", "language": "en", "dates": "shift"})
        assert answer.mimetype == "application/zip"
        with zipfile.ZipFile(io.BytesIO(answer.data)) as archive:
            assert not any(b"unheard" in archive.read(n) for n in archive.namelist())


def test_a_family_member_never_sees_the_safety_signal(app, client, auth, course):
    """With the signal raised, the members' pages of the next session (link, round) carry no safety text."""
    with app.app_context():
        gen_session(db.session.scalar(sa.select(Family).where(Family.code == "MIX-1")), 5)
        commit()
    assert "meldcode" in client.get("/families/MIX-1/sessions/5?lang=nl").text  # the therapist's page has it
    sandra = links(client, 5)["Sandra"]
    member_page = app.test_client().get(f"{sandra}?lang=nl").text
    assert "Mijn antwoorden versturen" in member_page
    assert "meldcode" not in member_page and "safety-signal" not in member_page
    round_page = client.post("/round/start/MIX-1/5", follow_redirects=True).text
    assert "Daan" in round_page and "meldcode" not in round_page and "safety-signal" not in round_page


def test_the_installations_own_safeguarding_text(app, client, auth, course, make_app):
    """SAFEGUARDING_TEXT_NL/_EN replace the default, each in its own language; unset, the default stays."""
    own = make_app(SAFEGUARDING_TEXT_NL="Bel de aandachtsfunctionaris van De Brug: 010 123 45 67.")
    other = own.test_client()
    assert other.post("/login", data={"email": "ann@example.org", "password": PASSWORD}).status_code == 302
    for path in ("/families/MIX-1", "/families/MIX-1/sessions/4", "/families/MIX-1/sessions/4/report"):
        dutch = other.get(f"{path}?lang=nl").text
        assert "Bel de aandachtsfunctionaris van De Brug: 010 123 45 67." in dutch, path
        assert "meldcode" not in dutch
        english = other.get(f"{path}?lang=en").text
        assert "De Brug" not in english and "reporting protocol" in english, path
