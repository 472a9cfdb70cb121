"""The therapist's grid on a tablet (820 x 1180, touch, no hover), in Dutch, in real Chromium.

Each header names the dimension and asks its question on the page itself; the scale's meaning is shown as a
legend; a value off the scale is marked as it is typed, with a Dutch message, and nothing is sent until it
is put right; valid values are stored. axe finds no WCAG 2.2 AA violation, with or without a marked cell.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from familyalliance.store.db import db
from familyalliance.store.models import Member, Response

from ..factories import PASSWORD, commit, gen_family, gen_member, gen_session, gen_user
from ..livebrowser import axe_violations, serve, watch

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}
GRID = "/families/FAM-T/sessions/1/grid/observer4?lang=nl"
QUESTIONS = {
    "1. Band": "Dit gezinslid vertrouwt de therapeut en voelt zich gehoord.",
    "2. Doelen en taken": "Dit gezinslid is het actief eens met de doelen van de behandeling en werkt eraan mee.",
    "3. Veiligheid": (
        "Dit gezinslid voelt zich veilig en hoopvol in de gesprekken, ook met de andere gezinsleden erbij."
    ),
    "4. Gedeeld doel": "Dit gezinslid ervaart dat het gezin samen aan hetzelfde doel werkt.",
}
OUTSIDE = "5 valt buiten de schaal. Geef een heel getal van -3 tot en met +3, of laat het leeg."
NOT_WHOLE = "Geen heel getal. Geef een heel getal van -3 tot en met +3, of laat het leeg."


@pytest.fixture
def live(app, make_app):
    """The app with CSRF on, served on loopback: a therapist and a family of two at session 1."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-T", [ann])
        gen_member(family, "M1", "mother", "Sandra")
        gen_member(family, "Y1", "youth", "Noor")
        gen_session(family, 1)
        commit()
    with serve(make_app(WTF_CSRF_ENABLED=True, TESTING=False)) as url:
        yield url


@pytest.fixture
def tablet(browser, live):
    """A Dutch tablet: 820 x 1180, touch; what it sends is counted in ``tablet.posts``."""
    context = browser.new_context(viewport=TABLET, locale="nl-NL", has_touch=True)
    page = context.new_page()
    page.problems = watch(page)
    page.posts = []
    page.on("request", lambda r: r.method == "POST" and page.posts.append(r.url))
    page.live = live
    page.goto(live + "/login?lang=nl")
    page.get_by_label("E-mailadres").fill("ann@example.org")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("heading", name="Caseload")).to_be_visible()
    page.posts.clear()  # the login's
    yield page
    context.close()


def cell(page, name: str, question: str):
    return page.get_by_role("spinbutton", name=f"{name}, {question}", exact=True)


def test_headers_and_legend_readable_without_hover(tablet):
    """Dimension names and questions are in the headers, wrapped to fit the tablet; the legend says what -3..+3 mean."""
    tablet.goto(tablet.live + GRID)
    expect(tablet.get_by_role("heading", name="Blik van de therapeut (4 oordelen per gezinslid)")).to_be_visible()
    for label, question in QUESTIONS.items():
        header = tablet.get_by_role("columnheader", name=re.compile(re.escape(label)))
        expect(header).to_be_visible()
        expect(header).to_contain_text(question)
        expect(header.locator("abbr")).to_have_count(0)
        assert header.get_attribute("title") is None  # nothing that only a hover shows
    text = tablet.locator("main").inner_text()
    assert not re.search(r"\b(bond|goals_tasks|safety|shared_purpose|observer4)\b", text), text
    legend = tablet.locator(".scale-legend")
    expect(legend.get_by_role("heading", name="Wat de getallen betekenen")).to_be_visible()
    for number, meaning in (("-3", "zeer problematisch"), ("0", "neutraal"), ("+3", "zeer sterk")):
        expect(legend.locator("div", has_text=number).filter(has_text=meaning)).to_be_visible()
    # The four questions fit beside the names: the grid does not scroll sideways on the tablet.
    region = tablet.get_by_role("region", name="Blik van de therapeut (4 oordelen per gezinslid)")
    assert region.evaluate("r => r.scrollWidth <= r.clientWidth"), "the grid is wider than the tablet"
    box = cell(tablet, "Sandra", "1. Band").bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44  # a finger's target
    assert axe_violations(tablet) == []
    assert tablet.problems == []


def test_off_the_scale_marked_as_typed_and_not_sent(tablet, app):
    """5 is marked invalid with a Dutch message at once; sending is held back until it is put right."""
    tablet.goto(tablet.live + GRID)
    first = cell(tablet, "Sandra", "1. Band")
    first.tap()
    tablet.keyboard.type("5")
    expect(first).to_have_attribute("aria-invalid", "true")
    message = tablet.locator(f"#{first.get_attribute('aria-describedby').split()[0]}")
    expect(message).to_have_text(OUTSIDE)
    expect(message).to_be_visible()
    assert tablet.posts == []
    assert axe_violations(tablet) == []
    # A lone minus is a number still being typed: judged when the cell is left.
    second = cell(tablet, "Sandra", "2. Doelen en taken")
    second.tap()
    tablet.keyboard.type("-")
    expect(second).not_to_have_attribute("aria-invalid", "true")
    tablet.keyboard.press("Tab")
    expect(second).to_have_attribute("aria-invalid", "true")
    expect(tablet.locator("#" + second.get_attribute("aria-describedby").split()[0])).to_have_text(NOT_WHOLE)
    # Sending is held back, and the first marked cell gets the focus.
    tablet.get_by_role("button", name="Opslaan").click()
    expect(first).to_be_focused()
    assert tablet.posts == []
    # Put right, the marks go.
    first.fill("")
    tablet.keyboard.type("3")
    expect(first).not_to_have_attribute("aria-invalid", "true")
    expect(message).to_have_text("")
    second.fill("-2")
    second.blur()
    expect(second).not_to_have_attribute("aria-invalid", "true")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
    assert tablet.problems == []


def test_valid_values_are_stored(tablet, app):
    """The keyboard goes along the row; valid values are sent and stored; the session page says so in Dutch."""
    tablet.goto(tablet.live + GRID)
    cell(tablet, "Noor", "1. Band").focus()
    for value in ["2", "1", "0", "3"]:
        tablet.keyboard.type(value)
        tablet.keyboard.press("Tab")
    cell(tablet, "Sandra", "1. Band").focus()
    for value in ["-3", "-1", "+3", "1"]:
        tablet.keyboard.type(value)
        tablet.keyboard.press("Tab")
    tablet.get_by_role("button", name="Opslaan").click()
    expect(tablet.get_by_role("status")).to_contain_text(
        "Blik van de therapeut (4 oordelen per gezinslid) opgeslagen: 8 antwoorden toegevoegd, 0 verbeterd."
    )
    assert axe_violations(tablet) == []
    with app.app_context():
        names = dict(db.session.execute(sa.select(Member.id, Member.display_name)).all())
        stored = {
            (names[r.member_id], r.item): r.value
            for r in db.session.scalars(sa.select(Response).where(Response.instrument == "observer4"))
        }
    dims = ("bond", "goals_tasks", "safety", "shared_purpose")
    assert stored == {
        **{("Noor", d): v for d, v in zip(dims, (2, 1, 0, 3), strict=True)},
        **{("Sandra", d): v for d, v in zip(dims, (-3, -1, 3, 1), strict=True)},
    }
    assert tablet.problems == []


def test_server_errors_in_dutch_without_the_script(browser, live, app):
    """Without the grid's script the server still refuses 5, in Dutch, next to the cell and in the summary."""
    context = browser.new_context(viewport=TABLET, locale="nl-NL", has_touch=True)
    page = context.new_page()
    page.route("**/static/grid.js*", lambda route: route.abort())  # as if it did not load; axe still runs
    page.goto(live + "/login?lang=nl")
    page.get_by_label("E-mailadres").fill("ann@example.org")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("heading", name="Caseload")).to_be_visible()
    page.goto(live + GRID)
    cell(page, "Sandra", "1. Band").fill("5")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Sandra, 1. Band: {OUTSIDE}")
    expect(cell(page, "Sandra", "1. Band")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("td.has-error .cell-error")).to_have_text(OUTSIDE)
    assert axe_violations(page) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
    context.close()
