"""Serve an app on loopback in a thread and drive Debian's Chromium with Playwright.

Used by the browser tests and by ``scripts/screenshots.py``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def launch_chromium(playwright):
    """Start Debian's Chromium headless (a test tool's own browser download fails here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def axe_violations(page) -> list[str]:
    """Run axe-core for WCAG 2.2 A and AA on the page; return one line per violating node."""
    from axe_playwright_python.sync_playwright import Axe

    # The page's stylesheet must have loaded: under load axe could read a page laid out without it.
    page.wait_for_load_state("load")
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}"
        for v in results.response["violations"]
        for node in v["nodes"]
    ]


def watch(page) -> list[str]:
    """Record the page's console errors and warnings, script errors and any request off this machine."""
    from urllib.parse import urlsplit

    problems: list[str] = []
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "request",
        lambda r: urlsplit(r.url).hostname not in ("127.0.0.1", None) and problems.append(f"request: {r.url}"),
    )
    return problems
