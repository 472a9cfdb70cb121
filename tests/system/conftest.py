"""Fixtures of the system tier: one Chromium per test module for the browser tests."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from ..livebrowser import launch_chromium


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, driven by Playwright, shared by a module's tests."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()
