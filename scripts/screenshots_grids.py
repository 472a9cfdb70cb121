"""Screenshots of the session grids on a tablet (820 x 1180), in Debian's Chromium, from a fresh demo database.

Usage: python scripts/screenshots_grids.py [OUTPUT_DIR]   (default docs/screenshots)

Makes grid-observer4-nl-tablet.png (the therapist's view in Dutch, with a value off the scale typed in one
cell, as the page marks it before sending), grid-check4-nl-tablet.png (paper forms of the quick check typed
in), grid-observer4-en-tablet.png (the therapist's view in English), and the session's printable paper forms
as PNG pages (paper-form-<nl|en>-<page>.png, the PDF rendered by pdftoppm at 60 dpi).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import flask_migrate
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from familyalliance import create_app  # noqa: E402
from familyalliance.core.instruments import builtin_instruments  # noqa: E402
from familyalliance.services import accounts, casework, demo  # noqa: E402
from familyalliance.store.db import db  # noqa: E402
from familyalliance.store.models import Family  # noqa: E402
from tests.livebrowser import launch_chromium, serve  # noqa: E402

EMAIL, PASSWORD = "demo@example.org", "paarse olifant op de fiets"
TABLET = {"width": 820, "height": 1180}


def main(out: Path) -> None:
    """Build a demo database with a fresh session for the first family, serve it, and save the grids."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/grids.sqlite",
                "SECRET_KEY": "screenshots",
                "TWO_FACTOR_ROLES": [],  # the grids, not the second factor's setup
            }
        )
        with app.app_context():
            flask_migrate.upgrade()
            owner = accounts.create_user(EMAIL, PASSWORD, "team_lead", "Demo team")
            codes = demo.load_demo(owner, builtin_instruments())
            family = db.session.scalar(sa.select(Family).where(Family.code == codes[0]))
            number = max(s.number for s in family.sessions) + 1
            casework.record_session(family, number, family.sessions[-1].date, [m.id for m in family.members])
            db.session.commit()
            session_url = f"/families/{family.code}/sessions/{number}"
        with serve(app) as url, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for lang in ("nl", "en"):
                page = browser.new_page(viewport=TABLET, locale=lang, has_touch=True)
                page.goto(f"{url}/login?lang={lang}")
                page.locator("#email").fill(EMAIL)
                page.locator("#password").fill(PASSWORD)
                page.locator("#submit").click()
                page.wait_for_url("**/families/")
                page.goto(f"{url}{session_url}/grid/observer4?lang={lang}")
                cells = page.locator("table.grid input[type=number]")
                for i, value in enumerate(["2", "1", "0", "3", "1", "-1"]):
                    cells.nth(i).fill(value)
                if lang == "nl":
                    # A value off the scale, typed: the page marks it before anything is sent.
                    cells.nth(6).tap()
                    page.keyboard.type("5")
                    page.wait_for_selector("input[aria-invalid=true]")
                page.screenshot(path=out / f"grid-observer4-{lang}-tablet.png", full_page=True)
                if lang == "nl":
                    page.goto(f"{url}{session_url}/grid/check4?lang=nl")
                    cells = page.locator("table.grid input[type=number]")
                    for i, value in enumerate(["8", "7", "9", "6"]):
                        cells.nth(i).fill(value)
                    page.screenshot(path=out / "grid-check4-nl-tablet.png", full_page=True)
                paper = page.request.get(f"{url}{session_url}/paper.pdf?lang={lang}")
                _pdf_pages(paper.body(), out, f"paper-form-{lang}")
                page.close()
            browser.close()


def _pdf_pages(body: bytes, out: Path, stem: str) -> None:
    """A PDF's pages as ``<stem>-<n>.png`` (earlier pages of that stem removed first)."""
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "forms.pdf"
        pdf.write_bytes(body)
        subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(Path(tmp) / "page")], check=True)
        for old in out.glob(f"{stem}-*.png"):
            old.unlink()
        for number, png in enumerate(sorted(Path(tmp).glob("page-*.png")), start=1):
            shutil.copy(png, out / f"{stem}-{number}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
