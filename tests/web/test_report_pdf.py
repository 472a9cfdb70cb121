"""The session report as a PDF: the report page laid out on A4 pages by WeasyPrint, fetching nothing from outside."""

from __future__ import annotations

import html
import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import demo, pdf
from familyalliance.store.db import db
from familyalliance.store.models import Family, TherapySession

from ..factories import commit, gen_family, gen_member, gen_session, gen_user

A4 = (595.28, 841.89)


@pytest.fixture
def lead(app, auth):
    """A team lead with the demo families, logged in."""
    with app.app_context():
        user = gen_user("team_lead", "Team A", "lead@example.org")
        codes = demo.load_demo(user, builtin_instruments())
        commit()
    auth.login("lead@example.org")
    return codes


def last_session(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(TherapySession.number)).join(Family).where(Family.code == code))


def prompts_of(page: str) -> list[str]:
    """The prompts the report page shows under "For the next session"."""
    section = re.search(r'<section[^>]*aria-labelledby="report-prompts">(.*?)</section>', page, re.S).group(1)
    return [html.unescape(re.sub(r"<[^>]+>", "", item)) for item in re.findall(r"<li>(.*?)</li>", section, re.S)]


def words(text: str) -> str:
    return " ".join(text.split())


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, words(" ".join(page.extract_text() for page in reader.pages))


def family_with_prompts(client, app, codes) -> tuple[str, int, list[str]]:
    """A demo family whose last session's report has prompts, with that session and the prompts."""
    for code in codes:
        number = last_session(app, code)
        shown = prompts_of(client.get(f"/families/{code}/sessions/{number}/report?lang=en").text)
        if shown and number > 2:
            return code, number, shown
    raise AssertionError("no demo family with prompts")


def test_the_pdf_is_the_report_on_a4_pages(client, lead, app):
    code, number, shown = family_with_prompts(client, app, lead)
    response = client.get(f"/families/{code}/sessions/{number}/report.pdf?lang=en")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f'attachment; filename="{code}-session-{number}.pdf"' == response.headers["Content-Disposition"]
    reader, text = pdf_text(response.data)
    assert len(reader.pages) >= 2
    for page in reader.pages:
        box = page.mediabox
        assert abs(float(box.width) - A4[0]) < 1 and abs(float(box.height) - A4[1]) < 1
    assert f"Family {code}, session {number}" in text and "Session report" in text
    assert "For the next session" in text
    assert any(words(prompt) in text for prompt in shown)
    # The charts are in it, as drawings with their own text (axis titles, legends), and their tables.
    assert "Score (0-100)" in text and "Members by sessions" in text
    # No page chrome: skip link, navigation and breadcrumb, language switch, log-out button, download button.
    for chrome in ("Skip to content", "Caseload", "Nederlands", "Log out", "Download PDF"):
        assert chrome not in text
    # The family code and session stand in the footer of every page, with the page number.
    pages = [words(page.extract_text()) for page in reader.pages]
    assert all(f"Family {code}, session {number}" in page for page in pages)
    assert all(f"{i} / {len(pages)}" in page for i, page in enumerate(pages, start=1))


def test_the_dutch_pdf_has_dutch_headings(client, lead, app):
    code = lead[0]
    number = last_session(app, code)
    _reader, text = pdf_text(client.get(f"/families/{code}/sessions/{number}/report.pdf?lang=nl").data)
    assert "Sessieverslag" in text and f"Gezin {code}, sessie {number}" in text
    assert "Voor de volgende sessie" in text and "Gezinsleden per sessie" in text
    assert "For the next session" not in text


def test_a_session_without_ratings_still_has_its_pdf(client, app, auth):
    with app.app_context():
        user = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("EMPTY-1", [user])
        gen_member(family, "M1", "mother")
        gen_session(family, 1)
        commit()
    auth.login("ann@example.org")
    response = client.get("/families/EMPTY-1/sessions/1/report.pdf?lang=en")
    assert response.status_code == 200
    reader, text = pdf_text(response.data)
    assert len(reader.pages) == 1 and "Family EMPTY-1, session 1" in text
    assert "No ratings up to this session yet." in text


def test_the_page_links_its_charts_and_the_print_stylesheet(client, lead, app):
    code = lead[0]
    number = last_session(app, code)
    page = client.get(f"/families/{code}/sessions/{number}/report?lang=en").text
    assert 'href="/static/print.css" media="print"' in page
    assert f'src="/families/{code}/sessions/{number}/report/lines.svg"' in page
    assert "data:image/svg+xml" not in page
    assert f'href="/families/{code}/sessions/{number}/report.pdf"' in page


def test_the_chart_route_knows_the_balance_and_gap_charts(app):
    urls = app.url_map.bind("localhost")
    for chart in ("lines", "heat", "views", "balance", "gap"):
        endpoint, values = urls.match(f"/families/F-1/sessions/2/report/{chart}.svg")
        assert endpoint == "families.session_report_chart" and values["chart"] == chart


# --- the fetcher: the app's static files and data: URIs, nothing else -----------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x.png",
        "https://example.com/static/app.css",
        "file:///etc/passwd",
        "ftp://localhost/static/app.css",
        "http://localhost/static/../pyproject.toml",
        "http://localhost/static/%2e%2e/pyproject.toml",
        "http://localhost/static/",
        "http://localhost/static/missing.css",
        "http://localhost/families/",
        "http://localhost:8080/static/app.css",
    ],
)
def test_the_fetcher_refuses_anything_but_static_files(app, url):
    with app.test_request_context():
        fetcher = pdf.fetcher("http://localhost/")
        with pytest.raises(pdf.RefusedURL):
            fetcher.fetch(url)


def test_the_fetcher_serves_static_files_from_disk_and_data_uris(app):
    with app.test_request_context():
        fetcher = pdf.fetcher("http://localhost/")
        css = fetcher.fetch("http://localhost/static/print.css")
        assert css.content_type == "text/css" and b"@page" in css.read()
        data = fetcher.fetch("data:image/svg+xml;base64,PHN2Zy8+")
        assert data.read() == b"<svg/>"


def test_a_pdf_leaves_out_what_it_may_not_fetch(app, caplog):
    page = (
        '<html><head><link rel="stylesheet" href="http://example.com/evil.css"></head><body>'
        '<p>Report</p><img src="file:///etc/passwd"><img src="http://example.com/x.png"></body></html>'
    )
    with app.test_request_context():
        data = pdf.html_to_pdf(page, "http://localhost/")
    _reader, text = pdf_text(data)
    assert "Report" in text and "root:" not in text
    refused = [r.getMessage() for r in caplog.records if "RefusedURL" in r.getMessage()]
    assert len(refused) == 3
