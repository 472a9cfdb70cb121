"""The caseload, the family page and the forms for families, members and sessions."""

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from familyalliance.services import responses
from familyalliance.store.db import db
from familyalliance.store.models import Attendance, Family, Member, TherapySession

from ..factories import commit, gen_family, gen_member, gen_session, gen_user


@pytest.fixture
def therapist(app, auth):
    with app.app_context():
        user = gen_user("therapist", "Team A", "ann@example.org")
        colleague = gen_user("therapist", "Team A", "bob@example.org")
        gen_user("therapist", "Team B", "other@example.org")
        family = gen_family("FAM-1", [user])
        gen_member(family, "M1", "mother", "Sandra")
        gen_member(family, "Y1", "youth", "Noor", birth_year=2010)
        gen_session(family, 1)
        commit()
        ids = {"user": user.id, "colleague": colleague.id}
    auth.login("ann@example.org")
    return ids


def family(code):
    return db.session.scalar(sa.select(Family).where(Family.code == code))


def test_caseload_links_each_family(client, therapist):
    html = client.get("/families/?lang=en").text
    assert '<a href="/families/FAM-1">FAM-1</a>' in html
    assert "1 family you may see" in html


def test_family_page_lists_members_and_sessions(client, therapist):
    html = client.get("/families/FAM-1?lang=en").text
    assert "Sandra" in html and "Noor" in html
    assert "Youth (adolescent)" in html
    assert "Sandra, Noor" in html or "Noor, Sandra" in html  # both present at session 1


def test_create_family(client, app, therapist):
    """Opening a family assigns the chosen therapists and the creator's team."""
    response = client.post(
        "/families/new",
        data={
            "code": "2026-014",
            "status": "active",
            "start_date": "2026-03-02",
            "therapists": [therapist["user"], therapist["colleague"]],
        },
    )
    assert response.status_code == 302
    assert response.location == "/families/2026-014"
    with app.app_context():
        f = family("2026-014")
        assert f.team.name == "Team A"
        assert {u.email for u in f.therapists} == {"ann@example.org", "bob@example.org"}
        assert f.start_date == dt.date(2026, 3, 2)


def test_new_family_offers_only_own_team(client, therapist):
    html = client.get("/families/new").text
    assert "bob@example.org" in html
    assert "other@example.org" not in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "has space", "start_date": "2026-03-02"}, "Use only letters, digits"),
        ({"code": "x" * 65, "start_date": "2026-03-02"}, "Field cannot be longer than 64 characters."),
        ({"code": "FAM-1", "start_date": "2026-03-02"}, "This case code is already in use."),
        ({"code": "FAM-2", "start_date": "2026-02-30"}, "Not a valid date value."),
        ({"code": "FAM-2", "start_date": ""}, "Enter a date."),
        ({"code": "FAM-2", "start_date": "2026-03-02", "therapists": []}, "Choose at least one therapist."),
    ],
)
def test_family_form_errors_keep_input(client, app, therapist, data, message):
    """An invalid form is shown again with a message and with what was typed."""
    form = {"status": "paused", "therapists": [therapist["user"]]} | data
    response = client.post("/families/new?lang=en", data=form)
    assert response.status_code == 200
    assert message in response.text
    assert f'value="{data["code"]}"' in response.text
    assert '<option selected value="paused">' in response.text
    assert 'id="error-summary"' in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Family)) == 1


def test_edit_family(client, app, therapist):
    response = client.post(
        "/families/FAM-1/edit",
        data={"code": "FAM-1B", "status": "closed", "start_date": "2026-01-05", "therapists": [therapist["user"]]},
    )
    assert response.location == "/families/FAM-1B"
    with app.app_context():
        assert family("FAM-1B").status == "closed"


def test_add_member(client, app, therapist):
    response = client.post(
        "/families/FAM-1/members/new",
        data={"code": "C1", "display_name": "Daan", "role": "child", "birth_year": "2016", "active_from": "2026-01-05"},
    )
    assert response.status_code == 302
    with app.app_context():
        m = db.session.scalar(sa.select(Member).where(Member.code == "C1"))
        assert (m.display_name, m.role, m.birth_year, m.active_from) == ("Daan", "child", 2016, dt.date(2026, 1, 5))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "M1"}, "This family already has a member with this code."),
        ({"birth_year": "1850"}, "Number must be at least 1900."),
        ({"birth_year": str(dt.date.today().year + 1)}, "The birth year cannot be in the future."),
        ({"birth_year": "twenty"}, "Not a valid integer value."),
        ({"active_from": "2026-05-01", "active_to": "2026-04-01"}, "The end date must not be before the start date."),
        ({"role": "uncle"}, "Not a valid choice."),
        ({"display_name": ""}, "This field is required."),
    ],
)
def test_member_form_errors_keep_input(client, app, therapist, data, message):
    form = {"code": "F1", "display_name": "Mehmet", "role": "father"} | data
    response = client.post("/families/FAM-1/members/new?lang=en", data=form)
    assert response.status_code == 200
    assert message in response.text
    if form["display_name"]:
        assert 'value="Mehmet"' in response.text
    with app.app_context():
        assert len(family("FAM-1").members) == 2


def test_member_form_errors_in_dutch(client, therapist):
    """Built-in validator messages are translated too."""
    response = client.post(
        "/families/FAM-1/members/new?lang=nl", data={"code": "F1", "display_name": "", "role": "father"}
    )
    assert "Dit veld is vereist." in response.text
    assert "Verbeter het volgende:" in response.text


def test_member_role_locked_once_rated(client, app, therapist):
    """A member keeps one role once ratings refer to it."""
    with app.app_context():
        f = family("FAM-1")
        m1 = f.members[0]
        responses.store_responses(
            [
                {
                    "family_id": f.id,
                    "member_id": m1.id,
                    "session_id": f.sessions[0].id,
                    "informant": "self",
                    "target": "therapist",
                    "instrument": "check4",
                    "item": "bond",
                    "value": 7,
                }
            ]
        )
        commit()
    data = {"code": "M1", "display_name": "Sandra", "role": "father"}
    response = client.post("/families/FAM-1/members/M1/edit?lang=en", data=data)
    assert "This member already has ratings, so the role cannot change." in response.text
    data["role"] = "mother"
    data["display_name"] = "Sandra B."
    assert client.post("/families/FAM-1/members/M1/edit", data=data).status_code == 302


def test_new_session_defaults(client, therapist):
    html = client.get("/families/FAM-1/sessions/new").text
    assert re.search(r'<input[^>]* name="number"[^>]* value="2">', html)
    assert re.search(rf'<input[^>]* name="date"[^>]* value="{dt.date.today().isoformat()}">', html)


def test_record_session_with_attendance(client, app, therapist):
    with app.app_context():
        noor = db.session.scalar(sa.select(Member).where(Member.code == "Y1")).id
    response = client.post(
        "/families/FAM-1/sessions/new", data={"number": "2", "date": "2026-01-19", "attendance": [noor]}
    )
    assert response.status_code == 302
    with app.app_context():
        s = db.session.scalar(sa.select(TherapySession).where(TherapySession.number == 2))
        present = {a.member.code: a.present for a in s.attendance}
    assert present == {"M1": False, "Y1": True}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"number": "1"}, "This family already has a session with this number."),
        ({"number": "0"}, "Number must be between 1 and 10000."),
        ({"number": "2.5"}, "Not a valid integer value."),
        ({"number": ""}, "Enter a whole number."),
        ({"date": "19-01-2026"}, "Not a valid date value."),
        ({"date": ""}, "Enter a date."),
    ],
)
def test_session_form_errors_keep_input(client, app, therapist, data, message):
    form = {"number": "2", "date": "2026-01-19"} | data
    response = client.post("/families/FAM-1/sessions/new?lang=en", data=form)
    assert response.status_code == 200
    assert message in response.text
    assert f'value="{form["date"]}"' in response.text
    with app.app_context():
        assert len(family("FAM-1").sessions) == 1


def test_edit_session_attendance(client, app, therapist):
    response = client.post("/families/FAM-1/sessions/1/edit", data={"number": "1", "date": "2026-01-12"})
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.scalars(sa.select(Attendance)).all()
        assert [a.present for a in rows] == [False, False]


def test_unknown_member_and_session_are_404(client, therapist):
    assert client.get("/families/FAM-1/members/NOPE/edit").status_code == 404
    assert client.get("/families/FAM-1/sessions/9/edit").status_code == 404


def test_session_about_the_team(client, app, therapist):
    """A session's ratings can be about the treatment team; member links then ask about the team."""
    response = client.post("/families/FAM-1/sessions/new", data={"number": "2", "date": "2026-01-19", "target": "team"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(TherapySession.target).where(TherapySession.number == 2)) == "team"
