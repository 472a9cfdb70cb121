"""The member's questionnaire in Chromium on a phone (390x844) and a tablet (820x1180): docs/questionnaire.md.

A scripted child reading at 200 words a minute finishes check4 in under 30 seconds from opening the link, on
a page at most a third higher than the screen; a child's five steps store 0, 2, 5, 8 and 10; an adult answers
0..10 on a slider that shows no value until touched, by touch and by keyboard; alliance16 comes one dimension
at a time and, without JavaScript, whole; axe finds nothing on any page a member reaches; at 200% zoom (and
at 320 px) nothing scrolls sideways, no label spills and every target stays at least 44 px.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from familyalliance.services import requests
from familyalliance.store.db import db
from familyalliance.store.models import Member, QuestionnaireRequest, Response, TherapySession

from ..factories import PASSWORD, commit, gen_family, gen_member, gen_session, gen_user
from ..livebrowser import axe_violations, serve
from ..web.test_questionnaire_layout import plan_for_mother

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
TABLET = {"viewport": {"width": 820, "height": 1180}, "is_mobile": True, "has_touch": True}
#: The four questions of check4 fit on one screen plus at most a third.
MAX_HEIGHT = 844 * 4 / 3
WORDS_PER_MINUTE = 200
CHECK4 = ("bond", "goals_tasks", "safety", "shared_purpose")
CODES = [f"{dimension}_{i}" for dimension in CHECK4 for i in range(1, 5)]  # alliance16's items, part by part

#: The words a member sees: text in an element that is rendered and larger than the 1 px of visually
#: hidden text (screen readers' names are not read on screen).
VISIBLE_WORDS = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let words = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    const box = element.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    words += (node.textContent.match(/[\\p{L}\\p{N}]+/gu) || []).length;
  }
  return words;
}"""


@pytest.fixture
def live(app, make_app):
    """FAM-P: Sandra (mother) and Daan (child), sessions 2 (check4) and 4 (alliance16 for Sandra, set);
    served with CSRF on. Yields (base URL, {(member, session): link})."""
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-P", [ann])
        members = [gen_member(family, "M1", "mother", "Sandra"), gen_member(family, "C1", "child", "Daan")]
        tokens = {}
        for number, instrument in ((2, "check4"), (4, "alliance16")):
            session = gen_session(family, number, present=members)
            plan_for_mother(session, instrument)
            tokens |= {(r.member.code, number): token for r, token in requests.make_links(session)}
        commit()
    with serve(make_app(WTF_CSRF_ENABLED=True, TESTING=False)) as url:
        yield url, {key: f"{url}/r/{token}" for key, token in tokens.items()}


def stored(app, member: str, instrument: str) -> dict[str, int | None]:
    with app.app_context():
        return dict(
            db.session.execute(
                sa.select(Response.item, Response.value)
                .join(Member, Member.id == Response.member_id)
                .where(Member.code == member, Response.instrument == instrument)
            ).all()
        )


def draft(app, member: str) -> dict:
    with app.app_context():
        text = db.session.scalar(
            sa.select(QuestionnaireRequest.draft)
            .join(Member, Member.id == QuestionnaireRequest.member_id)
            .join(TherapySession, TherapySession.id == QuestionnaireRequest.session_id)
            # Session 2's link (a child has check4 at session 4 too: without this, which row came first was luck).
            .where(Member.code == member, QuestionnaireRequest.instrument == "check4", TherapySession.number == 2)
        )
        return json.loads(text) if text else {}


def wait_for_draft(app, member: str, expected: dict) -> None:
    """Wait until the saved draft is ``expected`` (saves run one after another in the page)."""
    deadline = time.monotonic() + 5
    while draft(app, member) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert draft(app, member) == expected


def close(context) -> None:
    """Close a browser context once its pages are quiet (no static file left half-served)."""
    for page in context.pages:
        page.wait_for_load_state("networkidle")
    context.close()


def height(page) -> int:
    return page.evaluate("document.documentElement.scrollHeight")


def checked(page) -> dict[str, str]:
    return page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('input[type=radio]:checked')].map(i => [i.name, i.value]))"
    )


def tap_on_slider(page, slider, share: float) -> None:
    """Tap the slider's line where ``share`` (0..1) of the scale lies (the thumb's centre travels 22 px in)."""
    box = slider.bounding_box()
    page.touchscreen.tap(box["x"] + 22 + (box["width"] - 44) * share, box["y"] + box["height"] / 2)


def test_child_finishes_check4_in_under_30_seconds(browser, live, app):
    """The measurement of docs/questionnaire.md: open the link, read every visible word at 200 words a minute,
    tap a face per question, send; under 30 s, and the page at most 844 * 4/3 px high."""
    _url, links = live
    phone = browser.new_context(locale="nl-NL", **PHONE)
    member = phone.new_page()
    start = time.monotonic()
    member.goto(links[("C1", 2)])
    words = member.evaluate(VISIBLE_WORDS)
    opened = height(member)
    reading = words / WORDS_PER_MINUTE * 60
    member.wait_for_timeout(reading * 1000)
    for question, step in zip(member.locator("fieldset.question").all(), (4, 3, 4, 2), strict=True):
        question.locator(".step").nth(step).tap()
    answered = height(member)
    member.get_by_role("button", name="Mijn antwoorden versturen").tap()
    expect(member.get_by_role("heading", name="Dank je wel")).to_be_visible()
    total = time.monotonic() - start
    close(phone)
    measured = {
        "words": words,
        "reading_s": round(reading, 1),
        "total_s": round(total, 1),
        "scroll_height_px": opened,
        "scroll_height_answered_px": answered,
    }
    print(f"\ncheck4 child 390x844: {measured}")
    assert stored(app, "C1", "check4") == {"bond": 10, "goals_tasks": 8, "safety": 10, "shared_purpose": 5}
    assert total < 30
    assert opened <= MAX_HEIGHT and answered <= MAX_HEIGHT


def test_each_childs_step_stores_its_value(browser, live, app):
    """Tapping each face in turn keeps 0, 2, 5, 8, 10 (saved as the child goes), and sending stores them."""
    _url, links = live
    phone = browser.new_context(locale="en-GB", **PHONE)
    member = phone.new_page()
    member.goto(links[("C1", 2)])
    question = member.get_by_role("group", name=re.compile("listens"))
    names = ["not at all", "a little", "half", "a lot", "very much"]
    expect(question.get_by_role("radio")).to_have_count(5)
    for name, value in zip(names, (0, 2, 5, 8, 10), strict=True):
        question.get_by_role("radio", name=name, exact=True).tap()
        wait_for_draft(app, "C1", {"bond": value})
    for code, step in zip(CHECK4, (0, 1, 2, 3), strict=True):
        member.locator(f"#q-{code} .step").nth(step).tap()
    member.get_by_role("button", name="Send my answers").tap()
    expect(member.get_by_role("heading", name="Thank you")).to_be_visible()
    close(phone)
    assert stored(app, "C1", "check4") == {"bond": 0, "goals_tasks": 2, "safety": 5, "shared_purpose": 8}


def test_child_answers_with_the_keyboard(browser, live, app):
    """Arrow keys move along a question's faces (native radio buttons); the focused face is outlined."""
    _url, links = live
    context = browser.new_context(locale="en-GB", **TABLET)
    member = context.new_page()
    member.goto(links[("C1", 2)])
    member.locator("input[name=bond]").first.focus()
    member.keyboard.press("Space")
    member.keyboard.press("ArrowRight")
    member.keyboard.press("ArrowRight")
    step = member.locator("#q-bond .step").nth(2)
    assert step.evaluate("s => getComputedStyle(s).outlineStyle") == "solid"
    member.keyboard.press("Tab")
    member.keyboard.press("Space")
    member.keyboard.press("ArrowLeft")  # from the first step round to the last
    assert checked(member) == {"bond": "5", "goals_tasks": "10"}
    member.keyboard.press("Tab")
    member.keyboard.press("Tab")
    member.keyboard.press("Tab")
    expect(member.get_by_role("button", name="Send my answers")).to_be_focused()
    member.keyboard.press("Enter")
    expect(member.get_by_role("heading", name="Thank you")).to_be_visible()
    close(context)
    assert stored(app, "C1", "check4") == {"bond": 5, "goals_tasks": 10, "safety": None, "shared_purpose": None}


def test_adult_check4_slider_on_a_phone(browser, live, app):
    """0..10 in one row: a slider with a 44 px thumb, no thumb and no value until touched; touch and keys."""
    _url, links = live
    phone = browser.new_context(locale="en-GB", **PHONE)
    member = phone.new_page()
    member.goto(links[("M1", 2)])
    sliders = member.get_by_role("slider")
    expect(sliders).to_have_count(4)
    expect(member.get_by_role("radio")).to_have_count(0)  # the radio buttons are the form's, not shown
    assert height(member) <= MAX_HEIGHT
    print(f"\ncheck4 adult 390x844: scroll height {height(member)} px")
    first, second, third, fourth = sliders.all()
    for slider in (first, second, third, fourth):
        expect(slider).to_have_attribute("aria-valuetext", "not answered yet")
    assert first.bounding_box()["height"] >= 44
    assert member.locator("#q-bond .answers").evaluate("a => a.classList.contains('unanswered')")

    tap_on_slider(member, first, 0.3)
    expect(first).to_have_attribute("aria-valuetext", "3")
    tap_on_slider(member, first, 0)  # the left end: 0, which is not "unanswered"
    expect(first).to_have_attribute("aria-valuetext", "0, not at all")
    assert not member.locator("#q-bond .answers").evaluate("a => a.classList.contains('unanswered')")
    second.focus()
    member.keyboard.press("End")
    member.keyboard.press("ArrowLeft")
    expect(second).to_have_attribute("aria-valuetext", "9")
    third.focus()
    member.keyboard.press("Enter")  # an untouched slider takes the value it stands on: the middle
    expect(third).to_have_attribute("aria-valuetext", "5, half")
    assert checked(member) == {"bond": "0", "goals_tasks": "9", "safety": "5"}
    # The chosen number is shown under the line.
    expect(member.locator("#q-goals_tasks .step:has(input:checked) .value")).to_have_text("9")
    expect(member.get_by_role("status")).to_have_text("Saved. You can go on later with the same link.")
    wait_for_draft(app, "M1", {"bond": 0, "goals_tasks": 9, "safety": 5})
    assert height(member) <= MAX_HEIGHT
    member.get_by_role("button", name="Send my answers").tap()
    expect(member.get_by_role("heading", name="Thank you")).to_be_visible()
    close(phone)
    assert stored(app, "M1", "check4") == {"bond": 0, "goals_tasks": 9, "safety": 5, "shared_purpose": None}


def test_adult_check4_steps_on_a_tablet(browser, live, app):
    """Where eleven 44 px steps fit, they are the row: one tap each, no slider."""
    _url, links = live
    context = browser.new_context(locale="en-GB", **TABLET)
    member = context.new_page()
    member.goto(links[("M1", 2)])
    expect(member.get_by_role("slider")).to_have_count(0)
    question = member.get_by_role("group", name=re.compile("listens"))
    steps = question.locator(".step")
    boxes = [steps.nth(i).bounding_box() for i in range(11)]
    assert len({round(b["y"]) for b in boxes}) == 1 and all(b["width"] >= 44 and b["height"] >= 44 for b in boxes)
    assert [b["x"] for b in boxes] == sorted(b["x"] for b in boxes)
    question.get_by_role("radio", name="7", exact=True).tap()
    assert checked(member) == {"bond": "7"}
    close(context)


def test_alliance16_one_dimension_at_a_time(browser, live, app):
    """Four parts of four questions; Next and Previous move between them, the heading takes the focus;
    the send button is on the last part; every part passes axe and fits the phone's screen and a third."""
    _url, links = live
    phone = browser.new_context(locale="en-GB", **PHONE)
    member = phone.new_page()
    member.goto(links[("M1", 4)])
    heights = []
    titles = ["Trust", "Our goals", "Feeling safe", "Together as a family"]
    for number, title in enumerate(titles, start=1):
        heading = member.get_by_role("heading", name=f"Part {number} of 4: {title}")
        expect(heading).to_be_visible()
        questions = member.locator("fieldset.question:visible")
        expect(questions).to_have_count(4)
        heights.append(height(member))
        assert axe_violations(member) == []
        for question in questions.all():
            question.locator(".step").nth(number).tap()  # 2, 3, 4, 5
        if number < 4:
            expect(member.get_by_role("button", name="Send my answers")).to_be_hidden()
            member.get_by_role("button", name="Next").tap()
            expect(member.get_by_role("heading", name=re.compile(f"^Part {number + 1} of 4"))).to_be_focused()
    expect(member.get_by_role("button", name="Next")).to_be_hidden()
    member.get_by_role("button", name="Previous").tap()
    expect(member.get_by_role("heading", name="Part 3 of 4: Feeling safe")).to_be_focused()
    member.get_by_role("button", name="Next").tap()
    member.get_by_role("button", name="Send my answers").tap()
    expect(member.get_by_role("heading", name="Thank you")).to_be_visible()
    close(phone)
    print(f"\nalliance16 parts at 390x844: {heights} px")
    assert max(heights) <= MAX_HEIGHT
    assert stored(app, "M1", "alliance16") == {code: 2 + CODES.index(code) // 4 for code in CODES}


def test_without_javascript(browser, live, app):
    """No script: alliance16 shows all four parts and sends all sixteen answers; 0..10 stays one row."""
    _url, links = live
    phone = browser.new_context(locale="en-GB", java_script_enabled=False, **PHONE)
    member = phone.new_page()
    member.goto(links[("M1", 2)])
    steps = member.locator("#q-bond .step")
    assert len({round(steps.nth(i).bounding_box()["y"]) for i in range(11)}) == 1
    assert member.evaluate("document.documentElement.scrollWidth") <= 390
    member.goto(links[("M1", 4)])
    expect(member.locator("fieldset.question:visible")).to_have_count(16)
    for code in CODES:
        member.locator(f"#q-{code} .step").nth(2).tap()
    member.get_by_role("button", name="Send my answers").tap()
    expect(member.get_by_role("heading", name="Thank you")).to_be_visible()
    close(phone)
    assert stored(app, "M1", "alliance16") == dict.fromkeys(CODES, 3)


@pytest.mark.parametrize("device", ["phone", "tablet"])
def test_no_axe_violation_on_any_page_a_member_reaches(browser, live, app, device):
    """The link's form (a child's, an adult's check4, alliance16), its error, thanks and closed pages, an
    unknown link, and the tablet round's pages: no WCAG 2.2 A/AA violation on either device."""
    url, links = live
    options = PHONE if device == "phone" else TABLET
    context = browser.new_context(locale="nl-NL", **options)
    page = context.new_page()
    for key in (("C1", 2), ("M1", 2), ("M1", 4)):
        page.goto(links[key])
        assert axe_violations(page) == [], key
    page.goto(links[("C1", 2)])
    page.locator("#q-bond .step").nth(1).tap()
    expect(page.get_by_role("status")).not_to_be_empty()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Mijn antwoorden versturen").tap()
    expect(page.get_by_role("heading", name="Dank je wel")).to_be_visible()
    assert axe_violations(page) == []
    page.goto(links[("C1", 2)])
    expect(page.get_by_role("heading", name="Je antwoorden zijn binnen")).to_be_visible()
    assert axe_violations(page) == []
    page.goto(url + "/r/not-a-real-token")
    assert axe_violations(page) == []
    # The tablet round: names, a member's questions with an error, the end.
    page.goto(url + "/login")
    page.get_by_label("E-mailadres").fill("ann@example.org")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.goto(url + "/families/FAM-P/sessions/2")
    page.get_by_role("button", name="Een rondje starten op dit apparaat").click()
    expect(page.get_by_role("heading", name="Wie is er aan de beurt?")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Sandra").click()
    assert axe_violations(page) == []
    page.goto(url + "/round/")
    page.get_by_role("link", name="Het rondje beëindigen (therapeut)").click()
    expect(page.get_by_role("heading", name="Het rondje beëindigen")).to_be_visible()
    assert axe_violations(page) == []
    close(context)


@pytest.mark.parametrize(
    "viewport",
    [{"width": 320, "height": 640}, {"width": 410, "height": 590}, {"width": 640, "height": 400}],
    ids=["320px", "tablet-at-200pct", "desktop-at-200pct"],
)
def test_readable_at_200_percent_zoom(browser, live, viewport):
    """At 200% zoom a tablet shows 410 CSS px and a 1280 px screen 640; WCAG asks for 320. Nothing scrolls
    sideways, no question or label spills out of its box, every step and slider stays at least 44 px."""
    _url, links = live
    context = browser.new_context(locale="nl-NL", viewport=viewport, has_touch=True)
    page = context.new_page()
    for key in (("C1", 2), ("M1", 2), ("M1", 4)):
        page.goto(links[key])
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], key
        spilled = page.evaluate(
            """() => [...document.querySelectorAll('legend, .end, .step, .part h2')]
                 .filter(e => e.checkVisibility() && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""
        )
        assert spilled == [], key
        small = page.evaluate(
            """() => [...document.querySelectorAll('.answers:not(.as-slider) .step, .slider')]
                 .filter(e => e.checkVisibility())
                 .map(e => e.getBoundingClientRect()).filter(b => b.width < 44 || b.height < 44).length"""
        )
        assert small == 0, key
    close(context)


def test_tablet_round_shares_the_questions(browser, live, app):
    """In the round a child taps faces too (no draft saving there), and the answers are stored on sending."""
    url, _links = live
    context = browser.new_context(locale="en-GB", **TABLET)
    page = context.new_page()
    page.goto(url + "/login")
    page.get_by_label("Email").fill("ann@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(url + "/families/FAM-P/sessions/2")
    page.get_by_role("button", name="Start a round on this device").click()
    page.get_by_role("link", name="Daan").click()
    for code in CHECK4:
        page.locator(f"#q-{code} .step").nth(3).tap()
    page.get_by_role("button", name="Send my answers").tap()
    expect(page.get_by_role("status")).to_contain_text("Thank you, Daan. Please hand the device on.")
    close(context)
    assert stored(app, "C1", "check4") == dict.fromkeys(CHECK4, 8)
