"""Take the member questionnaire's screenshots in Debian's Chromium, from a fresh temporary database.

check4 for a child and for an adult, and the first part of alliance16 for an adult, in Dutch and English,
on a phone (390x844) and a tablet (820x1180). Each picture shows the first question answered and the
others still open, so both states can be seen:
docs/screenshots/questionnaire-<child|adult>-<instrument>-<nl|en>-<phone|tablet>.png

Usage: python scripts/screenshots_questionnaire.py [OUTPUT_DIR]   (default docs/screenshots)
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import flask_migrate
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from familyalliance import create_app  # noqa: E402
from familyalliance.services import accounts, casework, requests  # noqa: E402
from familyalliance.store.db import db  # noqa: E402
from tests.livebrowser import launch_chromium, serve  # noqa: E402

DEVICES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "tablet": {"viewport": {"width": 820, "height": 1180}, "is_mobile": True, "has_touch": True},
}
#: (who, instrument, role of the member, session number: check4 for both members at 2, alliance16 for the mother at 4).
FORMS = (("child", "check4", "child", 2), ("adult", "check4", "mother", 2), ("adult", "alliance16", "mother", 4))


def make_links(app, families: list[str]) -> dict[tuple[str, str, int], str]:
    """Families with a mother and a child, sessions 2 and 4 with both present; (family, role, session) -> token.

    One family for each picture, so that every picture starts from an unanswered form."""
    with app.app_context():
        flask_migrate.upgrade()
        therapist = accounts.create_user("therapist@example.org", "paarse olifant op de fiets", "therapist", "Team")
        tokens = {}
        for code in families:
            family = casework.create_family(code, dt.date(2026, 1, 5), [therapist], therapist.team)
            members = [
                casework.add_member(family, code="M1", display_name="Sandra", role="mother", birth_year=1984),
                casework.add_member(family, code="C1", display_name="Daan", role="child", birth_year=2016),
            ]
            for number, instrument in ((2, "check4"), (4, "alliance16")):
                date = family.start_date + dt.timedelta(weeks=number)
                session = casework.record_session(family, number, date, [m.id for m in members])
                for attendance in session.attendance:  # the mother's questionnaire, whatever the plan says
                    if attendance.member.role == "mother":
                        attendance.instrument = instrument
                made = requests.make_links(session)
                tokens |= {(code, request.member.role, number): token for request, token in made}
        db.session.commit()
        return tokens


def answer_first(page, who: str) -> None:
    """Answer the first question: a child taps the fourth face, an adult 7 of 0..10 (on the slider where it is
    shown) or 4 of 1..5."""
    first = page.locator("fieldset.question").first
    if who == "child":
        first.locator(".step").nth(3).tap()
        return
    slider = first.locator("input.slider")
    if slider.is_visible():
        box = slider.bounding_box()
        page.touchscreen.tap(box["x"] + 22 + (box["width"] - 44) * 0.7, box["y"] + box["height"] / 2)
    else:
        steps = first.locator(".step")
        steps.nth(3 if steps.count() == 5 else 7).tap()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/shots.sqlite", "SECRET_KEY": "screenshots"})
        shots = [(device, lang, form) for device in DEVICES for lang in ("nl", "en") for form in FORMS]
        tokens = make_links(app, [f"SHOT-{number}" for number in range(len(shots))])
        with serve(app) as url, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for number, (device, lang, (who, instrument, role, session)) in enumerate(shots):
                context = browser.new_context(locale=lang, **DEVICES[device])
                page = context.new_page()
                page.goto(f"{url}/r/{tokens[(f'SHOT-{number}', role, session)]}?lang={lang}")
                page.wait_for_load_state("networkidle")
                answer_first(page, who)
                page.locator("#draft-status:not(:empty)").wait_for()
                page.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
                name = f"questionnaire-{who}-{instrument}-{lang}-{device}.png"
                page.screenshot(path=out / name, full_page=True)
                print(name, page.evaluate("document.documentElement.scrollHeight"), "px high")
                context.close()
            browser.close()
        with app.app_context():
            db.engine.dispose()
    print(f"Screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
