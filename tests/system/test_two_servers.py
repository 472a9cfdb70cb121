"""Two app servers, as a clinic's two hosts run them, on one PostgreSQL database and one Redis.

Each server is its own gunicorn (two workers, from the venv, with the shipped ``gunicorn.conf.py``)
on a free port, with the settings every host of a deployment shares: the database, ``REDIS_URL``,
the secret key. One browser (one cookie jar, as a reverse proxy sends it to either host) talks real
HTTP to both, through the login form with its CSRF token. Shown: an erased family is gone from both
at once, failed logins count across both, a change made on one is seen on the other's next request
of a page it had cached; the rendered pages are shared through Redis, and the worker that saved a
change renders the family's dashboard ahead, for both.

Needs PostgreSQL (``TEST_DATABASE_URL``) and Redis (``TEST_REDIS_URL``): ``make test-postgres``.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from ..conftest import INSTANCE_ENV
from ..factories import PASSWORD, commit, gen_family, gen_member, gen_session, gen_user

pytestmark = pytest.mark.shared_state

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
LEAD = "lead@example.org"
#: Failed logins per client address (both servers see the same one) and wrong passwords before a lockout.
LOGIN_RATE_LIMIT = "4 per hour"
LOGIN_MAX_FAILURES = 2


@dataclass
class Reply:
    status: int
    text: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Answer a redirect as it is (302), so the test sees what the server said."""

    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One browser: its cookies go to either server, as a reverse proxy in front of both would have it."""

    def __init__(self):
        cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(cookies, _NoRedirects())

    def get(self, url: str) -> Reply:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, fields: dict) -> Reply:
        return self._open(urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode()))

    def submit(self, url: str, field: str, **changes) -> Reply:
        """Open the form at ``url`` (the one with ``field``), change ``changes`` and send it with its CSRF token."""
        page = self.get(url)
        assert page.status == 200, (url, page.status)
        return self.post(url, form_fields(page.text, field) | changes)

    def log_in(self, server: str, email: str = LEAD, password: str = PASSWORD) -> Reply:
        return self.submit(f"{server}/login", "password", email=email, password=password)

    def _open(self, request) -> Reply:
        try:
            with self.opener.open(request, timeout=60) as response:
                return Reply(response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode())


class _Forms(HTMLParser):
    """The fields of each form on a page, as a browser sends them when nothing is changed."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._chosen = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({})
        if not self.forms:
            return
        fields, name = self.forms[-1], attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                fields[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select, self._chosen = name, False
        elif tag == "option" and self._select and not self._chosen:  # the selected option, else the first
            fields[self._select] = attrs.get("value", "")
            self._chosen = "selected" in attrs

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def form_fields(page: str, field: str) -> dict:
    parser = _Forms()
    parser.feed(page)
    return next(form for form in parser.forms if field in form)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorns(names: tuple[str, ...], env: dict, logs: Path):
    """Servers (hosts), each a gunicorn with two workers on a free port, started together; yields their
    base URLs once every one answers."""
    started = []
    try:
        for name in names:
            port, log = free_port(), logs / f"gunicorn-{name}.log"
            with log.open("wb") as out:
                command = [GUNICORN, "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", "2"]
                process = subprocess.Popen(
                    [*command, "familyalliance:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                )
            started.append((name, process, log, f"http://127.0.0.1:{port}"))
        for name, process, log, url in started:
            deadline = time.monotonic() + 90
            while True:
                if process.poll() is not None:
                    pytest.fail(f"server {name} exited with {process.returncode}:\n{log.read_text()}")
                with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"server {name} did not answer /healthz:\n{log.read_text()}")
                time.sleep(0.2)
        yield [url for _, _, _, url in started]
    finally:
        for _, process, _, _ in started:
            process.terminate()
        for _, process, _, _ in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def world(app):
    """A team lead with two families, in the database both servers use."""
    if sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "postgresql":
        pytest.fail(
            "the two-server test needs PostgreSQL: TEST_DATABASE_URL=postgresql://... (make test-postgres)",
            pytrace=False,
        )
    with app.app_context():
        lead = gen_user("team_lead", "Team A", LEAD)
        for code, name in (("FAM-A1", "Bram Jansen"), ("FAM-A2", "Anna Visser")):
            family = gen_family(code, [lead])
            gen_member(family, "M1", "mother", display_name=name)
            gen_session(family, 1)
        commit()


@pytest.fixture
def servers(world, app, shared_redis, tmp_path):
    """Servers A and B: separate processes with one database, one Redis and one secret key, as two hosts."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FAMILYALLIANCE_", "GUNICORN", "TEST_"))
        and key not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PSEUDONYM_KEY", "BIND", "WEB_CONCURRENCY")
    }
    env |= {
        INSTANCE_ENV: os.environ[INSTANCE_ENV],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": shared_redis.url,
        "SECRET_KEY": "one-secret-key-on-every-host",
        "PSEUDONYM_KEY": "one-pseudonym-key-on-every-host",
        "FAMILYALLIANCE_REDIS_KEY_PREFIX": shared_redis.prefix,
        "FAMILYALLIANCE_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback, outside a browser
        "FAMILYALLIANCE_LOGIN_RATE_LIMIT": LOGIN_RATE_LIMIT,
        "FAMILYALLIANCE_LOGIN_MAX_FAILURES": str(LOGIN_MAX_FAILURES),
        "FAMILYALLIANCE_ARGON2_TIME_COST": "1",
        "FAMILYALLIANCE_ARGON2_MEMORY_COST": "8",
        "FAMILYALLIANCE_ARGON2_PARALLELISM": "1",
        "FAMILYALLIANCE_TWO_FACTOR_ROLES": "[]",  # password logins: two-factor sign-in has its own tests
        # The refresher renders ahead however busy the machine running the suite is (its gate: test_refresher).
        "FAMILYALLIANCE_REFRESH_MAX_LOAD": "1000",
    }
    with gunicorns(("A", "B"), env, tmp_path) as (a, b):
        yield a, b


def parts_in_redis(shared_redis) -> list[str]:
    """The rendered page parts in Redis, as text (a type tag, then zlib: ``services.pagecache``)."""
    names = shared_redis.client.scan_iter(match=f"{shared_redis.prefix}:pages:*")
    return [zlib.decompress(raw[1:]).decode() for raw in map(shared_redis.client.get, names) if raw]


def link(code: str) -> str:
    """How a page links to a family (its code alone may also stand in a message)."""
    return f'href="/families/{code}"'


def dashboard(page: str) -> str:
    """The family page's cached part (below the header the page renders on every request)."""
    return page.split('id="vega-locale"', 1)[1]


def test_an_erased_family_is_gone_from_both_servers_at_once(servers, shared_redis):
    a, b = servers
    browser = Browser()
    assert browser.log_in(a).status == 302
    for server in (a, b):  # rendered, and so cached, on both
        assert browser.get(f"{server}/families/FAM-A1?lang=en").status == 200
        assert link("FAM-A1") in browser.get(f"{server}/families/?lang=en").text
    assert any(link("FAM-A1") in part for part in parts_in_redis(shared_redis))  # the pages, shared in Redis

    erased = browser.submit(f"{a}/families/FAM-A1/erase", "confirm", confirm="FAM-A1")
    assert erased.status == 302
    assert not any("FAM-A1" in part for part in parts_in_redis(shared_redis))  # gone from Redis at once

    assert browser.get(f"{b}/families/FAM-A1?lang=en").status == 404
    for server in (b, a):
        caseload = browser.get(f"{server}/families/?lang=en")
        assert caseload.status == 200
        assert link("FAM-A1") not in caseload.text and link("FAM-A2") in caseload.text
    assert browser.get(f"{a}/families/FAM-A1?lang=en").status == 404
    assert not any(link("FAM-A1") in part for part in parts_in_redis(shared_redis))


def test_failed_logins_count_across_both_servers(servers):
    a, b = servers
    browser = Browser()
    # Wrong passwords on A and on B lock the account on both (the lockout is in the database) ...
    assert browser.log_in(a, password="not the password").status == 401
    assert browser.log_in(b, password="not the password").status == 401
    assert browser.log_in(a).status == 401  # locked: the right password waits too
    # ... and every failure, on either server, counts against the address's limit of 4 an hour (in Redis).
    assert browser.log_in(b, email="nobody@example.org", password="a guess").status == 401
    assert browser.log_in(a, email="nobody@example.org", password="a guess").status == 429
    assert browser.log_in(b, email="nobody@example.org", password="a guess").status == 429


def test_a_change_on_one_server_is_seen_on_the_others_next_request(servers, shared_redis):
    a, b = servers
    browser = Browser()
    assert browser.log_in(b).status == 302
    before = browser.get(f"{b}/families/FAM-A2?lang=en")  # B renders the page and caches its dashboard
    assert before.status == 200 and "Anna Visser" in dashboard(before.text)
    assert "Anna Visser" in dashboard(browser.get(f"{a}/families/FAM-A2?lang=en").text)

    renamed = browser.submit(f"{a}/families/FAM-A2/members/M1/edit", "display_name", display_name="Anna de Vries")
    assert renamed.status == 302

    after = browser.get(f"{b}/families/FAM-A2?lang=en")
    assert after.status == 200
    assert "Anna de Vries" in dashboard(after.text) and "Anna Visser" not in after.text
    # What B rendered is in Redis for A (and every other worker) to serve.
    assert any("Anna de Vries" in part for part in parts_in_redis(shared_redis))
    assert "Anna de Vries" in dashboard(browser.get(f"{a}/families/FAM-A2?lang=en").text)


def test_a_change_is_rendered_ahead_for_every_host(servers, shared_redis):
    """The worker that saved a change renders the family's dashboard in every language into Redis after the commit
    (``services.refresher``), before anyone opens it: the other host serves it as it stands after the change."""
    a, b = servers
    browser = Browser()
    assert browser.log_in(a).status == 302
    renamed = browser.submit(f"{a}/families/FAM-A2/members/M1/edit", "display_name", display_name="Anna Jansen")
    assert renamed.status == 302  # its redirect to the family page is not followed: nobody opens it
    ready: list[str] = []
    deadline = time.monotonic() + 30
    while len(ready) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        ready = [part for part in parts_in_redis(shared_redis) if "Anna Jansen" in part]
    assert any("For the next session" in part for part in ready), "no English dashboard rendered ahead"
    assert any("Voor de volgende sessie" in part for part in ready), "no Dutch dashboard rendered ahead"
    assert "Anna Jansen" in dashboard(browser.get(f"{b}/families/FAM-A2?lang=nl").text)
