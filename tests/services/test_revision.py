"""Every change to a family's answers raises its revision, so no page or summary shows the old answers.

A grid correction changes stored answers without adding any: it must raise the revision too,
or the cached dashboard and the stored caseload summary would keep showing the corrected value.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import responses
from familyalliance.store import summaries
from familyalliance.store.db import db
from familyalliance.store.models import Family, ResponseChange

from ..factories import PASSWORD, commit, gen_family, gen_member, gen_session, gen_user

ITEMS = ("bond", "goals_tasks", "safety", "shared_purpose")


def revision(code: str) -> int:
    return db.session.scalar(sa.select(Family.revision).where(Family.code == code))


def grid_form(members, values: dict, shown: dict) -> dict:
    """The observer grid as the browser sends it: each cell typed, and what the grid showed."""
    form = {}
    for member in members:
        for item in ITEMS:
            form[f"v-{member}-{item}"] = values.get((member, item), "")
            form[f"o-{member}-{item}"] = shown.get((member, item), "")
    return form


def mothers_views(page: str) -> str:
    """The mother's row of the table of the latest session's views ("member / therapist" per dimension)."""
    rows = re.findall(r'<tr><th scope="row">Name M1</th>(.*?)</tr>', page)
    return next(row for row in rows if " / " in row)


def test_a_grid_correction_raises_the_revision(app):
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-R", [therapist])
        mother = gen_member(family, "M1", "mother")
        session = gen_session(family, 1)
        commit()
        instrument = builtin_instruments()["observer4"]
        added, corrected = responses.save_grid(
            session, instrument, {(mother.id, item): "2" for item in ITEMS}, therapist, builtin_instruments()
        )
        commit()
        assert (added, corrected) == (4, 0)
        stored = revision("FAM-R")
        added, corrected = responses.save_grid(
            session, instrument, {(mother.id, "safety"): "-3"}, therapist, builtin_instruments()
        )
        commit()
        assert (added, corrected) == (0, 1)
        assert revision("FAM-R") == stored + 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ResponseChange)) == 1
        # The caseload's stored summary is stale now and is computed again on the next caseload.
        visible = sa.select(Family).where(Family.code == "FAM-R")
        assert [fid for fid, _ in summaries.stale_families(visible, "any key")] == [family.id]


def test_the_family_page_shows_the_corrected_answer(app, client):
    """The journey: the therapist rates in the grid, opens the family page, corrects a cell, opens it again."""
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-R", [therapist])
        mother, father = gen_member(family, "M1", "mother"), gen_member(family, "M2", "father")
        gen_session(family, 2)  # a session of the quick check (the intake, session 1, asks the full questionnaire)
        commit()
        members = [mother.id, father.id]
    assert client.post("/login", data={"email": "ann@example.org", "password": PASSWORD}).status_code == 302
    # The members' own view from paper (check4, 0..10: 5 is 50 POMP), then the therapist's view (-3..3).
    own = {(m, item): "5" for m in members for item in ITEMS}
    assert client.post("/families/FAM-R/sessions/2/grid/check4", data=grid_form(members, own, {})).status_code == 302
    grid = "/families/FAM-R/sessions/2/grid/observer4"
    first = {(m, item): "3" for m in members for item in ITEMS}
    assert client.post(grid, data=grid_form(members, first, {})).status_code == 302
    page = client.get("/families/FAM-R?lang=en").text  # now in the page cache
    assert mothers_views(page).count("50 / 100") == 5  # four dimensions and the total
    corrected = dict(first) | {(mother.id, "safety"): "-3"}
    assert client.post(grid, data=grid_form(members, corrected, first)).status_code == 302
    page = client.get("/families/FAM-R?lang=en").text
    mothers = mothers_views(page)
    assert mothers.count("50 / 100") == 3 and mothers.count("50 / 0<") == 1, "the corrected safety score is shown"
    assert mothers.count("50 / 75") == 1  # and the total moved with it (mean of 3, 3, -3, 3 is 1.5)
    with app.app_context():
        assert db.session.scalar(sa.select(ResponseChange.new_value)) == -3
