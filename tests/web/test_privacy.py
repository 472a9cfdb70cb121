"""Privacy by design: erasure leaves no trace, retention is reported, names stay inside the app.

Erasure as one transaction, and closing a family, are ``services/test_casework.py``.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from familyalliance.services import pagecache
from familyalliance.store.db import db
from familyalliance.store.models import AuditEvent, Family, Member

from ..factories import commit, gen_family, gen_user
from ..services.test_casework import make_clinic, rows_per_table


@pytest.fixture
def clinic(app):
    """The demo families of a therapist in Team A, with member links made; a lead per team."""
    with app.app_context():
        return make_clinic()


def test_erasing_a_family_removes_every_trace(app, client, auth, clinic):
    with app.app_context():
        family = db.session.scalar(sa.select(Family).where(Family.code == clinic))
        family_id = family.id
        names = [m.display_name for m in family.members]
        before = rows_per_table()
    auth.login("lead@example.org")
    assert client.get(f"/families/{clinic}").status_code == 200  # the dashboard is now in the page cache
    assert client.post(f"/families/{clinic}/erase", data={"confirm": clinic}).status_code == 302
    with app.app_context():
        after = rows_per_table()
        # No row of any table refers to the family, by id or by code, but the audit log's.
        for table in db.metadata.sorted_tables:
            if table.name == "audit_event":
                continue
            if "family_id" in table.c:
                assert db.session.scalar(sa.select(sa.func.count()).where(table.c.family_id == family_id)) == 0
            text = repr(after[table.name])
            assert clinic not in text, table.name
            assert not any(name in text for name in names), table.name
        # The rest is untouched: the other families' rows are all still there.
        for name in ("member", "therapy_session", "response", "attendance"):
            assert 0 < len(after[name]) < len(before[name])
        assert len(after["family"]) == len(before["family"]) - 1
        # One audit entry says what happened, with counts and no content.
        erased = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "family.erased"))
        assert (erased.user_email, erased.family_code, erased.family_id) == ("lead@example.org", clinic, family_id)
        assert erased.detail["members"] == len(names) and erased.detail["answers"] > 0 and erased.detail["requests"] > 0
        assert not any(name in repr(after["audit_event"]) for name in names)
        # Nothing of it is left in this process's page cache either.
        assert not pagecache.page_cache().items
    assert client.get(f"/families/{clinic}").status_code == 404


def test_erasure_needs_the_case_code_typed(app, client, auth, clinic):
    auth.login("lead@example.org")
    page = client.post(f"/families/{clinic}/erase?lang=en", data={"confirm": "DEMO01-0"})
    assert page.status_code == 422
    assert "This is not the family" in page.text and "case code." in page.text
    with app.app_context():
        assert db.session.scalar(sa.select(Family.id).where(Family.code == clinic)) is not None


def test_only_the_families_team_lead_may_erase(app, client, auth, clinic):
    auth.login("lead-b@example.org")
    assert client.post(f"/families/{clinic}/erase", data={"confirm": clinic}).status_code == 404
    client.post("/logout")
    auth.login("ann@example.org")
    assert client.post(f"/families/{clinic}/erase", data={"confirm": clinic}).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(Family.id).where(Family.code == clinic)) is not None


def test_retention_report(app, client, auth, make_app):
    today = dt.date.today()
    with app.app_context():
        lead = gen_user("team_lead", "Team A", "lead@example.org")
        gen_user("team_lead", "Team B", "lead-b@example.org")
        old = gen_family("OLD-CLOSED", [lead], "Team A", start_date=dt.date(2000, 1, 3), status="closed")
        old.closed_on = today.replace(year=today.year - 21)
        gen_family("OLD-ACTIVE", [lead], "Team A", start_date=dt.date(2000, 1, 3))
        recent = gen_family("RECENT-CLOSED", [lead], "Team A", start_date=dt.date(2000, 1, 3), status="closed")
        recent.closed_on = today.replace(year=today.year - 2)
        gen_family("B-OLD", [], "Team B", start_date=dt.date(1999, 1, 4), status="closed").closed_on = dt.date(
            2001, 5, 1
        )
        commit()
    auth.login("lead@example.org")
    page = client.get("/retention?lang=en").text
    assert "OLD-CLOSED" in page
    assert "OLD-ACTIVE" not in page and "RECENT-CLOSED" not in page and "B-OLD" not in page
    assert 'href="/families/OLD-CLOSED/erase"' in page
    # A shorter retention period reports the recently closed family too.
    short = make_app(RETENTION_YEARS=1).test_client()
    short.post("/login", data={"email": "lead@example.org", "password": "correct horse battery"})
    assert "RECENT-CLOSED" in short.get("/retention").text
    # An admin sees every team's, without the erase links (erasing is the team lead's).
    client.post("/logout")
    with app.app_context():
        gen_user("admin", None, "admin@example.org")
        commit()
    auth.login("admin@example.org")
    page = client.get("/retention").text
    assert "OLD-CLOSED" in page and "B-OLD" in page and "/erase" not in page


def test_display_names_never_appear_in_urls(app, client, auth, clinic):
    """Every link and form address on every page a therapist reaches uses codes and numbers, not names."""
    with app.app_context():
        names = set(db.session.scalars(sa.select(Member.display_name)))
    auth.login("ann@example.org")
    seen, queue = set(), ["/families/"]
    while queue:
        url = queue.pop()
        if url in seen or len(seen) > 150:
            continue
        seen.add(url)
        response = client.get(url)
        if response.mimetype != "text/html":
            continue
        for address in re.findall(r'(?:href|action|src)="([^"]+)"', response.text):
            assert not any(name in address for name in names), (url, address)
            if address.startswith("/families/") and "lang=" not in address:
                queue.append(address.split("#")[0])
    assert len(seen) > 20
