"""Accounts: passwords are stored only as Argon2id hashes."""

import pytest

from familyalliance.store.db import db
from familyalliance.store.models import User

from ..factories import PASSWORD, commit, gen_user


@pytest.fixture
def user(app):
    with app.app_context():
        u = gen_user(email="therapist@example.org")
        commit()
        return u.id


def test_password_stored_as_argon2id(app, user):
    with app.app_context():
        stored = db.session.get(User, user).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
