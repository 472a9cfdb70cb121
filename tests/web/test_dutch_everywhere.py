"""No raw code and no English on a Dutch page: every page a user can reach, crawled in Dutch.

Each role logs in (therapist, team lead, admin, researcher) and visits, with ``?lang=nl``, every
GET page of the URL map (values as in ``test_routes``) and every page those pages link to: all
demo families, their sessions, the grids of each questionnaire, the session reports (page, PDF and
charts), the follow-up of a rupture, the caseload's filters. A member opens their link, and the
therapist runs a round on the tablet. On each page the *visible* text (text outside ``<script>`` and
``<style>``, plus ``title``, ``alt``, ``aria-label``, ``placeholder`` and button values) must hold

- no raw code of ``metrics.md`` as a whole word (``RAW_CODES``: the codes that are not also Dutch
  words), and
- no English message of the catalog whose Dutch translation differs (an untranslated text).

Error pages (an invalid grid value, a refused form, a page that does not exist) are checked the
same way, and the catalog itself is 100% translated.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from pypdf import PdfReader

from familyalliance.core import vocab
from familyalliance.core.instruments import builtin_instruments
from familyalliance.store.db import db
from familyalliance.store.models import Member

from .test_routes import EMAILS, url_values

pytestmark = pytest.mark.scenario("demo")

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "familyalliance/translations/nl/LC_MESSAGES/messages.po"

# --- What may not appear ---------------------------------------------------------------------

#: The raw codes of metrics.md that a Dutch page must never show. Left out on purpose, because
#: Dutch uses the same word: ``team`` (target), ``link`` and ``import`` (modes), ``open`` (a
#: request's and a rupture's state), ``mild`` (split level), ``split``, ``gap``, ``min``, ``max``,
#: ``range``, ``n``, ``sd``, ``rwg`` and ``pomp`` (POMP is the scale's name in both languages).
RAW_CODES = frozenset(
    {
        # section 1: the dimensions, and section 2: the instruments and their items
        *vocab.DIMENSIONS,
        *builtin_instruments(),
        *(item for instrument in builtin_instruments().values() for item in instrument.item_codes),
        # section 3: roles, informants, modes
        *vocab.ROLES,
        "self",
        "therapist",
        "round",
        "paper",
        "grid",
        # sections 4 to 7: columns and values
        "total",
        "balance",
        "moderate",
        "severe",
        "none",
        "repaired",
        "unrepaired",
        "split_level",
        "range_pomp",
        "lowest_member",
        "caregiver_mean_pomp",
        "young_mean_pomp",
        "youth_caregiver_gap",
        "previous_instrument",
        "repaired_session",
        "drop_pomp",
        "self_pomp",
        "therapist_pomp",
        *(f"{d}_pomp" for d in (*vocab.DIMENSIONS, "total")),
        # the app's own codes: accounts, family statuses, request states
        "team_lead",
        "researcher",
        "admin",
        "active",
        "paused",
        "closed",
        "in_progress",
        "answered",
        "expired",
        "withdrawn",
    }
)
RAW_CODE = re.compile(
    r"(?<![\w.-])(" + "|".join(sorted(map(re.escape, RAW_CODES), key=len, reverse=True)) + r")(?![\w-]|\.\w)"
)
#: E-mail addresses and web addresses are the user's own words (``admin@example.org``), not the app's.
NOT_WORDS = re.compile(r"\S+@\S+|https?://\S+|/\S*")


def untranslated_messages() -> dict[str, str]:
    """English message -> its Dutch translation, for every message whose Dutch differs."""
    with CATALOG.open("rb") as f:
        catalog = read_po(f)
    found = {}
    for message in catalog:
        if not message.id:
            continue
        english = message.id[0] if isinstance(message.id, tuple) else message.id
        dutch = message.string[0] if isinstance(message.string, tuple) else message.string
        if dutch and dutch != english:
            found[english] = dutch
    return found


class English:
    """Finds English catalog messages in a page's visible text.

    A message without placeholders is found when a piece of text is exactly it (one text node or
    attribute), and, when it is a sentence of three words or more, anywhere in the page's text. A
    message with placeholders is found by its fixed words around the placeholders (at least two words).
    """

    PLACEHOLDER = re.compile(r"%\(\w+\)[sdgf]|%[sdgf]")

    def __init__(self):
        messages = untranslated_messages()
        self.whole = {" ".join(m.split()) for m in messages if not self.PLACEHOLDER.search(m)}
        self.sentences = [m for m in self.whole if len(m.split()) >= 3]
        self.patterns = []
        for message in messages:
            if not self.PLACEHOLDER.search(message):
                continue
            parts = [" ".join(p.split()) for p in self.PLACEHOLDER.split(message)]
            if sum(len(p.split()) for p in parts) < 2:
                continue
            self.patterns.append(
                (message, re.compile(r".{1,200}?".join(re.escape(p) for p in parts).replace(r"\ ", r"\s+")))
            )

    def find(self, pieces: list[str]) -> list[str]:
        text = " ".join(pieces)
        found = {piece for piece in pieces if piece in self.whole}
        found |= {m for m in self.sentences if m in text}
        found |= {m for m, pattern in self.patterns if pattern.search(text)}
        return sorted(found)


class Visible(HTMLParser):
    """The text a user sees or hears on a page, and the pages it links to.

    Text in ``<code>`` is a file's or a command's own words (the import's column names), the same in
    every language: it is left out.
    """

    HIDDEN = {"script", "style", "template", "code"}
    SPOKEN = ("title", "alt", "aria-label", "placeholder")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.pieces: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.HIDDEN:
            self.hidden += 1
        for name in self.SPOKEN:
            if attrs.get(name):
                self.pieces.append(" ".join(attrs[name].split()))
        if tag == "input" and attrs.get("type") in ("submit", "button", "reset") and attrs.get("value"):
            self.pieces.append(attrs["value"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("img", "object") and (attrs.get("src") or attrs.get("data")):
            self.links.append(attrs.get("src") or attrs["data"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.pieces.append(" ".join(data.split()))


def visible(response) -> tuple[list[str], list[str]]:
    """The visible pieces of text of a response (HTML, SVG or PDF), and the links of an HTML page."""
    kind = response.mimetype
    if kind == "application/pdf":
        reader = PdfReader(io.BytesIO(response.data))
        return [" ".join(page.extract_text().split()) for page in reader.pages], []
    if kind not in ("text/html", "image/svg+xml"):
        return [], []
    parser = Visible()
    parser.feed(response.get_data(as_text=True))
    return parser.pieces, parser.links


def problems(pieces: list[str], english: English) -> list[str]:
    """What a Dutch page may not show: raw codes (with the text around them) and English messages."""
    found = []
    for piece in pieces:
        text = NOT_WORDS.sub(" ", piece)
        for match in RAW_CODE.finditer(text):
            found.append(f"raw code {match.group(1)!r} in {piece[:160]!r}")
    found += [f"English: {message!r}" for message in english.find(pieces)]
    return found


# --- The crawl -------------------------------------------------------------------------------

#: Endpoints not crawled: files without words (static, the Vega bundle), leaving (log out), and pages
#: answered for the round and the member link below, which take their own browser.
NOT_CRAWLED = {"static", "vega.bundle", "auth.logout", "health.healthz"}
#: The FHIR API answers machines in FHIR JSON, not pages (its OperationOutcomes are in English, as FHIR's codes are).
NOT_CRAWLED |= {"fhir.metadata", "fhir.search", "fhir.read", "fhir.import_bundle", "fhir.unknown"}
ROUND = {"ratings.round_pick", "ratings.round_answer", "ratings.round_leave"}
#: How many pages of one kind (endpoint, family, and the arguments that change its words) are visited per role.
PER_KIND = 2
#: The arguments that make one kind of page (the others pick a session or a member).
WORDING_ARGS = ("code", "instrument_code", "chart", "informant", "target", "dimension")
#: Pages slow to make (PDFs and chart images, laid out by WeasyPrint and Vega): one of each kind per role,
#: whatever the family.
SLOW = {"families.session_report_pdf", "families.session_report_chart", "families.paper_forms"}


class Crawl:
    """Visit pages in Dutch from a start list, following the links of each page, and collect what is wrong."""

    def __init__(self, app, client, english: English):
        self.app = app
        self.client = client
        self.english = english
        self.seen: set[str] = set()
        self.kinds: Counter = Counter()
        self.visited: dict[str, int] = {}
        self.wrong: dict[str, list[str]] = {}

    def kind(self, url: str) -> tuple | None:
        """The endpoint and wording of a URL of the app, or None for what is not crawled."""
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return None
        try:
            endpoint, args = self.app.url_map.bind("localhost").match(parts.path, method="GET")
        except Exception:
            return None
        if endpoint in NOT_CRAWLED or endpoint in ROUND or endpoint.startswith("questionnaire."):
            return None
        query = tuple(sorted(k for k, _ in parse_qsl(parts.query) if k != "lang"))
        wording = tuple("" if endpoint in SLOW and a == "code" else str(args.get(a)) for a in WORDING_ARGS)
        return (endpoint, wording, query)

    def limit(self, kind: tuple) -> int:
        return 1 if kind[0] in SLOW else PER_KIND

    @staticmethod
    def dutch(url: str) -> str:
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
        return parts.path + "?" + urlencode([*query, ("lang", "nl")])

    def check(self, url: str, response) -> list[str]:
        """Check one response's visible text; return its links."""
        pieces, links = visible(response)
        found = problems(pieces, self.english)
        if found:
            self.wrong[url] = found
        return links

    def run(self, start: list[str], limit: int = 600) -> None:
        queue = list(start)
        while queue and len(self.visited) < limit:
            url = self.dutch(queue.pop(0))
            kind = self.kind(url)
            if url in self.seen or kind is None or self.kinds[kind] >= self.limit(kind):
                continue
            self.seen.add(url)
            self.kinds[kind] += 1
            response = self.client.get(url)
            try:
                self.visited[url] = response.status_code
                assert response.status_code < 500, url
                if response.status_code in (301, 302, 303):
                    queue.insert(0, response.headers["Location"])
                    continue
                queue.extend(self.check(url, response))
            finally:
                response.close()  # a streamed download (the audit CSV) holds its database session until closed


def start_urls(app, scenario) -> list[str]:
    """Every GET rule with the values of ``test_routes``, then every demo family and each grid of a session."""
    values = url_values(app, scenario)
    urls = [
        rule.build({arg: values[arg] for arg in rule.arguments})[1]
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint)
        if "GET" in rule.methods
    ]
    for code in sorted(scenario.families):
        urls.append(f"/families/{code}")
    number = values["number"]
    urls += [f"/families/{values['code']}/sessions/{number}/grid/{code}" for code in sorted(builtin_instruments())]
    return urls


@pytest.fixture(scope="module")
def english() -> English:
    return English()


def report(wrong: dict[str, list[str]]) -> str:
    return "\n".join(f"{url}:\n  " + "\n  ".join(found) for url, found in wrong.items())


@pytest.mark.parametrize("role", ["therapist", "team_lead", "admin", "researcher"])
def test_every_page_in_dutch(app, scenario, auth, client, english, role):
    """Every page a role can reach shows neither a raw code nor an English message in Dutch."""
    assert auth.login(EMAILS[role]).status_code == 302
    if role in ("therapist", "team_lead"):  # a correction, so that the session page lists one
        values = url_values(app, scenario)
        url, data = _grid_form(client, values["code"], values["number"], "observer4", "-1")
        assert client.post(url, data=data).status_code == 302
    crawl = Crawl(app, client, english)
    crawl.run(start_urls(app, scenario))
    assert crawl.wrong == {}, report(crawl.wrong)
    reached = {crawl.kind(url)[0] for url, status in crawl.visited.items() if status == 200}
    if role in ("therapist", "team_lead"):
        assert {
            "caseload.show",
            "families.show",
            "families.session_report",
            "families.session_report_pdf",
            "families.session_report_chart",
            "families.rupture_follow_up",
            "families.edit_member",
            "ratings.session_page",
            "ratings.grid",
        } <= reached, reached
        grids = {kind[1][WORDING_ARGS.index("instrument_code")] for kind in crawl.kinds if kind[0] == "ratings.grid"}
        assert set(builtin_instruments()) <= grids
    if role == "admin":
        assert {"admin.users", "admin.audit_log", "data.import_ratings", "admin.retention"} <= reached
    if role == "researcher":
        assert {"data.export", "auth.change_password"} <= reached


def test_member_link_and_round_in_dutch(app, scenario, auth, client, english):
    """A member's link, and the round on the therapist's tablet, in Dutch."""
    values = url_values(app, scenario)
    wrong = {}
    member = app.test_client()
    for token in scenario.families[values["code"]].tokens.values():
        url = f"/r/{token}?lang=nl"
        response = member.get(url)
        assert response.status_code == 200, url
        if found := problems(visible(response)[0], english):
            wrong[url] = found
    assert auth.login(EMAILS["therapist"]).status_code == 302
    assert client.post(f"/round/start/{values['code']}/{values['number']}?lang=nl").status_code == 302
    pick = client.get("/round/?lang=nl")
    member_pages = [href for href in visible(pick)[1] if re.fullmatch(r"/round/\d+", urlsplit(href).path)]
    assert member_pages, pick.text
    for url in ["/round/?lang=nl", f"{member_pages[0]}?lang=nl", "/round/leave?lang=nl"]:
        response = client.get(url)
        assert response.status_code == 200, url
        if found := problems(visible(response)[0], english):
            wrong[url] = found
    assert wrong == {}, report(wrong)


def _grid_form(client, code: str, number: int, instrument: str, value: str) -> tuple[str, dict]:
    """The grid's URL and a form that types ``value`` in every cell, with the values the grid showed."""
    url = f"/families/{code}/sessions/{number}/grid/{instrument}?lang=nl"
    page = client.get(url).text
    shown = dict(re.findall(r'name="(o-\d+-\w+)" value="([^"]*)"', page))
    assert shown, page
    return url, shown | {f"v-{name[2:]}": value for name in shown}


def test_grid_errors_in_dutch(app, scenario, auth, client, english):
    """A value off the scale and a word in a grid are refused in Dutch, naming the question, not its code."""
    values = url_values(app, scenario)
    auth.login(EMAILS["therapist"])
    for typed, expected in (("5", "5 valt buiten de schaal"), ("veel", "„veel” is geen heel getal")):
        url, data = _grid_form(client, values["code"], values["number"], "observer4", typed)
        response = client.post(url, data=data)
        assert response.status_code == 422
        pieces = visible(response)[0]
        assert problems(pieces, english) == []
        text = " ".join(pieces)
        assert expected in text, text
        assert "Geef een heel getal van -3 tot en met +3, of laat het leeg." in text, text
        assert "1. Band" in text and "4. Gedeeld doel" in text, text


def test_grid_saved_flash_in_dutch(app, scenario, auth, client, english):
    """Saving a grid says so in Dutch on the session page, naming the questionnaire; corrections name the question."""
    values = url_values(app, scenario)
    auth.login(EMAILS["therapist"])
    url, data = _grid_form(client, values["code"], values["number"], "observer4", "2")
    response = client.post(url, data=data, follow_redirects=True)
    assert response.status_code == 200
    pieces = visible(response)[0]
    assert problems(pieces, english) == []
    text = " ".join(pieces)
    assert "Blik van de therapeut (4 oordelen per gezinslid) opgeslagen:" in text, text
    assert "Correcties" in text or "Verbeteringen" in text, text
    assert "Blik van de therapeut (4 oordelen per gezinslid): 1. Band" in text, text


def test_session_actions_in_dutch(app, scenario, auth, client, english):
    """The session page after its buttons: personal links made, e-mail not set up, answers reopened."""
    values = url_values(app, scenario)
    auth.login(EMAILS["therapist"])
    session = f"/families/{values['code']}/sessions/{values['number']}"
    answered = re.search(r'action="([^"]+/reopen)"', client.get(session).text)
    pages = {
        "links": client.post(f"{session}/links?lang=nl"),
        "invite": client.post(f"{session}/invite?lang=nl", follow_redirects=True),
    }
    if answered:
        pages["reopen"] = client.post(answered.group(1) + "?lang=nl", follow_redirects=True)
    wrong = {}
    for name, response in pages.items():
        assert response.status_code == 200, name
        if found := problems(visible(response)[0], english):
            wrong[name] = found
    assert wrong == {}, report(wrong)


def test_refused_forms_and_missing_pages_in_dutch(app, scenario, auth, client, english):
    """A refused form and a page that does not exist say so in Dutch."""
    values = url_values(app, scenario)
    auth.login(EMAILS["therapist"])
    with app.app_context():
        member_code = db.session.scalar(sa.select(Member.code).order_by(Member.id))
    pages = {
        "/families/new?lang=nl": client.post("/families/new?lang=nl", data={"code": "no spaces", "status": "x"}),
        "member": client.post(
            f"/families/{values['code']}/members/new?lang=nl",
            data={"code": member_code, "display_name": "", "role": "stranger", "birth_year": "1200"},
        ),
        "session": client.post(
            f"/families/{values['code']}/sessions/new?lang=nl", data={"number": "0", "date": "gisteren"}
        ),
        "missing": client.get("/families/NO-SUCH-FAMILY?lang=nl"),
        "grid of no instrument": client.get(f"/families/{values['code']}/sessions/1/grid/nothing?lang=nl"),
    }
    wrong = {}
    for name, response in pages.items():
        assert response.status_code in (404, 422, 200), name
        if found := problems(visible(response)[0], english):
            wrong[name] = found
    assert wrong == {}, report(wrong)


def test_catalog_fully_translated(tmp_path):
    """``pybabel compile --statistics`` counts every Dutch message translated: none empty, none fuzzy."""
    pybabel = Path(sys.executable).with_name("pybabel")
    po = CATALOG
    result = subprocess.run(
        [str(pybabel), "compile", "--statistics", "-i", str(po), "-o", str(tmp_path / "messages.mo"), "-l", "nl"],
        capture_output=True,
        text=True,
        check=True,
    )
    statistics = result.stdout + result.stderr
    counts = re.search(r"(\d+) of (\d+) messages \((\d+)%\) translated", statistics)
    assert counts, statistics
    assert counts.group(1) == counts.group(2), statistics
    assert "fuzzy" not in statistics, statistics
    with po.open("rb") as f:
        catalog = read_po(f)
    assert [m.id for m in catalog if m.id and (m.fuzzy or not m.string)] == []
