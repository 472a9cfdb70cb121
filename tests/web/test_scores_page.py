"""The scores reach the therapist: the family page shows each member's POMP per dimension and session."""

import pytest

from familyalliance.services import responses
from familyalliance.store.db import db
from familyalliance.store.models import Family
from familyalliance.store.registry import installed_instruments

from ..factories import commit
from ..store.test_scores_db import answers, make_family


@pytest.fixture
def family(app):
    with app.app_context():
        return make_family()


def test_family_page_shows_each_members_total(app, client, auth, family):
    """The scores reach the therapist: the family page lists each member's total POMP per session."""
    with app.app_context():
        rows = answers(family, "M1", "check4", ["8", "6", "10", "0"])  # total 6.0 on 0..10: 60
        rows += answers(family, "Y1", "check4", ["8", "", "10", "7"])  # no total
        responses.store_answers(rows, installed_instruments())
        therapist = db.session.get(Family, family).therapists[0].email
        commit()
    auth.login(therapist)
    html = client.get("/families/F-SCORE?lang=en").text
    totals = html.split("<caption>Total</caption>")[1].split("</table>")[0]
    row_m1 = totals.split("Name M1</th>")[1].split("</tr>")[0]
    assert '<td class="num">60</td>' in row_m1
    assert "Name Y1" not in totals  # no total: one dimension unanswered
    bond = html.split("<caption>Bond</caption>")[1].split("</table>")[0]
    assert '<td class="num">80</td>' in bond.split("Name Y1</th>")[1].split("</tr>")[0]
