"""A member's e-mail address and language on the member form: stored when right, refused whole when not.

Erasing the family takes the address with it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from familyalliance.store.db import db
from familyalliance.store.models import Family, Member

from ..factories import commit, gen_family, gen_member, gen_user

FORM = {"code": "C1", "display_name": "Daan", "role": "child", "birth_year": "2016"}


@pytest.fixture
def therapist(app, auth):
    """Ann, therapist of FAM-1 (a mother with an address already), logged in; Lea leads the team."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        gen_user("team_lead", "Team A", "lea@example.org")
        family = gen_family("FAM-1", [ann])
        gen_member(family, "M1", "mother", "Sandra", email="sandra@example.org", language="nl")
        commit()
    auth.login("ann@example.org")


def member(code: str) -> Member | None:
    return db.session.scalar(sa.select(Member).where(Member.code == code))


def snapshot() -> list[tuple]:
    """Every member row and every family's revision, as the database has them."""
    members = db.session.execute(sa.select(Member.__table__)).all()
    revisions = db.session.execute(sa.select(Family.code, Family.revision)).all()
    return [tuple(row) for row in members] + [tuple(row) for row in revisions]


def test_the_form_offers_address_and_language(client, therapist):
    page = client.get("/families/FAM-1/members/new?lang=en").text
    assert 'type="email"' in page and 'name="email"' in page
    assert "For a child: the address of a parent or caregiver." in page
    assert '<option selected value="">' in page and "Nederlands" in page and "English" in page


def test_a_valid_address_and_language_are_stored(client, app, therapist):
    data = FORM | {"email": "  Ouders.Jansen@Example.ORG ", "language": "en"}
    response = client.post("/families/FAM-1/members/new", data=data)
    assert response.status_code == 302
    with app.app_context():
        added = member("C1")
        assert (added.email, added.language) == ("Ouders.Jansen@example.org", "en")


def test_both_may_stay_empty(client, app, therapist):
    response = client.post("/families/FAM-1/members/new", data=FORM | {"email": "", "language": ""})
    assert response.status_code == 302
    with app.app_context():
        assert (member("C1").email, member("C1").language) == (None, None)


def test_an_edit_shows_and_clears_them(client, app, therapist):
    page = client.get("/families/FAM-1/members/M1/edit").text
    assert 'value="sandra@example.org"' in page
    assert '<option selected value="nl">' in page
    data = {"code": "M1", "display_name": "Sandra", "role": "mother", "email": "", "language": ""}
    assert client.post("/families/FAM-1/members/M1/edit", data=data).status_code == 302
    with app.app_context():
        assert (member("M1").email, member("M1").language) == (None, None)


BAD_ADDRESSES = [
    "not-an-address",
    "sandra@",
    "@example.org",
    "two@@example.org",
    "sandra@example..org",
    "sandra jansen@example.org",
]


@pytest.mark.parametrize("typed", BAD_ADDRESSES)
def test_a_new_member_with_a_bad_address_is_refused_and_nothing_stored(client, app, therapist, typed):
    with app.app_context():
        before = snapshot()
    response = client.post("/families/FAM-1/members/new?lang=en", data=FORM | {"email": typed, "language": "en"})
    assert response.status_code == 200
    assert "This is not an e-mail address. Enter one like name@example.org, or leave the field empty." in response.text
    assert 'id="email-error"' in response.text and 'aria-invalid="true"' in response.text
    assert f'value="{typed}"' in response.text  # what was typed stays, to correct
    assert 'value="Daan"' in response.text
    with app.app_context():
        assert snapshot() == before
        assert member("C1") is None


@pytest.mark.parametrize("typed", BAD_ADDRESSES[:2])
def test_an_edit_with_a_bad_address_changes_nothing(client, app, therapist, typed):
    """The other changes sent with it are not stored either: all or nothing."""
    with app.app_context():
        before = snapshot()
    data = {"code": "M1", "display_name": "Sandra B.", "role": "mother", "email": typed, "language": "en"}
    response = client.post("/families/FAM-1/members/M1/edit?lang=nl", data=data)
    assert response.status_code == 200
    assert "Dit is geen e-mailadres. Vul er een in zoals naam@voorbeeld.nl, of laat het veld leeg." in response.text
    assert f'value="{typed}"' in response.text and 'value="Sandra B."' in response.text
    with app.app_context():
        assert snapshot() == before
        assert (member("M1").email, member("M1").display_name) == ("sandra@example.org", "Sandra")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("sandra@example.org\r\nBcc: all@example.org", "Remove the control characters"),
        ("a" * 250 + "@example.org", "Field cannot be longer than 254 characters."),
    ],
)
def test_other_refusals_change_nothing(client, app, therapist, typed, message):
    with app.app_context():
        before = snapshot()
    response = client.post("/families/FAM-1/members/new?lang=en", data=FORM | {"email": typed})
    assert response.status_code == 200 and message in response.text
    with app.app_context():
        assert snapshot() == before


def test_an_unknown_language_is_refused(client, app, therapist):
    with app.app_context():
        before = snapshot()
    response = client.post("/families/FAM-1/members/new?lang=en", data=FORM | {"language": "de"})
    assert response.status_code == 200 and "Not a valid choice." in response.text
    with app.app_context():
        assert snapshot() == before


def test_erasing_the_family_leaves_no_address_anywhere(client, app, auth, therapist):
    address = "ouders.jansen@example.org"
    assert client.post("/families/FAM-1/members/new", data=FORM | {"email": address}).status_code == 302
    with app.app_context():
        other = gen_family("FAM-2", [])
        gen_member(other, "M1", "father", "Kees", email="kees@example.org")
        commit()
    auth.logout()
    auth.login("lea@example.org")
    assert client.post("/families/FAM-1/erase", data={"confirm": "FAM-1"}).status_code == 302
    with app.app_context():
        for table in db.metadata.sorted_tables:
            text = repr(db.session.execute(table.select()).all())
            for gone in (address, "sandra@example.org"):
                assert gone not in text, table.name
        # The other family's member keeps theirs.
        assert member("M1").email == "kees@example.org"
