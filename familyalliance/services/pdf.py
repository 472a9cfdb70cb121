"""HTML to PDF with WeasyPrint, fetching nothing but the app's own static files and ``data:`` URIs.

The session report's PDF is the report page itself, rendered for print: the same template, laid
out on A4 pages by the print stylesheet (``@page``, page breaks, running footer). WeasyPrint
does that layout in-process from HTML and CSS (no browser, no service); the charts come inline
as SVG ``data:`` URIs, so they stay vector graphics and sharp at any zoom.

Why a fetcher of our own: WeasyPrint's default fetcher follows any URL in the document, over
``http(s)``, ``ftp`` and ``file:``. The report holds text that users typed (names, notes), and a
PDF renderer that follows URLs turns a stray or crafted URL into a request from the server
(server-side request forgery) or a read of a local file (``file:///etc/passwd``) into a PDF.
:class:`StaticFetcher` serves exactly two kinds of URL: the app's static files under its static
URL, read from the static folder on disk (never through the network, never outside that folder),
and ``data:`` URIs. Everything else is refused; WeasyPrint then leaves that resource out.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import weasyprint
from flask import current_app
from weasyprint.urls import URLFetcher, URLFetcherResponse
from werkzeug.security import safe_join


class RefusedURL(ValueError):
    """A URL the PDF may not fetch: not one of the app's static files and not a ``data:`` URI."""


class StaticFetcher(URLFetcher):
    """Serve the app's static files from disk and ``data:`` URIs; refuse every other URL.

    ``base_url`` is the app's root URL (``request.url_root``); ``static_url_path`` the path of the
    static files below it (``/static``) and ``static_folder`` where they are on disk.
    """

    def __init__(self, base_url: str, static_folder: str | Path, static_url_path: str) -> None:
        # Only data: is ever handed to urllib (its DataHandler decodes it in memory); no redirects.
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self.static_prefix = urljoin(base_url, static_url_path.strip("/") + "/")
        self.static_folder = str(static_folder)

    def static_file(self, url: str) -> Path | None:
        """The file on disk behind a static URL, or None when the URL is not a static file of the app."""
        parts = urlsplit(url)
        prefix = urlsplit(self.static_prefix)
        if (parts.scheme, parts.netloc) != (prefix.scheme, prefix.netloc) or not parts.path.startswith(prefix.path):
            return None
        name = unquote(parts.path[len(prefix.path) :])
        joined = safe_join(self.static_folder, name) if name else None
        path = Path(joined) if joined else None
        return path if path is not None and path.is_file() else None

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if url[:5].lower() == "data:":
            return super().fetch(url, headers)
        path = self.static_file(url)
        if path is None:
            raise RefusedURL(f"not fetched for the PDF (only the app's static files and data: URIs are): {url}")
        mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime_type})


def fetcher(base_url: str) -> StaticFetcher:
    """The fetcher for the current app: its static folder, below ``base_url``."""
    return StaticFetcher(base_url, current_app.static_folder, current_app.static_url_path)


def html_to_pdf(html: str, base_url: str) -> bytes:
    """Lay out ``html`` (a page of the app, with ``base_url`` its root URL) as PDF pages, print media."""
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher(base_url), media_type="print")
    return document.write_pdf()
