"""In Chromium, in Dutch and English: the same rupture with the same status on the chart, in the table,
in the prompts and on the caseload, for a family whose series mix the quick check and the full questionnaire.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..factories import PASSWORD
from ..livebrowser import axe_violations, serve, watch
from ..mixed_course import EXPECTED, build_course

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "locale": "en-GB",
        "email": "Email",
        "password": "Password",
        "log_in": "Log in",
        "open": "open",
        "safety": "Safety",
        "rupture_reason": (
            "Recent rupture, not repaired yet: Sandra (sense of safety, 70 points in session 4), "
            "Noor (sense of safety, 55 points in session 4)."
        ),
        "prompt": "In session 4, Noor's sense of safety fell 55 points (from 75 to 20 out of 100)",
        "discussed": "Noor (sense of safety, 55 points in session 4, discussed on November 30, 2026)",
        "follow_up": "Follow up",
        "discussed_on": "Discussed on",
        "note": "Note",
        "save": "Save",
    },
    "nl": {
        "locale": "nl-NL",
        "email": "E-mailadres",
        "password": "Wachtwoord",
        "log_in": "Inloggen",
        "open": "open",
        "safety": "Veiligheid",
        "rupture_reason": (
            "Recente breuk, nog niet hersteld: Sandra (het gevoel van veiligheid, 70 punten gedaald in sessie 4), "
            "Noor (het gevoel van veiligheid, 55 punten gedaald in sessie 4)."
        ),
        "prompt": "In sessie 4 daalde bij Noor het gevoel van veiligheid met 55 punten (van 75 naar 20 op 100)",
        "discussed": "Noor (het gevoel van veiligheid, 55 punten gedaald in sessie 4, besproken op 30 november 2026)",
        "follow_up": "Opvolgen",
        "discussed_on": "Besproken op",
        "note": "Notitie",
        "save": "Opslaan",
    },
}


@pytest.fixture
def live(app, client, auth, make_app):
    build_course(app, client, auth)
    with serve(make_app(WTF_CSRF_ENABLED=True, TESTING=False)) as url:
        yield url


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_same_rupture_everywhere_and_its_follow_up(browser, live, language):
    words = WORDS[language]
    context = browser.new_context(locale=words["locale"], viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{live}/login?lang={language}")
    page.get_by_label(words["email"]).fill("ann@example.org")
    page.get_by_label(words["password"]).fill(PASSWORD)
    page.get_by_role("button", name=words["log_in"]).click()

    # The caseload names Sandra's and Noor's ruptures, open, on one line.
    expect(page.get_by_text(words["rupture_reason"])).to_be_visible()
    page.get_by_role("link", name="MIX-1").click()

    # The family page: every chart drawn, its ▼ marks one per rupture, no ▲ (nothing repaired).
    for chart in ("chart-lines", "chart-heat", "chart-views", "chart-balance", "chart-gap"):
        expect(page.locator(f"#{chart}")).to_have_attribute("data-rendered", "true")
    glyphs = page.locator("#chart-lines svg text").all_text_contents()
    assert glyphs.count("▼") == len(EXPECTED) and glyphs.count("▲") == 0
    # The rupture table: the same ruptures, each open; the prompts say the same.
    rows = page.locator("tr[data-rupture]")
    expect(rows).to_have_count(len(EXPECTED))
    keys = {tuple(rows.nth(i).get_attribute("data-rupture").split("/")) for i in range(len(EXPECTED))}
    assert keys == EXPECTED
    for i in range(len(EXPECTED)):
        expect(rows.nth(i).locator(".rupture-status")).to_have_text(words["open"])
    expect(page.locator(".prompts")).to_contain_text(words["prompt"])
    expect(page.get_by_role("heading", name=words["safety"])).to_be_visible()
    expect(page.locator(".safety-signal")).to_contain_text("meldcode huiselijk geweld en kindermishandeling")
    assert axe_violations(page) == []

    # The therapist follows Noor's rupture up: the table shows it beside the status, the caseload says so.
    noor = page.locator('tr[data-rupture="Y1/4/safety"]')
    noor.get_by_role("link", name=re.compile(words["follow_up"])).click()
    assert axe_violations(page) == []
    page.get_by_label(words["discussed_on"]).fill("2026-11-30")
    page.get_by_label(words["note"]).fill("Noor alone: feels unheard at home.")
    page.get_by_role("button", name=words["save"]).click()
    expect(noor.locator(".rupture-status")).to_have_text(words["open"])
    expect(noor.locator(".rupture-follow-up")).to_contain_text("feels unheard at home")
    page.goto(f"{live}/families/?lang={language}")
    expect(page.get_by_text(re.compile(re.escape(words["discussed"])))).to_be_visible()
    assert axe_violations(page) == []
    assert problems == []
    context.close()


def test_charts_fit_a_phone_without_scrolling(browser, live):
    """At 390 px every chart is drawn within its box (legends below, plot narrowed), in Dutch, with no warning."""
    context = browser.new_context(locale="nl-NL", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{live}/login?lang=nl")
    page.get_by_label("E-mailadres").fill("ann@example.org")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.goto(f"{live}/families/MIX-1")
    charts = ("chart-lines", "chart-heat", "chart-views", "chart-balance", "chart-gap")
    for chart in charts:
        expect(page.locator(f"#{chart}")).to_have_attribute("data-rendered", "true")
        box = page.locator(f"#{chart}")
        overflow = box.evaluate("c => c.querySelector('svg').getBoundingClientRect().width - c.clientWidth")
        assert overflow <= 1, (chart, overflow)
    assert problems == []
    context.close()
