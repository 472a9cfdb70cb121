"""Answers go through the shared validation before they are stored: one bad answer, and nothing is written."""

import pytest
import sqlalchemy as sa

from familyalliance.services import responses
from familyalliance.store.db import db
from familyalliance.store.models import Response
from familyalliance.store.registry import installed_instruments

from ..store.test_scores_db import answers, make_family


@pytest.fixture
def family(app):
    with app.app_context():
        return make_family()


def test_invalid_answers_store_nothing(app, family):
    """One bad value among good ones: every problem reported, nothing written."""
    with app.app_context():
        rows = answers(family, "M1", "check4", ["8", "11", "x", "7"])
        rows += answers(family, "M1", "check4", ["8", "8", "8", "8"], informant="therapist")
        with pytest.raises(responses.AnswersRejected) as info:
            responses.store_answers(rows, installed_instruments())
        db.session.rollback()
        messages = [str(p) for p in info.value.problems]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
    assert any("11 is outside the scale" in m for m in messages)
    assert any("'x' is not a whole number" in m for m in messages)
    assert sum("filled in by informant 'self', not 'therapist'" in m for m in messages) == 4


def test_duplicate_answers_refused(app, family):
    with app.app_context():
        rows = answers(family, "M1", "check4", ["8", "8", "8", "8"])
        with pytest.raises(responses.AnswersRejected, match="a second answer for"):
            responses.store_answers(rows + rows[:1], installed_instruments())
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
