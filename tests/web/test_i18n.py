"""Dutch and English: choice, browser, switching and a complete catalog."""

from pathlib import Path

import sqlalchemy as sa
from babel.messages.pofile import read_po

from familyalliance.store.db import db
from familyalliance.store.models import User

from ..factories import commit, gen_user

CATALOG = Path(__file__).resolve().parents[2] / "familyalliance/translations/nl/LC_MESSAGES/messages.po"


def test_browser_language_decides_first(client):
    assert 'lang="en"' in client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert 'lang="nl"' in client.get("/login", headers={"Accept-Language": "nl-BE,nl;q=0.9"}).text


def test_dutch_when_the_browser_asks_neither(client):
    assert 'lang="nl"' in client.get("/login", headers={"Accept-Language": "fr"}).text


def test_lang_parameter_switches_and_is_remembered(client):
    english = {"Accept-Language": "en"}
    assert "Inloggen" in client.get("/login?lang=nl", headers=english).text
    assert "Inloggen" in client.get("/login", headers=english).text
    assert "Log in" in client.get("/login?lang=en").text


def test_choice_is_stored_on_the_account(app, client, auth):
    with app.app_context():
        gen_user(email="ann@example.org")
        commit()
    auth.login("ann@example.org")
    client.get("/families/?lang=en")
    with app.app_context():
        assert db.session.scalar(sa.select(User.locale)) == "en"
    # A new browser without any choice of its own follows the account.
    other = app.test_client()
    other.post("/login", data={"email": "ann@example.org", "password": "correct horse battery"})
    assert 'lang="en"' in other.get("/families/", headers={"Accept-Language": "nl"}).text


def test_catalog_complete():
    """Every message of the interface has a Dutch translation that is not marked fuzzy."""
    with CATALOG.open("rb") as f:
        catalog = read_po(f)
    untranslated = [
        m.id for m in catalog if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
    ]
    assert untranslated == []
    assert len(catalog) > 50


def test_catalog_matches_the_sources(tmp_path):
    """No text in the code or templates is missing from the catalog (run `make messages` to fix)."""
    from babel.messages.extract import extract_from_dir

    root = CATALOG.parents[4]
    mapping = [("familyalliance/**.py", "python"), ("templates/**.html", "jinja2")]
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        str(root),
        method_map=mapping,
        keywords={"_": None, "_l": None, "N_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None},
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    with CATALOG.open("rb") as f:
        known = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(f)}
    assert len(found) > 50, "the extraction found too little: is the root right?"
    assert found - known == set()
