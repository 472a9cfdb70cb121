"""The access policy, enforced in one place: the pages show a role exactly the families it may see.

Which families that is (``EXPECTED``) is ``services/test_policy.py``; the people and families are the
scenario's ``caseload`` (``scenarios.py``).
"""

import pytest
import sqlalchemy as sa

from familyalliance.store.db import db
from familyalliance.store.models import Family

from ..services.test_policy import ALL, EXPECTED

pytestmark = pytest.mark.scenario("caseload")


@pytest.mark.parametrize("email", sorted(EXPECTED))
def test_pages_follow_the_policy(client, auth, scenario, email):
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


def test_therapist_cannot_change_a_family_by_post(client, auth, scenario, app):
    """Not only reading: a POST to another's family is refused and changes nothing."""
    auth.login("cas@example.org")
    response = client.post("/families/A-ANN/members/new", data={"code": "X", "display_name": "X", "role": "mother"})
    assert response.status_code == 404
    with app.app_context():
        family = db.session.scalar(sa.select(Family).where(Family.code == "A-ANN"))
        assert family.members == []


@pytest.mark.parametrize(
    ("email", "status"),
    [("research@example.org", 403), ("admin@example.org", 403), ("ann@example.org", 200), ("lead@example.org", 200)],
)
def test_who_may_open_families(client, auth, scenario, email, status):
    auth.login(email)
    assert client.get("/families/new").status_code == status
