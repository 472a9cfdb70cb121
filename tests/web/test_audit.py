"""The audit log: every access to a family, every export and account change, append-only, no clinical content."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import demo
from familyalliance.store.db import db
from familyalliance.store.models import AuditEvent, Family, Member

from ..factories import commit, gen_user


@pytest.fixture
def clinic(app):
    """A therapist with the demo families, a colleague without them, a team lead, a researcher and an admin."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        gen_user("therapist", "Team A", "bob@example.org")
        gen_user("team_lead", "Team A", "lead@example.org")
        gen_user("researcher", None, "research@example.org")
        gen_user("admin", None, "admin@example.org")
        demo.load_demo(ann, builtin_instruments())
        commit()
        return db.session.scalar(sa.select(Family.code).order_by(Family.code))


def entries(app, **where) -> list[AuditEvent]:
    with app.app_context():
        query = sa.select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
        return list(db.session.scalars(query))


def test_viewing_a_family_is_logged_with_who_when_where(app, client, auth, clinic):
    auth.login("ann@example.org")
    assert client.get(f"/families/{clinic}").status_code == 200
    [event] = entries(app, action="family.view")
    assert (event.user_email, event.user_role, event.family_code, event.endpoint, event.status, event.ip) == (
        "ann@example.org",
        "therapist",
        clinic,
        "families.show",
        200,
        "127.0.0.1",
    )
    assert event.at is not None
    with app.app_context():
        assert event.family_id == db.session.scalar(sa.select(Family.id).where(Family.code == clinic))


def test_refused_attempts_are_logged_too(app, client, auth, clinic):
    """A colleague who tries a family that is not theirs gets 404, and the attempt is on record."""
    auth.login("bob@example.org")
    assert client.get(f"/families/{clinic}/sessions/1").status_code == 404
    [event] = entries(app, action="family.view")
    assert (event.user_email, event.family_code, event.status) == ("bob@example.org", clinic, 404)


def test_changes_logins_and_exports_are_logged(app, client, auth, clinic):
    assert auth.login("ann@example.org", "wrong password").status_code == 401
    auth.login("ann@example.org")
    client.post(f"/families/{clinic}/members/new", data={"code": "X9", "display_name": "Secret Name", "role": "other"})
    client.post("/logout")
    auth.login("lead@example.org")
    response = client.post("/exports/", data={"kind": "scores", "fmt": "csv", "dates": "drop", "language": "en"})
    assert response.status_code == 200
    actions = [(e.action, e.user_email) for e in entries(app)]
    assert actions == [
        ("login.failed", "ann@example.org"),
        ("login", "ann@example.org"),
        ("family.change", "ann@example.org"),
        ("logout", "ann@example.org"),
        ("login", "lead@example.org"),
        ("export", "lead@example.org"),
    ]
    [export] = entries(app, action="export")
    assert export.detail == {"kind": "scores", "format": "csv", "families": 5, "pseudonymised": False}
    [change] = entries(app, action="family.change")
    assert (change.family_code, change.endpoint, change.status) == (clinic, "families.new_member", 302)


def test_the_log_holds_no_clinical_content(app, client, auth, clinic):
    """After views, changes, corrections, answers and exports, no entry names a member or holds an answer."""
    auth.login("ann@example.org")
    with app.app_context():
        names = set(db.session.scalars(sa.select(Member.display_name)))
    for code in (clinic, "DEMO01-02"):
        client.get(f"/families/{code}")
        client.get(f"/families/{code}/sessions/1")
        client.get(f"/families/{code}/sessions/1/report")
    client.post(
        f"/families/{clinic}/members/new", data={"code": "X9", "display_name": "Zeldzame Naam", "role": "other"}
    )
    names.add("Zeldzame Naam")
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEvent.__table__)).all()
    assert len(rows) >= 7
    text = " ".join(str(value) for row in rows for value in row)
    assert not any(name in text for name in names)


def test_the_log_is_append_only_in_the_database(app, clinic, client, auth):
    """The database itself refuses to change or delete an entry, whoever asks."""
    auth.login("ann@example.org")
    with app.app_context():
        event_id = db.session.scalar(sa.select(AuditEvent.id))
        for statement in (
            sa.update(AuditEvent).where(AuditEvent.id == event_id).values(user_email="someone@else.org"),
            sa.delete(AuditEvent).where(AuditEvent.id == event_id),
            sa.delete(AuditEvent),
        ):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                db.session.execute(statement)
            db.session.rollback()
        assert db.session.scalar(sa.select(AuditEvent.user_email).where(AuditEvent.id == event_id)) == "ann@example.org"


def test_erasing_a_family_keeps_its_audit_trail(app, client, auth, clinic):
    auth.login("ann@example.org")
    client.get(f"/families/{clinic}")
    client.post("/logout")
    auth.login("lead@example.org")
    assert client.post(f"/families/{clinic}/erase", data={"confirm": clinic}).status_code == 302
    actions = [e.action for e in entries(app, family_code=clinic)]
    assert actions == ["family.view", "family.erased"]


def test_admin_reads_filters_and_exports_the_log(app, client, auth, clinic):
    auth.login("ann@example.org")
    client.get(f"/families/{clinic}")
    client.get("/families/DEMO01-02")
    client.post("/logout")
    auth.login("admin@example.org")
    page = client.get("/admin/audit?lang=en")
    assert page.status_code == 200
    assert clinic in page.text and "DEMO01-02" in page.text and "family.view" in page.text
    filtered = client.get(f"/admin/audit?family={clinic}&lang=en")
    assert clinic in filtered.text and "DEMO01-02" not in filtered.text
    download = client.get(f"/admin/audit.csv?family={clinic}")
    assert download.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(download.text)))
    assert [(row["action"], row["user_email"], row["family_code"]) for row in table] == [
        ("family.view", "ann@example.org", clinic)
    ]
    # Reading and exporting the log is on record too.
    assert [e.action for e in entries(app, user_email="admin@example.org")][-3:] == [
        "audit.viewed",
        "audit.viewed",
        "audit.exported",
    ]
    assert client.get("/admin/audit?since=not-a-date").status_code == 400


def test_csv_cells_are_never_formulas(app, client, auth, clinic):
    """A hostile value (a case code or email typed by someone) cannot run as a spreadsheet formula."""
    from familyalliance.web import audit

    with app.app_context():
        event = AuditEvent(action="login.failed", user_email='=HYPERLINK("x")', detail={})
        text = "".join(audit.csv_lines([event]))
    assert "'=HYPERLINK" in text
