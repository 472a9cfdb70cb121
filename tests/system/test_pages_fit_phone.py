"""On a 390 px phone, in Chromium: the family page, the session page, the caseload and a rupture's follow-up fit
the screen (nothing scrolls the page sideways; wide tables scroll in their own region), pass axe, and the
caseload's reasons have the room to be read."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import demo

from ..factories import PASSWORD, commit, gen_user
from ..livebrowser import axe_violations, serve, watch

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
#: The demo family with ruptures to follow up (so its page has every table and chart): the second the demo makes
#: (its code depends on the database's ids, which PostgreSQL does not start again at 1).
FAMILY = 1
EMAIL = "wilhelmina.van.den.hoogenband-vermeulen@jeugdzorg-zuid-holland.example.org"
LOGIN = {
    "nl": ("nl-NL", "E-mailadres", "Wachtwoord", "Inloggen"),
    "en": ("en-GB", "Email", "Password", "Log in"),
}


@pytest.fixture
def site(app, make_app):
    """The demo families of a therapist with a long e-mail address (one unbroken word in the header, on the family
    page and on the caseload), served on loopback."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", EMAIL)
        codes = demo.load_demo(ann, builtin_instruments())
        commit()
    with serve(make_app(WTF_CSRF_ENABLED=True, TESTING=False)) as url:
        yield url, codes[FAMILY]


def sticking_out(page) -> list[str]:
    """The outermost elements reaching past the viewport's right edge, to say what made a page scroll."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
             .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
             .filter(e => !e.closest('.table-scroll, table.data') || e.matches('.table-scroll, table.data'))
             .slice(0, 5)
             .map(e => `${e.tagName.toLowerCase()}.${e.className}`
                       + ` right=${Math.round(e.getBoundingClientRect().right)}`)"""
    )


def overflow(page) -> int:
    """How far the page scrolls sideways (0: it fits)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.parametrize("language", ["nl", "en"])
def test_pages_fit_a_phone(browser, site, language):
    site, family = site
    locale, email, password, log_in = LOGIN[language]
    context = browser.new_context(locale=locale, viewport=PHONE, is_mobile=True)
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{site}/login?lang={language}")
    page.get_by_label(email).fill(EMAIL)
    page.get_by_label(password).fill(PASSWORD)
    page.get_by_role("button", name=log_in).click()
    expect(page.locator("table.caseload")).to_be_visible()

    # The caseload: the table scrolls in its region; the reasons column is the widest, not the narrowest.
    assert overflow(page) == 0, ("caseload", sticking_out(page))
    widths = page.evaluate(
        """() => [...document.querySelectorAll('table.caseload tbody tr')].map(row =>
             [...row.children].map(cell => [cell.classList.contains('why'), cell.getBoundingClientRect().width]))"""
    )
    for row in widths:
        why = next(width for is_why, width in row if is_why)
        assert why >= max(width for _, width in row) and why >= 200, row
    for cell in page.locator("table.caseload td.why").all():
        assert cell.locator(":scope > ul.reasons > li").count() <= 3
    assert axe_violations(page) == [], "caseload"

    # The family page, all its charts drawn, then its last session's page and the follow-up of a rupture.
    page.goto(f"{site}/families/{family}")
    for chart in ("chart-lines", "chart-heat", "chart-views", "chart-balance", "chart-gap"):
        expect(page.locator(f"#{chart}")).to_have_attribute("data-rendered", "true")
    assert overflow(page) == 0, ("family page", sticking_out(page))
    assert axe_violations(page) == [], "family page"
    follow_up = page.locator("a[href$='/follow-up']").first.get_attribute("href")
    last = max(int(n) for n in re.findall(rf'href="/families/{family}/sessions/(\d+)"', page.content()))
    for path in (f"/families/{family}/sessions/{last}", f"/families/{family}/sessions/1", follow_up):
        page.goto(f"{site}{path}")
        expect(page.locator("h1")).to_be_visible()
        assert overflow(page) == 0, (path, sticking_out(page))
        assert axe_violations(page) == [], path
    assert problems == []
    context.close()
