"""Security headers on every response, with a strict Content-Security-Policy.

Everything the app needs comes from itself: its stylesheet, its two small scripts and
the Vega bundle (``vega``). No inline script and no inline style exist anywhere, so the
policy allows neither; the charts need no ``'unsafe-eval'`` because Vega runs its
expressions through its interpreter (``static/charts.js``). ``data:`` images are allowed
for Vega's SVG output.
"""

from __future__ import annotations

import logging
import re

from flask import Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Member links carry their token in the URL: never send it on.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
#: Over HTTPS, browsers are told to use nothing else for a year.
HSTS = "max-age=31536000; includeSubDomains"
#: Files that may be kept by the browser (versioned or public); every other answer holds personal data.
CACHEABLE_ENDPOINTS = frozenset({"static", "vega.bundle"})

#: A member link's token in a path: /r/<token> (and /r/<token>/draft).
_TOKEN_IN_PATH = re.compile(r"(/r/)[A-Za-z0-9_-]{16,}")


def redact(text: str) -> str:
    """``text`` with every member-link token replaced, for logs: a token in a log would open the link."""
    return _TOKEN_IN_PATH.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """A logging filter that takes member-link tokens out of messages (the access logs name paths)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def init_logging() -> None:
    """Keep member-link tokens out of the development server's log."""
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactTokens) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(RedactTokens())


def add_headers(response: Response) -> Response:
    """After every request: the security headers; ``no-store`` on everything that holds personal data."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint not in CACHEABLE_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response
