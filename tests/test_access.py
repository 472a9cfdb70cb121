"""The access policy: who sees which family, enforced in one place."""

import pytest
import sqlalchemy as sa

from familyalliance.services import policy
from familyalliance.store.db import db
from familyalliance.store.models import Family, User

from .factories import commit, gen_family, gen_user


@pytest.fixture
def world(app):
    """Two teams; therapists with their own families; one lead per team; a researcher and an admin."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        bob = gen_user("therapist", "Team A", "bob@example.org")
        cas = gen_user("therapist", "Team B", "cas@example.org")
        gen_user("team_lead", "Team A", "lead-a@example.org")
        gen_user("researcher", None, "research@example.org")
        admin = gen_user("admin", None, "admin@example.org")
        gen_family("A-ANN", [ann], "Team A")
        gen_family("A-BOB", [bob], "Team A")
        gen_family("A-BOTH", [ann, bob], "Team A")
        gen_family("B-CAS", [cas], "Team B")
        gen_family("B-ADMIN", [admin], "Team B")
        commit()


EXPECTED = {
    "ann@example.org": {"A-ANN", "A-BOTH"},
    "bob@example.org": {"A-BOB", "A-BOTH"},
    "cas@example.org": {"B-CAS"},
    "lead-a@example.org": {"A-ANN", "A-BOB", "A-BOTH"},
    "research@example.org": set(),
    "admin@example.org": {"B-ADMIN"},
}
ALL = {"A-ANN", "A-BOB", "A-BOTH", "B-CAS", "B-ADMIN"}


@pytest.mark.parametrize("email", sorted(EXPECTED))
def test_visible_families_per_role(app, world, email):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        codes = set(db.session.scalars(policy.visible_families(user).with_only_columns(Family.code)))
    assert codes == EXPECTED[email]


@pytest.mark.parametrize("email", sorted(EXPECTED))
def test_pages_follow_the_policy(client, auth, world, email):
    """The caseload lists exactly the visible families; every other family answers 404 on every page.

    A researcher may not open family pages at all (403), whichever family.
    """
    auth.login(email)
    researcher = email.startswith("research")
    caseload = client.get("/families/")
    assert caseload.status_code == (403 if researcher else 200)
    for code in ALL:
        allowed = code in EXPECTED[email]
        assert (f'href="/families/{code}"' in caseload.text) == allowed
        for url in (
            f"/families/{code}",
            f"/families/{code}/edit",
            f"/families/{code}/members/new",
            f"/families/{code}/sessions/new",
        ):
            assert client.get(url).status_code == (200 if allowed else 403 if researcher else 404), url


def test_therapist_cannot_change_a_family_by_post(client, auth, world, app):
    """Not only reading: a POST to another's family is refused and changes nothing."""
    auth.login("cas@example.org")
    response = client.post("/families/A-ANN/members/new", data={"code": "X", "display_name": "X", "role": "mother"})
    assert response.status_code == 404
    with app.app_context():
        family = db.session.scalar(sa.select(Family).where(Family.code == "A-ANN"))
        assert family.members == []


@pytest.mark.parametrize(
    ("email", "status"),
    [("research@example.org", 403), ("admin@example.org", 403), ("ann@example.org", 200), ("lead-a@example.org", 200)],
)
def test_who_may_open_families(client, auth, world, email, status):
    auth.login(email)
    assert client.get("/families/new").status_code == status
