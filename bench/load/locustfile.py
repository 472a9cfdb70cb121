"""Load test: members answering their questionnaire links while therapists browse their caseload.

Run through bench/load/run.py, which seeds the database, starts gunicorn and checks the
database afterwards. Run by hand only against an app seeded by seed.py:

    LOAD_SEED=seed.json LOAD_RESULTS=results.json locust -f bench/load/locustfile.py \
        --headless -u 60 -r 20 --run-time 60s -H http://127.0.0.1:PORT

Two kinds of users, carrying the CSRF token as a browser does (the app's CSRF protection is on):

- ``MemberUser`` (LOAD_MEMBERS, default 50): takes the next unused link from the seed file, opens
  ``/r/<token>``, answers every question with a short pause between answers and, like
  static/questionnaire.js, saves a draft after each answer (``POST /r/<token>/draft``, JSON,
  ``X-CSRFToken``), for a share LOAD_DRAFT_SHARE (0.8) of the links; the others answer without
  the script. Then it sends the form once (every item answered, with ``csrf_token``) and expects
  the thank-you page. A share of members opens the used link again and expects 410. When
  every link is taken, members open used links (410) now and then.
- ``TherapistUser`` (one per seeded therapist account, LOAD_THERAPIST_USERS, default all): logs
  in once (``GET /login`` for the token, ``POST /login``), then browses the caseload
  ``/families/``, their families' dashboards ``/families/<code>`` and session pages
  ``/families/<code>/sessions/<n>``; on the staff's own gunicorn (LOAD_STAFF_HOST) when run.py
  starts one.

Every member's outcome goes to LOAD_RESULTS (JSON, written when locust quits): token ->
``thanked`` (the thank-you page came back), ``submitting`` (the POST was under way when the run
stopped) or what went wrong, so run.py can check the database link by link.
"""

from __future__ import annotations

import json
import os
import random
import re
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlencode, urlsplit

import gevent
from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

with open(os.environ["LOAD_SEED"], encoding="utf-8") as seed_file:
    SEED = json.load(seed_file)
RESULTS_PATH = os.environ.get("LOAD_RESULTS")
THINK_MIN = float(os.environ.get("LOAD_THINK_MIN", "0.3"))
THINK_MAX = float(os.environ.get("LOAD_THINK_MAX", "1.5"))
DRAFT_SHARE = float(os.environ.get("LOAD_DRAFT_SHARE", "0.8"))
REOPEN_SHARE = float(os.environ.get("LOAD_REOPEN_SHARE", "0.2"))
#: Where the therapists' requests go when the staff have a pool of their own (run.py, LOAD_STAFF_WORKERS).
STAFF_HOST = os.environ.get("LOAD_STAFF_HOST", "")

LINKS = list(SEED["links"])
random.Random(1).shuffle(LINKS)
ACCOUNTS = list(SEED["therapists"])
INSTRUMENTS = SEED["instruments"]
RESULTS: dict[str, str] = {}
USED: list[str] = []
#: Every member request's time at the client (milliseconds): their percentiles over all member requests together.
MEMBER_TIMES: list[float] = []

CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]*)"')
# The thank-you page in either language (templates/questionnaire/thanks.html and the nl catalog).
THANKS = ("Your answers have been saved.", "Je antwoorden zijn opgeslagen.")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def csrf_token(html: str) -> str | None:
    """The value of the page's hidden csrf_token input."""
    tag = CSRF.search(html or "")
    value = VALUE.search(tag.group(0)) if tag else None
    return value.group(1) if value else None


class LoopbackSecureCookies(DefaultCookiePolicy):
    """Send ``Secure`` cookies to http://127.0.0.1 as browsers do: loopback counts as a secure context.

    The app marks its session cookie Secure; Python's cookie jar would keep it to itself over
    plain http, and every POST would then fail the CSRF check.
    """

    def return_ok_secure(self, cookie, request) -> bool:
        host = urlsplit(request.get_full_url()).hostname
        return host in ("127.0.0.1", "localhost", "::1") or super().return_ok_secure(cookie, request)


class BrowserLike(FastHttpUser):
    """A user whose cookie jar behaves like a browser's on loopback."""

    abstract = True

    def on_start(self) -> None:
        self.client.cookiejar.set_policy(LoopbackSecureCookies())


class MemberUser(BrowserLike):
    """A family member with a personal link on a phone."""

    fixed_count = int(os.environ.get("LOAD_MEMBERS", "50"))
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        super().on_start()
        self.language = random.choice(["nl", "en"])

    def think(self) -> None:
        gevent.sleep(random.uniform(THINK_MIN, THINK_MAX))

    @task
    def answer_a_link(self) -> None:
        if not LINKS:
            if USED:
                self.reopen(random.choice(USED))
            gevent.sleep(5)
            return
        link = LINKS.pop()
        token = link["token"]
        RESULTS[token] = "opening"
        headers = {"Accept-Language": self.language}
        with self.client.get(f"/r/{token}", name="GET /r/[token]", headers=headers, catch_response=True) as r:
            csrf = csrf_token(r.text) if r.status_code == 200 else None
            if csrf is None:
                RESULTS[token] = f"open failed: {r.status_code}"
                r.failure(f"no questionnaire form: {r.status_code}")
                return
        instrument = INSTRUMENTS[link["instrument"]]
        answers = {}
        drafts = random.random() < DRAFT_SHARE
        for item in instrument["items"]:
            self.think()
            answers[item] = str(random.randint(instrument["min"], instrument["max"]))
            if drafts:
                with self.client.post(
                    f"/r/{token}/draft",
                    name="POST /r/[token]/draft",
                    json=answers,
                    headers=headers | {"X-CSRFToken": csrf},
                    catch_response=True,
                ) as r:
                    if r.status_code != 200 or not r.json().get("saved"):
                        r.failure(f"draft not saved: {r.status_code} {r.text[:200]}")
        self.think()
        RESULTS[token] = "submitting"
        body = urlencode({"csrf_token": csrf, **answers})
        with self.client.post(
            f"/r/{token}", name="POST /r/[token] (submit)", data=body, headers=headers | FORM, catch_response=True
        ) as r:
            if r.status_code == 200 and any(text in r.text for text in THANKS):
                RESULTS[token] = "thanked"
                USED.append(token)
            else:
                RESULTS[token] = f"submit failed: {r.status_code}"
                r.failure(f"no thank-you page: {r.status_code} {r.text[:200]}")
                return
        if random.random() < REOPEN_SHARE:
            gevent.sleep(random.uniform(0.5, 2.0))
            self.reopen(token)

    def reopen(self, token: str) -> None:
        """Open a link whose answers were sent: the app must say so (410), not show the form."""
        with self.client.get(f"/r/{token}", name="GET /r/[token] (used, 410)", catch_response=True) as r:
            if r.status_code == 410:
                r.success()
            else:
                r.failure(f"a used link answered {r.status_code}")


class TherapistUser(BrowserLike):
    """A therapist who logs in once and looks at the caseload, dashboards and sessions."""

    fixed_count = int(os.environ.get("LOAD_THERAPIST_USERS", str(len(SEED["therapists"]))))
    wait_time = between(1.0, 3.0)

    def __init__(self, environment) -> None:
        # The staff's own pool of workers, when run.py starts one (LOAD_STAFF_WORKERS), as the proxy
        # of docs/operations.md routes their pages; locust gives every user class the -H host.
        self.host = STAFF_HOST or self.host
        super().__init__(environment)

    def on_start(self) -> None:
        super().on_start()
        if not ACCOUNTS:
            raise StopUser()  # one login per account: more therapist users than accounts get none
        self.account = ACCOUNTS.pop(0)
        with self.client.get("/login", name="GET /login", catch_response=True) as r:
            csrf = csrf_token(r.text) if r.status_code == 200 else None
            if csrf is None:
                r.failure(f"no login form: {r.status_code}")
                raise StopUser()
        body = urlencode({"csrf_token": csrf, "email": self.account["email"], "password": self.account["password"]})
        with self.client.post(
            "/login", name="POST /login", data=body, headers=FORM, allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code == 302 and "/login" not in r.headers.get("Location", "/login"):
                r.success()
            else:
                r.failure(f"login refused: {r.status_code} {r.headers.get('Location')}")
                raise StopUser()
        self.families = self.account["families"]

    def page(self, url: str, name: str) -> None:
        with self.client.get(url, name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}")
            elif 'name="password"' in r.text:
                r.failure("sent to the login page")

    @task(2)
    def caseload(self) -> None:
        self.page("/families/", "GET /families/")

    @task(3)
    def dashboard(self) -> None:
        family = random.choice(self.families)
        self.page(f"/families/{family['code']}", "GET /families/[code]")

    @task(2)
    def session(self) -> None:
        family = random.choice(self.families)
        number = random.choice(family["sessions"])
        self.page(f"/families/{family['code']}/sessions/{number}", "GET /families/[code]/sessions/[n]")


def figures(entry) -> dict:
    """One line of locust's statistics (milliseconds)."""
    return {
        "method": entry.method,
        "name": entry.name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": entry.total_rps,
        "median": entry.median_response_time,
        "p95": entry.get_response_time_percentile(0.95),
        "p99": entry.get_response_time_percentile(0.99),
        "max": entry.max_response_time,
    }


@events.request.add_listener
def time_members(name: str, response_time: float, **kwargs) -> None:
    """Keep the time of every member request (their links: /r/...)."""
    if name.split(" ", 1)[-1].startswith("/r/"):
        MEMBER_TIMES.append(response_time)


def percentiles(times: list[float]) -> dict:
    """Count, median, 95th and 99th percentile and maximum of ``times`` (nearest rank)."""
    ordered = sorted(times)
    if not ordered:
        return {"requests": 0}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"requests": len(ordered), "median": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}


@events.quitting.add_listener
def write_results(environment, **kwargs) -> None:
    """Each member's outcome and the final statistics (written after the last request, unlike the CSV)."""
    if not RESULTS_PATH:
        return
    stats = environment.stats
    with open(RESULTS_PATH, "w", encoding="utf-8") as f:
        json.dump(
            {
                "members": RESULTS,
                "links_left": len(LINKS),
                "stats": [figures(e) for e in sorted(stats.entries.values(), key=lambda e: e.name)],
                "total": figures(stats.total),
                "members_all": percentiles(MEMBER_TIMES),
                "errors": [
                    {"name": e.name, "error": str(e.error), "count": e.occurrences} for e in stats.errors.values()
                ],
            },
            f,
        )
