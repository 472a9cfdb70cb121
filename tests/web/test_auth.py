"""Logging in and out, and CSRF.

How passwords are stored is ``services/test_accounts.py``.
"""

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


def test_login_form_labels_in_english(client):
    """The login form's fields are labelled Email and Password, its button Log in."""
    html = client.get("/login?lang=en").text
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'value="Log in"' in html


def test_login_form_in_dutch(client):
    html = client.get("/login?lang=nl").text
    assert '<label for="email">E-mailadres</label>' in html
    assert 'value="Inloggen"' in html


def test_login_and_logout(client, auth, user):
    response = auth.login("therapist@example.org")
    assert response.status_code == 302
    assert response.location == "/families/"
    assert client.get("/families/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/families/").status_code == 302


def test_login_is_case_insensitive_on_email(client, auth, user):
    assert auth.login("Therapist@Example.org").status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("therapist@example.org", "wrong password"),
        ("nobody@example.org", PASSWORD),
        ("", ""),
    ],
)
def test_login_refused_with_generic_message(client, auth, user, email, password):
    """A wrong password and an unknown account get the same answer, and the email is kept."""
    response = auth.login(email, password, query_string={"lang": "en"})
    assert response.status_code == (401 if email else 200)
    if email:
        assert "Email or password is not correct, or the account is locked" in response.text
        assert f'value="{email}"' in response.text
    assert client.get("/families/").status_code == 302


def test_inactive_account_cannot_log_in(app, client, auth, user):
    with app.app_context():
        db.session.get(User, user).active = False
        commit()
    assert auth.login("therapist@example.org").status_code == 401


def test_next_only_to_this_site(client, auth, user):
    assert auth.login("therapist@example.org", query_string={"next": "/families/x"}).location == "/families/x"
    client.post("/logout")
    assert auth.login("therapist@example.org", query_string={"next": "https://evil.example/"}).location == "/families/"
    client.post("/logout")
    assert auth.login("therapist@example.org", query_string={"next": "//evil.example/"}).location == "/families/"


def test_pages_need_login(client):
    response = client.get("/families/")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_logout_is_post_only(client, auth, user):
    auth.login("therapist@example.org")
    assert client.get("/logout").status_code == 405


def test_csrf_required_on_forms(app, make_app):
    """With CSRF on (as in production), a POST without the token is refused."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        gen_user(email="csrf@example.org")
        commit()
    client = app.test_client()
    response = client.post("/login", data={"email": "csrf@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/families/").status_code == 302
    html = client.get("/login").text
    token = html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/login", data={"email": "csrf@example.org", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert client.post("/logout").status_code == 400
    assert client.get("/families/").status_code == 200
