"""The whole journey of one session in Chromium, in English and in Dutch: links, links made again, the
tablet round and a paper form. Every member's form is stored exactly once, every send is answered with
a thank-you or the reason, and the session page tells the truth."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, Response

from ..factories import PASSWORD, commit, gen_family, gen_member, gen_session, gen_user
from ..livebrowser import axe_violations, serve

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "locale": "en-GB",
        "email": "Email",
        "password": "Password",
        "log_in": "Log in",
        "session": "Session 1",
        "links": "Make personal links",
        "round": "Start a round on this device",
        "turn": "Whose turn is it?",
        "send": "Send my answers",
        "thanks": "Thank you",
        "handed_on": "Thank you, Noor. Please hand the device on.",
        "newer": "A newer link was made for you",
        "are_in": "Your answers are in",
        "end": "End the round (therapist)",
        "their_password": "Therapist's password",
        "end_button": "End the round",
        "paper": "Type in paper forms: Quick check (4 questions)",
        "save": "Save",
        "by_link": "answered by link",
        "in_round": "answered in the round",
        "from_paper": "answered from paper",
        "listens": "listens",
    },
    "nl": {
        "locale": "nl-NL",
        "email": "E-mailadres",
        "password": "Wachtwoord",
        "log_in": "Inloggen",
        "session": "Sessie 1",
        "links": "Persoonlijke links maken",
        "round": "Een rondje starten op dit apparaat",
        "turn": "Wie is er aan de beurt?",
        "send": "Mijn antwoorden versturen",
        "thanks": "Dank je wel",
        "handed_on": "Dank je wel, Noor. Geef het apparaat door.",
        "newer": "Er is een nieuwere link voor je gemaakt",
        "are_in": "Je antwoorden zijn binnen",
        "end": "Het rondje beëindigen (therapeut)",
        "their_password": "Wachtwoord van de therapeut",
        "end_button": "Het rondje beëindigen",
        "paper": "Papieren formulieren intypen: Korte check (4 vragen)",
        "save": "Opslaan",
        "by_link": "ingevuld via de link",
        "in_round": "ingevuld in de rondgang",
        "from_paper": "ingevuld van papier",
        "listens": "luistert",
    },
}


@pytest.fixture
def live(app, make_app):
    """FAM-7 at session 1 with Sandra (mother), Noor (youth) and Daan (child), all on the quick check; Ann their
    therapist."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-7", [ann])
        family.full_every = 0  # the quick check only, at the intake too (the default plan asks alliance16 there)
        for code, role, name in (("M1", "mother", "Sandra"), ("Y1", "youth", "Noor"), ("C1", "child", "Daan")):
            gen_member(family, code, role, name)
        gen_session(family, 1)
        commit()
    with serve(make_app(WTF_CSRF_ENABLED=True, TESTING=False)) as url:
        yield url


def links_shown(page) -> dict[str, str]:
    """The links the session page shows this once: member name -> URL (waits for the page that shows them)."""
    page.locator("ul.links > li").first.wait_for()
    return {
        item.get_by_role("heading").inner_text(): item.get_by_role("link").get_attribute("href")
        for item in page.locator("ul.links > li").all()
    }


def answer_check4(page, words: dict, value: str) -> None:
    """Answer the four questions of check4 with ``value`` and send (on a phone 0..10 is a slider)."""
    sliders = page.get_by_role("slider")
    if sliders.count():
        expect(sliders).to_have_count(4)
        for slider in sliders.all():
            slider.fill(value)
    else:
        questions = page.get_by_role("group").filter(has=page.get_by_role("radio", name=value, exact=True))
        expect(questions).to_have_count(4)
        for group in questions.all():
            group.get_by_role("radio", name=value, exact=True).check()
    page.get_by_role("button", name=words["send"]).click()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_every_voice_once_through_links_round_and_paper(browser, live, app, lang):
    words = WORDS[lang]
    therapist = browser.new_context(locale=words["locale"])
    page = therapist.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.goto(live + "/login")
    page.get_by_label(words["email"]).fill("ann@example.org")
    page.get_by_label(words["password"]).fill(PASSWORD)
    page.get_by_role("button", name=words["log_in"]).click()
    session_url = live + "/families/FAM-7/sessions/1"
    page.goto(session_url)
    expect(page.get_by_role("heading", name=words["session"])).to_be_visible()
    page.get_by_role("button", name=words["links"]).click()
    first = links_shown(page)
    assert set(first) == {"Sandra", "Noor", "Daan"}

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale=words["locale"], is_mobile=True)
    # Sandra answers by link.
    member = phone.new_page()
    member.goto(first["Sandra"])
    answer_check4(member, words, "7")
    expect(member.get_by_role("heading", name=words["thanks"])).to_be_visible()

    # Links made again: Sandra answered, so she gets none; Noor's first link now says a newer one was sent.
    page.goto(session_url)
    page.get_by_role("button", name=words["links"]).click()
    second = links_shown(page)
    assert set(second) == {"Noor", "Daan"}
    assert axe_violations(page) == []
    member.goto(first["Noor"])
    expect(member.get_by_text(words["newer"])).to_be_visible()
    assert axe_violations(member) == []

    # The round: Sandra is done; Noor answers on the tablet.
    page.goto(session_url)
    page.get_by_role("button", name=words["round"]).click()
    expect(page.get_by_role("heading", name=words["turn"])).to_be_visible()
    expect(page.get_by_role("link", name="Sandra")).to_have_count(0)
    expect(page.locator(".done-name", has_text="Sandra")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Noor").click()
    answer_check4(page, words, "6")
    expect(page.get_by_role("status")).to_contain_text(words["handed_on"])

    # Noor's newer link, on her phone: her answers are in, nothing more is stored.
    member.goto(second["Noor"])
    expect(member.get_by_role("heading", name=words["are_in"])).to_be_visible()
    phone.close()
    page.get_by_role("link", name=words["end"]).click()
    page.get_by_label(words["their_password"]).fill(PASSWORD)
    page.get_by_role("button", name=words["end_button"]).click()

    # Daan filled in paper: the therapist types it in.
    page.get_by_role("link", name=words["paper"]).click()
    with app.app_context():
        daan = db.session.scalar(sa.select(Member.id).where(Member.code == "C1"))
    for item in ("bond", "goals_tasks", "safety", "shared_purpose"):
        page.locator(f"#v-{daan}-{item}").fill("8")
    page.get_by_role("button", name=words["save"]).click()

    # The session page tells the truth.
    expect(page.get_by_role("heading", name=words["session"])).to_be_visible()
    rows = page.get_by_role("row")
    expect(rows.filter(has_text="Sandra")).to_contain_text(words["by_link"])
    expect(rows.filter(has_text="Noor")).to_contain_text(words["in_round"])
    expect(rows.filter(has_text="Daan")).to_contain_text(words["from_paper"])
    assert axe_violations(page) == []
    assert problems == []
    therapist.close()

    with app.app_context():
        family_id = db.session.scalar(sa.select(Family.id).where(Family.code == "FAM-7"))
        stored = dict(
            db.session.execute(
                sa.select(Member.code, sa.func.count())
                .join(Response, Response.member_id == Member.id)
                .where(Response.family_id == family_id, Response.instrument == "check4")
                .group_by(Member.code)
            ).all()
        )
        values = dict(
            db.session.execute(
                sa.select(Member.code, sa.func.max(Response.value))
                .join(Response, Response.member_id == Member.id)
                .where(Response.family_id == family_id)
                .group_by(Member.code)
            ).all()
        )
    assert stored == {"M1": 4, "Y1": 4, "C1": 4}  # exactly one form per member
    assert values == {"M1": 7, "Y1": 6, "C1": 8}
