"""Take the README's screenshots in Debian's Chromium, from a fresh demo database.

Usage: python scripts/screenshots.py OUTPUT_DIR [--only=profile]   (or `make screenshots`)

``--only=profile`` takes only the alliance profile's and the expected band's pictures.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import flask_migrate
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from familyalliance import create_app
from familyalliance.core import analytics
from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import accounts, casework, demo, followups, requests
from familyalliance.store import queries
from familyalliance.store.db import db
from familyalliance.store.models import Family
from tests.livebrowser import launch_chromium, serve  # noqa: E402

EMAIL, PASSWORD = "demo@example.org", "paarse olifant op de fiets"
ADMIN = "admin@example.org"


def log_in(page, url: str, lang: str, email: str, shot: Path | None = None) -> None:
    """Log in through the form (taking a picture of it first when ``shot`` names a file)."""
    page.goto(f"{url}/login?lang={lang}")
    if shot:
        page.screenshot(path=shot)
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#submit").click()


def main(out: Path, only: str | None = None) -> None:
    """Build a demo database, serve it, and save PNGs of the main pages in English and Dutch."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/shots.sqlite",
                "SECRET_KEY": "screenshots",
                "TWO_FACTOR_ROLES": [],  # the pages, not the second factor's setup
            }
        )
        with app.app_context():
            flask_migrate.upgrade()
            owner = accounts.create_user(EMAIL, PASSWORD, "team_lead", "Demo team")
            accounts.create_user(ADMIN, PASSWORD, "admin")
            accounts.create_user("therapist@example.org", PASSWORD, "therapist", "Demo team")
            codes = demo.load_demo(owner, builtin_instruments())
            db.session.commit()
            # A fresh session of the first family, with links for its members.
            family = db.session.scalar(sa.select(Family).where(Family.code == codes[0]))
            number = max(s.number for s in family.sessions) + 1
            session = casework.record_session(family, number, family.sessions[-1].date, [m.id for m in family.members])
            made = requests.make_links(session)
            # Requests in several states for the session page: the mother answered by link, the youth in the
            # round (moderate answers, so the dashboard stays true to life); the child and the father still open.
            instruments = builtin_instruments()
            for request, _token in made:
                mode = {"mother": "link", "youth": "round"}.get(request.member.role)
                if mode:
                    instrument = instruments[request.instrument]
                    middle = (instrument.scale_min + instrument.scale_max * 2) // 3
                    requests.submit(request, {item.code: str(middle) for item in instrument.items}, instruments, mode)
            for member in family.members:
                member.email = f"{member.code.lower()}@example.org"
            db.session.commit()
            states_url = f"/families/{family.code}/sessions/{number}"
            _sized_families(owner)
            _clinic(owner)
        with serve(app) as url, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            _expected_and_profile_shots(browser, url, out)
            for lang in ("en", "nl") if only is None else ():
                page = browser.new_page(viewport={"width": 1200, "height": 800}, locale=lang)
                log_in(page, url, lang, EMAIL, shot=out / f"login-{lang}.png")
                page.wait_for_url("**/families/")
                page.screenshot(path=out / f"caseload-{lang}.png", full_page=True)
                page.goto(f"{url}/families/{codes[0]}")
                page.wait_for_function(
                    "[...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true')"
                )
                page.screenshot(path=out / f"family-{lang}.png", full_page=True)
                page.goto(f"{url}/families/{codes[1]}/sessions/6/report")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=out / f"report-{lang}.png", full_page=True)
                page.goto(f"{url}/exports/")
                page.screenshot(path=out / f"export-{lang}.png", full_page=True)
                page.goto(f"{url}/admin/users")
                page.screenshot(path=out / f"team-{lang}.png", full_page=True)
                page.goto(f"{url}{states_url}")
                page.screenshot(path=out / f"session-states-{lang}.png", full_page=True)
                page.get_by_role(
                    "button",
                    name={"en": "Start a round on this device", "nl": "Een rondje starten op dit apparaat"}[lang],
                ).click()
                page.wait_for_url("**/round/")
                page.screenshot(path=out / f"round-done-{lang}.png", full_page=True)
                page.goto(f"{url}/round/leave")
                page.locator("#password").fill(PASSWORD)
                page.locator("form button").click()
                page.close()
                admin = browser.new_page(viewport={"width": 1200, "height": 800}, locale=lang)
                log_in(admin, url, lang, ADMIN)
                admin.wait_for_url("**/admin/users")
                admin.screenshot(path=out / f"accounts-{lang}.png", full_page=True)
                admin.goto(f"{url}/admin/audit")
                admin.screenshot(path=out / f"audit-{lang}.png", full_page=True)
                admin.close()
            # The member's questionnaire on a phone and a tablet: scripts/screenshots_questionnaire.py.
            if only is None:
                _email_as_received(browser, app, url, states_url, out)
                _alliance_shots(browser, url, out)
            browser.close()
        with app.app_context():
            db.engine.dispose()
    print(f"Screenshots written to {out}")


#: The family page's charts at these numbers of sessions, on a phone and a tablet, in Dutch.
SIZES = (1, 2, 3, 40)
DEVICES = {"phone": {"width": 390, "height": 844}, "tablet": {"width": 820, "height": 1180}}


def _sized_families(owner) -> None:
    """Families SIZE-01 .. SIZE-40; the youth's safety rupture of SIZE-40 followed up by the therapist."""
    instruments = builtin_instruments()
    for sessions in SIZES:
        demo.load_family(demo.sized_family(sessions), f"SIZE-{sessions:02d}", owner, instruments, dt.date.today())
    db.session.commit()
    family = db.session.scalar(sa.select(Family).where(Family.code == "SIZE-40"))
    breaks = queries.analysis([family.id], analytics.DEFAULTS).ruptures
    noor = breaks[(breaks["member"] == "Y1") & (breaks["dimension"] == "safety") & (breaks["informant"] == "self")]
    rupture = noor.iloc[-1]
    member = next(m for m in family.members if m.code == "Y1")
    session = next(s for s in family.sessions if s.number == rupture["session"])
    followups.save(
        family,
        member,
        session,
        "self",
        "therapist",
        "safety",
        session.date,
        "Met Noor apart gesproken: thuis is het onrustig. Met de aandachtsfunctionaris overlegd.",
        owner,
    )
    db.session.commit()


def _alliance_shots(browser, url: str, out: Path) -> None:
    """The family page at 1, 2, 3 and 40 sessions on a phone and a tablet, the followed-up rupture and the
    safety signal on a desktop, and the printed session report's pages (its PDF rendered by pdftoppm)."""
    for device, viewport in DEVICES.items():
        page = browser.new_page(viewport=viewport, locale="nl", is_mobile=device == "phone")
        log_in(page, url, "nl", EMAIL)
        page.wait_for_url("**/families/")
        for sessions in SIZES:
            page.goto(f"{url}/families/SIZE-{sessions:02d}")
            page.wait_for_function("[...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true')")
            page.screenshot(path=out / f"charts-{sessions}-{device}-nl.png", full_page=True)
        page.close()
    page = browser.new_page(viewport={"width": 1200, "height": 800}, locale="nl")
    log_in(page, url, "nl", EMAIL)
    page.wait_for_url("**/families/")
    page.goto(f"{url}/families/SIZE-40")
    page.wait_for_function("[...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true')")
    page.locator(".safety-signal").screenshot(path=out / "safety-signal-nl.png")
    page.locator("#ruptures").screenshot(path=out / "ruptures-nl.png")
    report = page.request.get(f"{url}/families/SIZE-40/sessions/40/report.pdf")
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "report.pdf"
        pdf.write_bytes(report.body())
        subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(Path(tmp) / "page")], check=True)
        for old in out.glob("report-page-*-nl.png"):
            old.unlink()
        for number, png in enumerate(sorted(Path(tmp).glob("page-*.png")), start=1):
            shutil.copy(png, out / f"report-page-{number}-nl.png")
    page.close()


def _email_as_received(browser, app, url: str, states_url: str, out: Path) -> None:
    """Send the session's links by e-mail to a local SMTP server and picture the Dutch message as received."""
    from aiosmtpd.controller import Controller  # noqa: PLC0415

    from tests.support_mail import Collector, MailServer, free_port  # noqa: PLC0415

    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config.update(MailServer("127.0.0.1", port, handler, controller).settings())
        page = browser.new_page(viewport={"width": 1200, "height": 800}, locale="nl")
        log_in(page, url, "nl", EMAIL)
        page.wait_for_url("**/families/")
        page.goto(f"{url}{states_url}")
        page.get_by_role("button", name="Links per e-mail versturen").click()
        page.close()
        received = next(r for r in handler.received if "Een paar korte vragen" in str(r.message["Subject"]))
        html = received.message.get_body(preferencelist=("html",)).get_content()
        envelope = (
            f"<p style='font:14px sans-serif;color:#444'>Van: {received.message['From']}<br>"
            f"Aan: {received.message['To']}<br>Onderwerp: <b>{received.message['Subject']}</b></p><hr>"
        )
        mail_page = browser.new_page(viewport={"width": 600, "height": 700})
        mail_page.set_content(envelope + html)
        mail_page.screenshot(path=out / "email-invitation-nl.png", full_page=True)
        mail_page.close()
    finally:
        controller.stop()


#: The clinic whose own families teach the expected trajectory (metrics.md section 10): 14 families of three.
CLINIC_FAMILIES, CLINIC_SESSIONS = 14, 8
THERAPIST = "therapist@example.org"


def _clinic(owner) -> None:
    """Families EXP-01 .. EXP-14 of the demo team's therapist, rated every two weeks up to last week: at least 30
    own total points per session number, so the expected band shows. EXP-01's father falls away at the end."""
    import csv  # noqa: PLC0415
    import random  # noqa: PLC0415

    from familyalliance.services import importer, profiles, trajectories  # noqa: PLC0415
    from familyalliance.store.models import Team, User  # noqa: PLC0415

    rng = random.Random(20)
    therapist = db.session.scalar(sa.select(User).where(User.email == THERAPIST))
    team = db.session.scalar(sa.select(Team).where(Team.id == owner.team_id))
    first = dt.date.today() - dt.timedelta(days=14 * CLINIC_SESSIONS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clinic.csv"
        with path.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(
                ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"]
            )
            for number in range(1, CLINIC_FAMILIES + 1):
                code = f"EXP-{number:02d}"
                members = [
                    ("M1", "mother", rng.uniform(5, 9)),
                    ("F1", "father", rng.uniform(4, 9)),
                    ("Y1", "youth", rng.uniform(3, 8)),
                ]
                for session in range(1, CLINIC_SESSIONS + 1):
                    date = first + dt.timedelta(days=14 * (session - 1))
                    for member, role, level in members:
                        falling = number == 1 and member == "F1" and session > CLINIC_SESSIONS - 2
                        centre = 1.5 if falling else min(10, level + 0.15 * session)
                        for item in ("bond", "goals_tasks", "safety", "shared_purpose"):
                            value = max(0, min(10, round(rng.gauss(centre, 0.6))))
                            out.writerow(
                                [code, member, role, session, date, "self", "therapist", "check4", item, value]
                            )
                        if rng.random() < 0.5:
                            for item in ("bond", "goals_tasks", "safety", "shared_purpose"):
                                value = max(-3, min(3, round(rng.gauss(centre * 0.6 - 3 + 0.5, 1.0))))
                                out.writerow(
                                    [
                                        code,
                                        member,
                                        role,
                                        session,
                                        date,
                                        "therapist",
                                        "therapist",
                                        "observer4",
                                        item,
                                        value,
                                    ]
                                )
        importer.import_long_csv(path, builtin_instruments(), team=team, therapists=[therapist])
    trajectories.refresh(force=True)
    profiles.add_note(therapist, therapist, "Vaders haken bij mij vaker af dan moeders? Bespreken in supervisie.")
    profiles.add_note(therapist, owner, "Goed gezien. Laten we EXP-01 samen bekijken: wat gebeurde er in sessie 6?")
    db.session.commit()


def _expected_and_profile_shots(browser, url: str, out: Path) -> None:
    """The family page with the expected band (desktop and phone) and the alliance profile, in English and Dutch."""
    for lang in ("en", "nl"):
        page = browser.new_page(viewport={"width": 1200, "height": 800}, locale=lang)
        log_in(page, url, lang, THERAPIST)
        page.wait_for_url("**/families/")
        page.goto(f"{url}/families/EXP-01")
        page.wait_for_function("[...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true')")
        page.locator("#chart-lines").evaluate("c => c.closest('figure').scrollIntoView()")
        page.locator("#chart-lines").locator("xpath=ancestor::figure").screenshot(
            path=out / f"dashboard-expected-{lang}.png"
        )
        page.goto(f"{url}/profile/")
        page.wait_for_function("[...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true')")
        page.screenshot(path=out / f"profile-{lang}.png", full_page=True)
        page.close()
    phone = browser.new_page(viewport=DEVICES["phone"], locale="nl", is_mobile=True)
    log_in(phone, url, "nl", THERAPIST)
    phone.wait_for_url("**/families/")
    phone.goto(f"{url}/families/EXP-01")
    phone.wait_for_function("[...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true')")
    phone.locator("#chart-lines").locator("xpath=ancestor::figure").screenshot(
        path=out / "dashboard-expected-phone-nl.png"
    )
    phone.close()
    lead = browser.new_page(viewport={"width": 1200, "height": 800}, locale="en")
    log_in(lead, url, "en", EMAIL)
    lead.wait_for_url("**/families/")
    lead.goto(f"{url}/profile/")
    lead.screenshot(path=out / "profiles-team-en.png", full_page=True)
    lead.close()


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if not a.startswith("--only")]
    chosen = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--only=")), None)
    main(Path(arguments[0] if arguments else "docs/screenshots"), chosen)
