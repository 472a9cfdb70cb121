"""Paper forms: a session's questionnaires as A4 pages, one member after the other, each in the member's language."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import casework
from familyalliance.store.db import db
from familyalliance.store.models import Family

from ..factories import commit, gen_family, gen_member, gen_session, gen_user

A4 = (595.28, 841.89)
INSTRUMENTS = builtin_instruments()


@pytest.fixture
def family(app, auth):
    """FAM-1 at its intake: Sandra (Dutch) and Noor (English) get the full questionnaire, Daan (a child, no
    language of his own) the quick check; Ilse was not there. Ann, its therapist, is logged in."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        gen_user("therapist", "Team A", "bob@example.org")
        family = gen_family("FAM-1", [ann])
        sandra = gen_member(family, "M1", "mother", "Sandra", language="nl")
        noor = gen_member(family, "Y1", "youth", "Noor", language="en")
        daan = gen_member(family, "C1", "child", "Daan")
        gen_member(family, "M2", "stepparent", "Ilse")
        gen_session(family, 1, present=[sandra, noor, daan])
        commit()
    auth.login("ann@example.org")


def the_family() -> Family:
    return db.session.scalar(sa.select(Family).where(Family.code == "FAM-1"))


def words(text: str) -> str:
    return " ".join(text.split())


def pages(client, url: str) -> tuple[PdfReader, list[str]]:
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="FAM-1-session-1-paper-forms.pdf"'
    reader = PdfReader(io.BytesIO(response.data))
    return reader, [words(page.extract_text()) for page in reader.pages]


def items(code: str, language: str) -> list[str]:
    return [item.text_for(language, "therapist") for item in INSTRUMENTS[code].items]


def forms(texts: list[str], names: list[str]) -> dict[str, list[int]]:
    """The pages of each member's form: every page names one member, in the footer and on the form."""
    found: dict[str, list[int]] = {}
    for number, text in enumerate(texts):
        (name,) = [name for name in names if name in text]
        found.setdefault(name, []).append(number)
    return found


def test_one_form_per_attendee_in_their_language(client, family):
    reader, texts = pages(client, "/families/FAM-1/sessions/1/paper.pdf?lang=en")
    # A4, each page.
    for page in reader.pages:
        assert (round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)) == A4
    # The grid's order: the full questionnaire's members (Noor, Sandra), then the quick check's (Daan); each form
    # starts on a page of its own, with the member's name, and nobody absent gets one.
    found = forms(texts, ["Sandra", "Noor", "Daan", "Ilse"])
    assert list(found) == ["Noor", "Sandra", "Daan"]
    for name, numbers in found.items():
        assert numbers == list(range(numbers[0], numbers[-1] + 1)), name
        # The page opens with the family, the session and the member, then the member's name as its heading.
        assert re.match(rf"FAM-1 · Sessi(on|e) 1 · {name} {name} ", texts[numbers[0]]), texts[numbers[0]][:80]
    assert len(texts) == 3  # the full questionnaire fits one page

    def form_text(name: str) -> str:
        return " ".join(texts[n] for n in found[name])

    # Sandra reads Dutch, Noor English, Daan the page's language (English here); the items in definition order.
    sandra, noor, daan = form_text("Sandra"), form_text("Noor"), form_text("Daan")
    assert "Hoe jij de samenwerking ziet" in sandra and "Sessie 1" in sandra
    assert "Vragenlijst werkrelatie in het gezin (16 vragen)" in sandra
    assert "Your view of the work together" in noor and "Family alliance questionnaire (16 items)" in noor
    for text, code, language in ((sandra, "alliance16", "nl"), (noor, "alliance16", "en"), (daan, "check4", "en")):
        positions = [text.find(words(item)) for item in items(code, language)]
        assert -1 not in positions, (code, language, positions)
        assert positions == sorted(positions), (code, language)
    assert not any(words(item) in noor for item in items("alliance16", "nl"))
    # The scale to circle, with its anchors: 1..5 on the full questionnaire, 0..10 on the quick check.
    assert "1 is not at all, 5 is completely" in noor and "0 is not at all, 10 is very much" in daan
    assert "Vraag helemaal niet een beetje redelijk grotendeels helemaal 1. " in sandra
    assert "Question not at all half very much 1. " in daan
    # Every question's row: its number (the grid's column) and the numbers to circle.
    first = [words(INSTRUMENTS[code].items[0].text_for("en", "therapist")) for code in ("alliance16", "check4")]
    assert f"1. {first[0]} 1 2 3 4 5 2. " in noor and f"1. {first[1]} 0 1 2 3 4 5 6 7 8 9 10 2. " in daan
    assert "Quick check (4 questions)" in daan


def test_in_dutch_the_member_without_a_language_reads_dutch(client, family):
    _reader, texts = pages(client, "/families/FAM-1/sessions/1/paper.pdf?lang=nl")
    found = forms(texts, ["Sandra", "Noor", "Daan"])
    daan = " ".join(texts[n] for n in found["Daan"])
    noor = " ".join(texts[n] for n in found["Noor"])
    assert all(words(item) in daan for item in items("check4", "nl"))
    assert "Korte check (4 vragen)" in daan and "Vraag helemaal niet half heel erg 1. " in daan
    assert all(words(item) in noor for item in items("alliance16", "en"))


def test_a_session_about_the_team_asks_about_the_team(client, app, family):
    with app.app_context():
        fam = the_family()
        session = fam.sessions[0]
        present = [a.member_id for a in session.attendance if a.present]
        casework.record_session(fam, 1, session.date, present, session=session, target="team")
        commit()
    _reader, texts = pages(client, "/families/FAM-1/sessions/1/paper.pdf?lang=en")
    noor = " ".join(text for text in texts if "Noor" in text)
    about = [item for item in INSTRUMENTS["alliance16"].items if "{target}" in item.text["en"]]
    assert about and all(words(item.text_for("en", "team")) in noor for item in about)
    assert not any(words(item.text_for("en", "therapist")) in noor for item in about)


def test_nobody_to_ask_is_said_on_the_page(client, app, family):
    with app.app_context():
        gen_session(the_family(), 2, present=[])
        commit()
    response = client.get("/families/FAM-1/sessions/2/paper.pdf?lang=en")
    assert response.status_code == 200
    text = words(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages))
    assert "Nobody present at this session has a questionnaire to fill in." in text


def test_only_the_familys_clinicians_get_the_forms(client, auth, family):
    assert client.get("/families/FAM-1/sessions/9/paper.pdf").status_code == 404
    auth.logout()
    auth.login("bob@example.org")
    assert client.get("/families/FAM-1/sessions/1/paper.pdf").status_code == 404
