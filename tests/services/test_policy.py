"""The access policy's data side: which families each role sees (``services.policy``).

The pages that follow it are ``web/test_access.py``; the people and families are the scenario's
``caseload`` (``scenarios.py``).
"""

import pytest
import sqlalchemy as sa

from familyalliance.services import policy
from familyalliance.store.db import db
from familyalliance.store.models import Family, User

pytestmark = pytest.mark.scenario("caseload")

EXPECTED = {
    "ann@example.org": {"A-ANN", "A-BOTH"},
    "bob@example.org": {"A-BOB", "A-BOTH"},
    "cas@example.org": {"B-CAS"},
    "lead@example.org": {"A-ANN", "A-BOB", "A-BOTH"},
    "research@example.org": set(),
    "admin@example.org": {"B-ADMIN"},
}
ALL = {"A-ANN", "A-BOB", "A-BOTH", "B-CAS", "B-ADMIN"}


@pytest.mark.parametrize("email", sorted(EXPECTED))
def test_visible_families_per_role(app, scenario, email):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        codes = set(db.session.scalars(policy.visible_families(user).with_only_columns(Family.code)))
    assert codes == EXPECTED[email]
