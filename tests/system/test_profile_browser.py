"""In Chromium: a therapist opens their alliance profile beside their team's and keeps a note; a team lead opens
each therapist's profile of the team; a therapist is refused another's. Every page passes axe (WCAG 2.2 AA).

The scenario's ``course``: ann's FAM-1 (Team A) rated in January 2026; bob is ann's colleague, lead their lead.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..factories import PASSWORD
from ..livebrowser import axe_violations, serve, watch
from ..scenarios import email

pytestmark = [pytest.mark.browser, pytest.mark.scenario("course")]


@pytest.fixture
def live(scenario, make_app):
    with serve(make_app(WTF_CSRF_ENABLED=True, TESTING=False)) as url:
        yield url


def log_in(browser, live, name: str):
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{live}/login?lang=en")
    page.get_by_label("Email").fill(email(name))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    return page, problems


def test_a_therapist_opens_their_profile_and_their_teams_and_keeps_a_note(browser, live):
    page, problems = log_in(browser, live, "ann")
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name="Your alliance profile")).to_be_visible()
    expect(page.get_by_text("nothing to show yet")).to_be_visible()  # the last 182 days: no session
    page.get_by_label("From", exact=True).fill("2026-01-01")
    page.get_by_label("Up to and including", exact=True).fill("2026-03-31")
    page.get_by_role("button", name="Show").click()
    table = page.get_by_role("table", name="The profile over the period, beside the team's")
    expect(table.get_by_role("columnheader", name="You")).to_be_visible()
    expect(table.get_by_role("columnheader", name="The team")).to_be_visible()
    expect(table.get_by_role("row", name="Families 1 1")).to_be_visible()
    expect(page.locator("#chart-history svg")).to_be_visible()  # the last quarters, drawn
    assert axe_violations(page) == []

    page.get_by_label("Note", exact=True).fill("Do fathers drift out of my alliances? Ask in supervision.")
    page.get_by_role("button", name="Keep the note").click()
    expect(page.get_by_text("The note was kept.")).to_be_visible()
    expect(page.get_by_text("Do fathers drift out of my alliances? Ask in supervision.")).to_be_visible()
    assert axe_violations(page) == []
    assert problems == []


def test_a_team_lead_opens_each_therapists_profile(browser, live):
    page, problems = log_in(browser, live, "lead")
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name="Team profiles", exact=True)).to_be_visible()
    expect(page.get_by_text("not a ranking")).to_be_visible()
    assert axe_violations(page) == []
    for name in ("ann", "bob"):
        page.get_by_role("link", name=email(name)).click()
        expect(page.get_by_role("heading", name=f"Alliance profile of {email(name)}")).to_be_visible()
        assert axe_violations(page) == []
        page.get_by_role("link", name="Team profiles").click()
    assert problems == []


def test_a_therapist_is_refused_another_therapists_profile(browser, live, scenario):
    page, _ = log_in(browser, live, "ann")
    response = page.goto(f"{live}/profile/{scenario.users['bob']}?lang=en")
    assert response.status == 404
    expect(page.get_by_text(email("bob"))).to_have_count(0)


def test_the_profile_fits_a_phone(browser, live):
    context = browser.new_context(locale="nl-NL", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live}/login?lang=nl")
    page.get_by_label("E-mailadres").fill(email("ann"))
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.goto(f"{live}/profile/?start=2026-01-01&end=2026-03-31")
    expect(page.locator("#chart-history svg")).to_be_visible()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    assert axe_violations(page) == []
