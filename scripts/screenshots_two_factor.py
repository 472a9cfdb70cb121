"""Screenshots of setting up two-factor sign-in: the QR code page and the recovery codes, phone and desktop, nl and en.

Usage: python scripts/screenshots_two_factor.py OUTPUT_DIR   (part of `make screenshots`)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import flask_migrate
import pyotp
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from familyalliance import create_app  # noqa: E402
from familyalliance.services import accounts  # noqa: E402
from familyalliance.store.db import db  # noqa: E402
from tests.livebrowser import launch_chromium, serve  # noqa: E402

PASSWORD = "paarse olifant op de fiets"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1200, "height": 800}}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/shots.sqlite",
                "SECRET_KEY": "screenshots",
                "TWO_FACTOR_ROLES": ["therapist", "team_lead", "admin"],
            }
        )
        with app.app_context():
            flask_migrate.upgrade()
            for lang in ("nl", "en"):
                for size in SIZES:
                    accounts.create_user(f"{lang}-{size}@example.org", PASSWORD, "therapist", "Demo team")
            db.session.commit()
        with serve(app) as url, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for lang in ("nl", "en"):
                for size, viewport in SIZES.items():
                    page = browser.new_page(viewport=viewport, locale=lang)
                    page.goto(f"{url}/login?lang={lang}")
                    page.locator("#email").fill(f"{lang}-{size}@example.org")
                    page.locator("#password").fill(PASSWORD)
                    page.locator("#submit").click()
                    page.wait_for_url("**/login/setup")
                    page.screenshot(path=out / f"two-factor-setup-{lang}-{size}.png", full_page=True)
                    secret = page.locator("[data-secret]").inner_text().replace(" ", "")
                    page.locator("#code").fill(pyotp.TOTP(secret).now())
                    page.locator("form .button").click()
                    page.wait_for_selector(".recovery-codes")
                    page.screenshot(path=out / f"two-factor-recovery-codes-{lang}-{size}.png", full_page=True)
                    page.close()
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
