"""The hardening, tested from outside: each test fails if its protection is taken away.

Lockout and login rate limit, password rules and change, expiring sessions and the session
cookie, security headers, CSRF on every form, error pages without traces, questionnaire links
(a request's tokens), uploads, tokens kept out of logs, and the tablet round's cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from familyalliance.core.charts import render
from familyalliance.resources import CHECKOUT as ROOT
from familyalliance.services import apitokens, casework, requests
from familyalliance.store.db import db
from familyalliance.store.models import (
    ApiToken,
    AuditEvent,
    Member,
    QuestionnaireRequest,
    RequestToken,
    Response,
    SupervisionNote,
    TherapySession,
    User,
)
from familyalliance.store.registry import installed_instruments
from familyalliance.web import access, security

from ..factories import PASSWORD, commit
from ..scenarios import Scenario

pytestmark = pytest.mark.scenario("visit")  # FAM-1 of ann: Sandra (M1) and Daan (C1) at session 1, with links
pytest_plugins = ["tests.support_mail"]  # a real SMTP server for the e-mailed links (ratings.invite)

#: A password the rules accept (four unrelated words).
NEW_PASSWORD = "lantern quarry pebble oxide"
GENERIC = "Email or password is not correct, or the account is locked for a while after too many attempts."
TOKEN_RE = re.compile(r"/r/([^\"/?<\s]+)")


def csrf_token(html: str) -> str | None:
    """The CSRF token of a page's forms (every logged-in page has one in its log-out button); None with CSRF off."""
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return found.group(1) if found else None


def snapshot(*, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every row of every table, as text: two snapshots differ when anything was stored, changed or deleted."""
    return {
        table.name: sorted(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
        for table in db.metadata.sorted_tables
        if table.name not in skip
    }


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def set_user(app, email: str, **values) -> None:
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == email).values(**values))
        commit()


def get_user(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def login(client, email: str, password: str = PASSWORD, **kwargs):
    return client.post("/login", data={"email": email, "password": password}, **kwargs)


# --- 1. Lockout ----------------------------------------------------------------------------------------------


def refused_page(response, email: str) -> str:
    """A refused login's page, with the typed email taken out (the form keeps it)."""
    assert response.status_code == 401
    return response.get_data(as_text=True).replace(email, "EMAIL")


def test_lockout_refuses_the_right_password_with_the_generic_page(app, scenario):
    """Locked (right password), wrong password, unknown account, deactivated account: one and the same page."""
    max_failures = app.config["LOGIN_MAX_FAILURES"]
    assert max_failures == 5
    for _ in range(max_failures - 1):
        assert login(app.test_client(), "ann@example.org", "wrong password").status_code == 401
    assert get_user(app, "ann@example.org").locked_until is None
    assert login(app.test_client(), "ann@example.org", "wrong password").status_code == 401
    assert get_user(app, "ann@example.org").locked_until is not None  # the fifth wrong password locked it
    set_user(app, "bob@example.org", active=False)

    client = app.test_client()
    locked = login(client, "ann@example.org", PASSWORD, query_string={"lang": "en"})
    assert client.get("/families/").status_code == 302  # not logged in
    pages = [
        refused_page(locked, "ann@example.org"),
        refused_page(
            login(app.test_client(), "ann@example.org", "wrong", query_string={"lang": "en"}), "ann@example.org"
        ),
        refused_page(
            login(app.test_client(), "nobody@example.org", PASSWORD, query_string={"lang": "en"}), "nobody@example.org"
        ),
        refused_page(
            login(app.test_client(), "bob@example.org", PASSWORD, query_string={"lang": "en"}), "bob@example.org"
        ),
    ]
    assert pages == [pages[0]] * 4
    assert GENERIC in pages[0]


def test_lockout_ends_when_its_time_has_passed(app, client, scenario):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, "ann@example.org", "wrong password")
    assert login(client, "ann@example.org").status_code == 401
    set_user(app, "ann@example.org", locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1), failed_logins=3)
    assert login(client, "ann@example.org").status_code == 302
    user = get_user(app, "ann@example.org")
    assert user.failed_logins == 0 and user.locked_until is None


def test_a_successful_login_resets_the_count(app, client, scenario):
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert login(client, "ann@example.org", "wrong password").status_code == 401
    assert get_user(app, "ann@example.org").failed_logins == app.config["LOGIN_MAX_FAILURES"] - 1
    assert login(client, "ann@example.org").status_code == 302
    assert get_user(app, "ann@example.org").failed_logins == 0
    client.post("/logout")
    # Four more wrong ones do not lock the account: the count started again.
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert login(client, "ann@example.org", "wrong password").status_code == 401
    assert login(client, "ann@example.org").status_code == 302


# --- 2. Login rate limit -------------------------------------------------------------------------------------


def test_login_rate_limit_per_address_counts_failures_only(make_app, scenario):
    limited = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    for _ in range(5):  # successful logins do not count
        assert login(client, "ann@example.org").status_code == 302
        assert client.post("/logout").status_code == 302
    for _ in range(3):
        assert login(client, "nobody@example.org", "guess").status_code == 401
    refused = login(client, "nobody@example.org", "guess", query_string={"lang": "en"})
    assert refused.status_code == 429
    assert "Too many attempts" in refused.text and "Please wait a while before you try again." in refused.text
    assert login(client, "ann@example.org").status_code == 429  # the right password waits too
    assert client.get("/families/").status_code == 302
    other = limited.test_client()
    elsewhere = login(other, "ann@example.org", environ_overrides={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 302  # another address is not limited


# --- 3. Password rules and change ----------------------------------------------------------------------------


def change(client, current: str, new: str, confirm: str | None = None):
    data = {"current": current, "new": new, "confirm": new if confirm is None else confirm}
    return client.post("/account/password", query_string={"lang": "en"}, data=data)


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong password", NEW_PASSWORD, None, "This is not your current password."),
        (PASSWORD, "short pw 1", None, "Use at least 12 characters."),
        (PASSWORD, "wachtwoord123", None, "This password is too easy to guess."),
        (PASSWORD, "welkom2024welkom", None, "This password is too easy to guess."),
        (PASSWORD, "ann@example.org!", None, "This password is too easy to guess."),
        (PASSWORD, "x" * 129, None, "Use at most 128 characters."),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "The two new passwords differ."),
    ],
)
def test_password_change_refused(app, client, scenario, current, new, confirm, message):
    assert login(client, "ann@example.org").status_code == 302
    before = get_user(app, "ann@example.org")
    response = change(client, current, new, confirm)
    assert response.status_code == 422
    assert message in response.text
    after = get_user(app, "ann@example.org")
    assert (after.password_hash, after.session_token) == (before.password_hash, before.session_token)
    assert client.get("/families/").status_code == 200


def test_password_change_ends_other_sessions(app, client, scenario):
    other = app.test_client()
    assert login(other, "ann@example.org").status_code == 302
    assert other.get("/families/").status_code == 200
    assert login(client, "ann@example.org").status_code == 302
    changed = change(client, PASSWORD, NEW_PASSWORD)
    assert changed.status_code == 302 and changed.location == "/families/"
    assert client.get("/families/").status_code == 200  # this browser stays logged in
    ended = other.get("/families/")
    assert ended.status_code == 302 and ended.location.startswith("/login?next=")
    assert other.get("/families/").status_code == 302
    assert login(app.test_client(), "ann@example.org", PASSWORD).status_code == 401
    assert login(app.test_client(), "ann@example.org", NEW_PASSWORD).status_code == 302


# --- 4. Sessions that end ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seen_ago", "since_ago", "ended"),
    [
        (30 * 60 + 5, 60, True),  # idle longer than SESSION_IDLE_MINUTES
        (60, 8 * 3600 + 5, True),  # older than PERMANENT_SESSION_LIFETIME
        (30 * 60 - 30, 8 * 3600 - 30, False),  # just within both
    ],
)
def test_session_expiry(app, client, scenario, seen_ago, since_ago, ended):
    assert app.config["SESSION_IDLE_MINUTES"] == 30
    assert app.permanent_session_lifetime == dt.timedelta(hours=8)
    assert login(client, "ann@example.org").status_code == 302
    now = time.time()
    with client.session_transaction() as session:
        session["seen"], session["since"] = now - seen_ago, now - since_ago
    response = client.get("/families/")
    if ended:
        assert response.status_code == 302 and response.location.startswith("/login?next=")
        assert client.get("/families/").status_code == 302  # and it stays ended
    else:
        assert response.status_code == 200


def test_session_cookie_flags(client, scenario):
    response = login(client, "ann@example.org")
    assert response.status_code == 302
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    attributes = [part.strip() for part in cookie.split(";")]
    assert "Secure" in attributes and "HttpOnly" in attributes and "SameSite=Lax" in attributes
    expires = next(a for a in attributes if a.startswith("Expires="))
    moment = dt.datetime.strptime(expires.removeprefix("Expires="), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.UTC)
    assert dt.timedelta(hours=7) < moment - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=8)


# --- 5. Headers ----------------------------------------------------------------------------------------------


def fetch(client, url: str, **kwargs):
    """A GET's status and headers; the response is closed at once (static files hold an open file)."""
    response = client.get(url, **kwargs)
    response.close()
    return response.status_code, response.headers


def directives(headers) -> dict[str, list[str]]:
    policy = headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_security_headers(app, client, scenario):
    login(client, "ann@example.org")
    pages = {
        "login": fetch(app.test_client(), "/login"),
        "family": fetch(client, "/families/FAM-1"),
        "link": fetch(app.test_client(), f"/r/{scenario.fam1.tokens['C1']}"),
        "error": fetch(client, "/nowhere"),
        "static": fetch(client, "/static/app.css"),
    }
    assert {name: status for name, (status, _) in pages.items()} == {
        "login": 200,
        "family": 200,
        "link": 200,
        "error": 404,
        "static": 200,
    }
    for name, (_, headers) in pages.items():
        policy = directives(headers)
        text = headers["Content-Security-Policy"]
        assert "unsafe-inline" not in text and "unsafe-eval" not in text, name
        assert policy["frame-ancestors"] == ["'none'"], name
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"], name
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"], name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["Referrer-Policy"] == "no-referrer", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert "Strict-Transport-Security" not in headers, name
    for name in ("login", "family", "link", "error"):
        assert pages[name][1].get("Cache-Control") == "no-store", name


def test_static_files_may_be_kept_personal_pages_not(client, scenario):
    """Static files are not no-store (validators let the browser keep them); the versioned Vega bundle for a year."""

    status, static = fetch(client, "/static/app.css")
    assert status == 200
    assert "no-store" not in static.get("Cache-Control", "")
    assert static.get("ETag") and static.get("Last-Modified")
    status, bundle = fetch(client, f"/assets/vega-{render.version()}.js")
    assert status == 200
    assert "max-age=31536000" in bundle["Cache-Control"] and "no-store" not in bundle["Cache-Control"]


def test_hsts_only_over_https(client, scenario):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    login(client, "ann@example.org")
    status, headers = fetch(client, "/families/FAM-1", base_url="https://localhost")
    assert status == 200 and headers["Strict-Transport-Security"].startswith("max-age=31536000")


# --- 6. CSRF on every form -----------------------------------------------------------------------------------

IMPORT_CSV = (
    b"family,member,role,session,date,informant,target,instrument,item,value\n"
    b"IMP-1,M1,mother,1,2026-01-05,self,therapist,check4,bond,7\n"
)

#: Every endpoint that takes a POST: who sends it (None: anyone, logged out), and what they send; with a
#: valid token each of these requests changes something (the control below proves it).
CSRF_CASES: dict[str, tuple[str | None, dict]] = {
    "auth.login": (None, {"data": {"email": "ann@example.org", "password": PASSWORD}}),
    "auth.logout": ("ann@example.org", {}),
    "auth.change_password": (
        "ann@example.org",
        {"data": {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}},
    ),
    # The second factor: the app's code is filled in when sent (csrf_request), from the secret set up before.
    "auth.login_code": ("ann@example.org", {"data": {"code": ""}}),
    "auth.two_factor_setup": ("ann@example.org", {"data": {"code": ""}}),
    "auth.two_factor": ("ann@example.org", {"data": {"code": ""}}),
    "auth.api_tokens": ("ann@example.org", {"data": {"name": "EHR"}}),
    "auth.revoke_api_token": ("ann@example.org", {}),
    "families.new_family": (
        "ann@example.org",
        {"data": {"code": "FAM-2", "status": "active", "start_date": "2026-02-02", "full_every": "3"}},
    ),
    "families.edit_family": (
        "ann@example.org",
        {"data": {"code": "FAM-1", "status": "paused", "start_date": "2026-01-05", "full_every": "3"}},
    ),
    "families.new_member": ("ann@example.org", {"data": {"code": "F1", "display_name": "Mehmet", "role": "father"}}),
    "families.edit_member": (
        "ann@example.org",
        {"data": {"code": "M1", "display_name": "Sandra B.", "role": "mother"}},
    ),
    "families.new_session": ("ann@example.org", {"data": {"number": "2", "date": "2026-01-19", "target": "therapist"}}),
    "families.edit_session": (
        "ann@example.org",
        {"data": {"number": "1", "date": "2026-01-13", "target": "therapist"}},
    ),
    "families.rupture_follow_up": (
        "ann@example.org",
        {"data": {"discussed_on": "2026-01-20", "note": "Besproken met Sandra."}},
    ),
    "ratings.create_links": ("ann@example.org", {}),
    "ratings.invite": ("ann@example.org", {}),
    "ratings.reopen": ("ann@example.org", {}),
    "ratings.grid": ("ann@example.org", {}),
    "ratings.round_start": ("ann@example.org", {}),
    "ratings.round_answer": ("ann@example.org", {"data": {"bond": "9", "goals_tasks": "8"}}),
    "ratings.round_leave": ("ann@example.org", {"data": {"password": PASSWORD}}),
    "data.export": (
        "lead@example.org",
        {"data": {"kind": "long", "fmt": "csv", "pseudonymise": "y", "dates": "shift", "language": "nl"}},
    ),
    "data.import_ratings": ("admin@example.org", {}),
    "admin.new_user": (
        "admin@example.org",
        {"data": {"email": "new@example.org", "role": "therapist", "password": NEW_PASSWORD}},
    ),
    "admin.edit_user": ("admin@example.org", {"data": {"email": "bob@example.org", "role": "team_lead", "team": ""}}),
    "admin.set_log_in": ("admin@example.org", {"data": {"may_log_in": "no"}}),
    "admin.reset_two_factor": ("admin@example.org", {}),
    "admin.new_team": ("admin@example.org", {"data": {"name": "Team Z"}}),
    "admin.erase": ("lead@example.org", {"data": {"confirm": "FAM-1"}}),
    # The alliance profile's notes: ann keeps one on her own profile; the lead erases notes past retention.
    "supervision.add_note": ("ann@example.org", {"data": {"text": "Vader haakt af na sessie 3?"}}),
    "supervision.erase_notes": ("lead@example.org", {}),
    "questionnaire.answer": (None, {"data": {"bond": "8", "goals_tasks": "6", "safety": "10"}}),
    "questionnaire.save_draft": (None, {"json": {"bond_1": "4"}}),  # Sandra's intake: the full questionnaire
}


#: Requests whose only stored effect is their entry in the audit log.
AUDIT_ONLY = {"auth.login": "login", "auth.logout": "logout", "data.export": "export"}


def request_of(app, scenario: Scenario, member: str) -> QuestionnaireRequest:
    """The member's questionnaire request at FAM-1's session 1 (the scenario has one per attendee)."""
    with app.app_context():
        (found,) = db.session.scalars(
            sa.select(QuestionnaireRequest).where(QuestionnaireRequest.member_id == scenario.fam1.members[member])
        )
        db.session.expunge(found)
        return found


def prepare_case(app, endpoint: str, scenario: Scenario, request) -> dict:
    """Store what an endpoint's case needs to have something to change; return settings for its app.

    The e-mailed links need addresses and a mail server (a real one, on this machine); letting a member
    answer again needs an answered request (Daan's, by his link).
    """
    if endpoint == "ratings.invite":
        with app.app_context():
            db.session.execute(sa.update(Member).values(email="ouder@example.org"))
            commit()
        return request.getfixturevalue("smtp_server").settings()
    if endpoint == "ratings.reopen":
        with app.app_context():
            daan = db.session.get(QuestionnaireRequest, request_of(app, scenario, "C1").id)
            requests.submit(daan, {"bond": 8}, installed_instruments(), "link")
            commit()
    if endpoint in ("auth.login_code", "admin.reset_two_factor"):  # ann's and bob's second factor is set up
        since = dt.datetime.now(dt.UTC)
        for email in ("ann@example.org", "bob@example.org"):
            set_user(app, email, totp_secret=pyotp.random_base32(), two_factor_since=since)
    if endpoint in ("auth.login_code", "auth.two_factor_setup"):
        return {"TWO_FACTOR_ROLES": ["therapist"]}
    if endpoint == "supervision.erase_notes":  # a note on ann's profile, written long before the retention cutoff
        with app.app_context():
            ann = scenario.users["ann"]
            old = dt.datetime(1990, 1, 8, tzinfo=dt.UTC)
            db.session.add(SupervisionNote(therapist_id=ann, author_id=ann, created_at=old, text="Oud"))
            commit()
    if endpoint == "auth.revoke_api_token":  # ann has a token to revoke
        with app.app_context():
            apitokens.create(db.session.get(User, scenario.users["ann"]), "EHR")
            commit()
    return {}


#: The page that shows the secret to set up with, opened before the code is sent.
TWO_FACTOR_SETUP_PAGES = {"auth.two_factor_setup": "/login/setup", "auth.two_factor": "/account/two-factor"}


def csrf_request(app, endpoint: str, scenario: Scenario) -> tuple[dict, dict]:
    """The URL values and request arguments of an endpoint's case (ids and files filled in)."""
    token = scenario.fam1.tokens["M1"] if endpoint == "questionnaire.save_draft" else scenario.fam1.tokens["C1"]
    values = {
        "code": "FAM-1",
        "number": 1,
        "member_code": "M1",
        "instrument_code": "observer4",
        "user_id": scenario.users["bob"],
        "member_id": str(scenario.fam1.members["C1"]),
        "token": token,
        "request_id": request_of(app, scenario, "C1").id,
        "informant": "self",
        "target": "therapist",
        "dimension": "bond",
    }
    if endpoint == "supervision.add_note":  # her own profile
        values["user_id"] = scenario.users["ann"]
    if endpoint == "auth.revoke_api_token":
        with app.app_context():
            values["token_id"] = db.session.scalar(sa.select(sa.func.max(ApiToken.id)))
    kwargs = json.loads(json.dumps(CSRF_CASES[endpoint][1]))
    data = kwargs.setdefault("data", {}) if "json" not in kwargs else None
    if endpoint in ("families.new_family", "families.edit_family"):
        data["therapists"] = [scenario.users["ann"]]
    if endpoint in ("families.new_session", "families.edit_session"):
        data["attendance"] = [scenario.fam1.members["M1"]] + (
            [scenario.fam1.members["C1"]] if endpoint.endswith("new_session") else []
        )
    if endpoint in ("admin.new_user", "admin.edit_user"):
        data["team"] = scenario.teams["A"]
    if endpoint == "ratings.grid":
        data[f"v-{scenario.fam1.members['M1']}-bond"] = "2"
    if endpoint == "data.import_ratings":
        data |= {"file": (io.BytesIO(IMPORT_CSV), "ratings.csv"), "team": "0"}
    if endpoint in ("auth.login_code", "auth.two_factor_setup", "auth.two_factor"):
        data["code"] = pyotp.TOTP(get_user(app, "ann@example.org").totp_secret).now()
    return values, kwargs


def login_with_token(client, email: str) -> None:
    token = csrf_token(client.get("/login").text) or ""
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, email


def round_running(client) -> bool:
    return client.get("/families/").location == "/round/"


#: The FHIR API's POSTs are exempt from the CSRF check: an API call is its bearer token's, never the browser
#: session's, so a page of another site cannot make a logged-in browser call it (test below).
CSRF_EXEMPT = {"fhir.import_bundle", "fhir.unknown"}


def test_every_post_rule_has_a_csrf_case(app):
    """No form escapes the CSRF test: the endpoints taking a POST are exactly those of CSRF_CASES (and the API's)."""
    posts = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert posts == set(CSRF_CASES) | CSRF_EXEMPT


def test_the_api_never_acts_on_a_browser_session(make_app, scenario):
    """A logged-in browser posting to the FHIR API without a bearer token is refused (401) and stores nothing."""
    checked = make_app(WTF_CSRF_ENABLED=True)
    client = checked.test_client()
    login_with_token(client, "ann@example.org")
    with checked.app_context():
        before = snapshot(skip=("audit_event",))
    body = {"resourceType": "Bundle", "type": "batch", "entry": []}
    response = client.post("/fhir/R4", json=body, headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 401 and response.get_json()["resourceType"] == "OperationOutcome"
    with checked.app_context():
        assert snapshot(skip=("audit_event",)) == before


@pytest.mark.parametrize("csrf", [True, False], ids=["csrf", "control-without-csrf"])
@pytest.mark.parametrize("endpoint", sorted(CSRF_CASES))
def test_post_without_csrf_token_changes_nothing(app, make_app, scenario, request, endpoint, csrf):
    """With CSRF on, a POST without a token gets 400 and changes nothing; the control (CSRF off) shows it would."""
    checked = make_app(WTF_CSRF_ENABLED=csrf, **prepare_case(app, endpoint, scenario, request))
    client = checked.test_client()
    email, _ = CSRF_CASES[endpoint]
    if email:
        with checked.test_request_context():
            assert access.allowed(get_user(app, email), endpoint)  # the role may use the page
        login_with_token(client, email)
    if endpoint.startswith("ratings.round_") and endpoint != "ratings.round_start":
        token = csrf_token(client.get("/families/").text) or ""
        assert client.post("/round/start/FAM-1/1", data={"csrf_token": token}).status_code == 302
    if endpoint in TWO_FACTOR_SETUP_PAGES:
        assert client.get(TWO_FACTOR_SETUP_PAGES[endpoint]).status_code == 200  # the secret is made
    values, kwargs = csrf_request(app, endpoint, scenario)
    rule = next(rule for rule in checked.url_map.iter_rules() if rule.endpoint == endpoint)
    url = rule.build({arg: values[arg] for arg in rule.arguments})[1]
    with app.app_context():
        before = snapshot(skip=("audit_event",))
        last_event = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0

    response = client.post(url, headers={"Accept-Language": "en"}, **kwargs)
    response.close()

    with app.app_context():
        after = snapshot(skip=("audit_event",))
        new_events = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.status).where(AuditEvent.id > last_event)
        ).all()
    if csrf:
        assert response.status_code == 400, (url, response.status_code)
        if "json" not in kwargs:
            assert "The form had expired. Please go back, reload the page and send it again." in response.text
        assert after == before, url
        # Only the refusal itself may be logged (a family page's request is logged with its status).
        assert all(status == 400 for _, status in new_events), new_events
        if endpoint == "ratings.round_leave":
            assert round_running(client)
        if endpoint == "ratings.round_start":
            assert not round_running(client)
        if endpoint == "ratings.invite":
            assert request.getfixturevalue("smtp_server").received == []  # and no message went out
    else:
        assert response.status_code != 400, (url, response.status_code)
        if endpoint == "ratings.round_leave":
            assert not round_running(client)  # the round ended (a browser session's matter, no table changes)
        elif endpoint == "ratings.round_start":
            # The round started. It used to make a link per attendee (rows to compare); a round now answers the
            # session's requests, made when the session was recorded: the browser session is all it changes.
            assert round_running(client) and after == before
        elif endpoint in AUDIT_ONLY:
            assert (AUDIT_ONLY[endpoint], None) in new_events, new_events
        else:
            assert after != before, f"{url} changed nothing even without CSRF ({response.status_code})"
        if endpoint == "ratings.invite":
            assert len(request.getfixturevalue("smtp_server").received) == 2  # Sandra's and Daan's new links


# --- 7. Error pages ------------------------------------------------------------------------------------------


def assert_no_trace(body: str) -> None:
    """Nothing of the code behind a page: no traceback, no source file, no path of the installation."""
    assert "Traceback" not in body
    assert 'File "' not in body and ".py" not in body
    assert str(ROOT) not in body and "site-packages" not in body


@pytest.fixture
def production(make_app, monkeypatch):
    """An app as in production (TESTING off, so errors are not propagated), with a view that fails."""
    prod = make_app(TESTING=False)
    # A migration run in this process (logging.config.fileConfig in migrations/env.py) disables the app's
    # logger if it existed then: whether it did depends on which tests ran before. Logged, it must be.
    monkeypatch.setattr(prod.logger, "disabled", False)

    @access.public
    def boom():
        raise RuntimeError("secret detail")

    prod.add_url_rule("/test-only/boom", "test_boom", boom)
    return prod


def test_500_page_shows_nothing_of_the_error(production, caplog):
    response = production.test_client().get("/test-only/boom?lang=en")
    assert response.status_code == 500
    body = response.text
    assert "<h1>Something went wrong</h1>" in body
    assert "The error has been logged. Nothing you saved before is lost." in body
    assert "secret detail" not in body and "RuntimeError" not in body
    assert_no_trace(body)
    assert response.headers["Cache-Control"] == "no-store"
    assert "secret detail" in caplog.text  # logged for the operators, not shown


def test_404_405_413_pages_show_no_trace(make_app):
    prod = make_app(TESTING=False, MAX_CONTENT_LENGTH=1000)
    client = prod.test_client()
    expected = {
        404: (client.get("/no/such/page?lang=en"), "Not found"),
        405: (client.get("/logout?lang=en"), "This page cannot be used this way."),
        413: (
            client.post("/login?lang=en", data={"email": "a@example.org", "password": "x" * 5000}),
            "The file is larger than this installation accepts.",
        ),
    }
    for status, (response, text) in expected.items():
        assert response.status_code == status
        assert text in response.text, status
        assert_no_trace(response.text)


# --- 8. Questionnaire links ----------------------------------------------------------------------------------

CHECK4_ANSWERS = {"bond": "8", "goals_tasks": "6", "safety": "10"}

#: What the page of a link that cannot be used says, by the reason (``services.requests.find``).
CLOSED_TEXTS = {
    "answered": "Your answers are in",
    "replaced": "A newer link was made for you",
    "expired": "because it is too old",
    "withdrawn": "These questions are no longer asked",
    "unknown": "We do not know this link",
}


def item_texts(app) -> list[str]:
    """Every wording of every question, in both languages and about both targets."""
    with app.app_context():
        with_texts = installed_instruments().values()
    return [
        item.text_for(language, target)
        for instrument in with_texts
        for item in instrument.items
        for language in ("nl", "en")
        for target in ("therapist", "team")
    ]


def stored(app) -> tuple[list, list, list]:
    """The answers, the requests (drafts, whether and how answered, withdrawn, until when), and their tokens."""
    with app.app_context():
        answers = sorted(db.session.execute(sa.select(Response.member_id, Response.item, Response.value)).all())
        asked = db.session.execute(
            sa.select(
                QuestionnaireRequest.id,
                QuestionnaireRequest.draft,
                QuestionnaireRequest.answered_at,
                QuestionnaireRequest.answered_mode,
                QuestionnaireRequest.withdrawn_at,
                QuestionnaireRequest.expires_at,
            ).order_by(QuestionnaireRequest.id)
        ).all()
        tokens = db.session.execute(
            sa.select(RequestToken.token_hash, RequestToken.request_id, RequestToken.replaced_at).order_by(
                RequestToken.token_hash
            )
        ).all()
    return answers, asked, tokens


def assert_closed(app, token: str, state: str, status: int) -> None:
    """GET, POST and draft of a link that cannot be used: the status and reason, no questionnaire, nothing stored."""
    client = app.test_client()
    before = stored(app)
    for response in (
        client.get(f"/r/{token}?lang=en"),
        client.post(f"/r/{token}?lang=en", data={"bond": "1", "goals_tasks": "2", "safety": "3"}),
    ):
        assert response.status_code == status
        assert CLOSED_TEXTS[state] in response.text
        assert "<form" not in response.text and 'name="bond"' not in response.text
        assert not [text for text in item_texts(app) if text in response.text]
    draft = client.post(f"/r/{token}/draft", json={"bond": "1"})
    assert draft.status_code == status and draft.json == {"saved": False, "state": state}
    assert stored(app) == before


def daan_request(app, scenario: Scenario) -> tuple[str, str | None]:
    """The state of Daan's request, and how it was answered."""
    found = request_of(app, scenario, "C1")
    return requests.state(found), found.answered_mode


def test_answered_link_answers_410_and_stores_nothing_again(app, scenario):
    token = scenario.fam1.tokens["C1"]
    assert app.test_client().post(f"/r/{token}", data=CHECK4_ANSWERS).status_code == 200
    answers = stored(app)[0]
    assert sorted((item, value) for _, item, value in answers) == [
        ("bond", 8),
        ("goals_tasks", 6),
        ("safety", 10),
        ("shared_purpose", None),
    ]
    assert daan_request(app, scenario) == ("answered", "link")
    assert_closed(app, token, "answered", 410)
    assert stored(app)[0] == answers


def test_replaced_link_answers_410(app, client, scenario):
    """Links made again: the older link says a newer one was made, and stores nothing; the newer one works.

    (Before the requests, a second link of the same questionnaire was a link of its own beside the first;
    now the newer link replaces the older one of the same request.)
    """
    old = scenario.fam1.tokens["C1"]
    login(client, "ann@example.org")
    page = client.post("/families/FAM-1/sessions/1/links").text
    fresh = dict(re.findall(r"<h3>(\w+)</h3>.*?<a href=\"http://localhost/r/([^\"]+)\"", page, re.S))
    assert set(fresh) == {"Sandra", "Daan"} and old not in fresh.values()
    assert_closed(app, old, "replaced", 410)
    assert stored(app)[0] == []
    new = fresh["Daan"]
    assert app.test_client().get(f"/r/{new}").status_code == 200
    assert app.test_client().post(f"/r/{new}", data=CHECK4_ANSWERS).status_code == 200
    assert daan_request(app, scenario) == ("answered", "link")
    assert_closed(app, old, "answered", 410)  # once answered, every link of the request says so


def test_expired_link_answers_410(app, scenario):
    with app.app_context():
        db.session.execute(
            sa.update(QuestionnaireRequest).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        commit()
    assert_closed(app, scenario.fam1.tokens["C1"], "expired", 410)
    assert stored(app)[0] == []


def test_withdrawn_link_answers_410(app, scenario):
    """Daan no longer attends session 1: his request is withdrawn; his link says the questions are no longer asked."""
    with app.app_context():
        session = db.session.get(TherapySession, scenario.fam1.sessions[1])
        casework.record_session(session.family, 1, session.date, [scenario.fam1.members["M1"]], session)
        commit()
    assert daan_request(app, scenario) == ("withdrawn", None)
    assert_closed(app, scenario.fam1.tokens["C1"], "withdrawn", 410)
    assert stored(app)[0] == []


def test_unknown_token_answers_404(app, scenario):
    daan_token = scenario.fam1.tokens["C1"]
    for token in ("x" * 43, daan_token[:-1] + ("A" if daan_token[-1] != "A" else "B")):
        assert_closed(app, token, "unknown", 404)


def test_tokens_are_long_random_and_stored_only_hashed(app, client, scenario):
    login(client, "ann@example.org")
    page = client.post("/families/FAM-1/sessions/1/links").text
    first = {scenario.fam1.tokens["C1"], scenario.fam1.tokens["M1"]}
    tokens = set(TOKEN_RE.findall(page)) | first
    assert len(tokens) == 4
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43,}", token) for token in tokens), tokens
    with app.app_context():
        hashes = dict(db.session.execute(sa.select(RequestToken.token_hash, RequestToken.replaced_at)).all())
        everything = [
            value
            for table in db.metadata.sorted_tables
            for row in db.session.execute(sa.select(table))
            for value in row
        ]
    digest = {token: hashlib.sha256(token.encode()).hexdigest() for token in tokens}
    assert set(hashes) == set(digest.values())  # every link's token, the replaced ones too, only as its hash
    assert {token for token in tokens if hashes[digest[token]] is not None} == first
    text = "\n".join(str(value) for value in everything)
    assert not [token for token in tokens if token in text]


def test_unknown_tokens_are_rate_limited_per_address(make_app, scenario):
    """Tries with unknown tokens are limited per address, the page and its drafts together."""
    limited = make_app(LINK_RATE_LIMIT="5 per minute")
    client = limited.test_client()
    for _ in range(8):  # a link that works does not count
        assert client.get(f"/r/{scenario.fam1.tokens['C1']}").status_code == 200
    for number in range(5):
        assert client.get(f"/r/unknown-token-{number:040d}").status_code == 404
    refused = client.get("/r/unknown-token-5?lang=en")
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    assert client.post("/r/unknown-token-6", data=CHECK4_ANSWERS).status_code == 429
    assert client.post("/r/unknown-token-6/draft", json={}).status_code == 429  # one budget for both
    elsewhere = limited.test_client().get("/r/unknown-token-7", environ_overrides={"REMOTE_ADDR": "192.0.2.8"})
    assert elsewhere.status_code == 404


def test_a_family_behind_one_address_keeps_its_links_after_the_limit(make_app, scenario):
    """Once an address used up its unknown-token budget, the valid links of a family on its wifi still open and send."""
    limited = make_app(LINK_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    for number in range(3):
        assert client.get(f"/r/unknown-token-{number:040d}").status_code == 404
    assert client.get("/r/unknown-token-3").status_code == 429  # the budget is used up
    page = client.get(f"/r/{scenario.fam1.tokens['C1']}?lang=en")
    assert page.status_code == 200 and "Too many attempts" not in page.text
    draft = client.post(f"/r/{scenario.fam1.tokens['C1']}/draft", json={"bond": "7"})
    assert draft.status_code == 200
    sent = client.post(f"/r/{scenario.fam1.tokens['C1']}?lang=en", data=CHECK4_ANSWERS)
    assert sent.status_code == 200 and "Thank you" in sent.text
    assert client.get(f"/r/{scenario.fam1.tokens['C1']}").status_code == 410  # answered: known, not limited
    assert client.get("/r/unknown-token-4").status_code == 429  # unknown tokens stay refused


# --- 9. Uploads ----------------------------------------------------------------------------------------------


def upload(client, content: bytes, name: str = "ratings.csv"):
    return client.post(
        "/admin/import",
        data={"file": (io.BytesIO(content), name), "team": "0"},
        content_type="multipart/form-data",
        headers={"Accept-Language": "en"},
    )


def test_too_large_upload_gets_413(app, make_app, scenario):
    small = make_app(MAX_CONTENT_LENGTH=2000)
    client = small.test_client()
    assert login(client, "admin@example.org").status_code == 302
    rows = "".join(f"BIG-{n},M1,mother,1,2026-01-05,self,therapist,check4,bond,7\n" for n in range(100))
    content = IMPORT_CSV + rows.encode()
    assert len(content) > 5000
    with app.app_context():
        before = snapshot(skip=("audit_event",))
    response = upload(client, content)
    assert response.status_code == 413
    assert "<h1>File too large</h1>" in response.text
    assert_no_trace(response.text)
    with app.app_context():
        assert snapshot(skip=("audit_event",)) == before
    assert upload(client, IMPORT_CSV).status_code == 200  # a small file still goes in


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (IMPORT_CSV, "ratings.xlsx", "Upload a .csv file."),
        (IMPORT_CSV.replace(b"bond,7", b"bond,\xff\xfe7"), "ratings.csv", "is not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "ratings.csv", "holds NUL bytes"),
        (IMPORT_CSV.replace(b"IMP-1,M1", b"IMP-1\x00,M1"), "ratings.csv", "holds NUL bytes, so it is not CSV text"),
        ("family".encode("utf-16-le") + b"\x00" * 300, "ratings.csv", "holds NUL bytes, so it is not CSV text"),
    ],
    ids=["xlsx", "invalid-utf8", "png", "nul-in-a-row", "only-nul"],
)
def test_bad_upload_refused_with_a_clear_message(app, client, scenario, content, name, message):
    assert login(client, "admin@example.org").status_code == 302
    with app.app_context():
        before = snapshot(skip=("audit_event",))
    response = upload(client, content, name)
    assert response.status_code == 422
    assert message in response.text
    assert "\x00" not in response.text
    with app.app_context():
        assert snapshot(skip=("audit_event",)) == before


# --- 10. Tokens kept out of logs -----------------------------------------------------------------------------

TOKEN = "Ab3_-" + "x" * 38  # the shape of secrets.token_urlsafe(32): 43 url-safe characters


def test_redact_hides_tokens():
    assert len(TOKEN) == 43
    for path in (f"/r/{TOKEN}", f"/r/{TOKEN}/draft", f"/r/{TOKEN}?lang=en", f"GET /r/{TOKEN}/draft HTTP/1.1"):
        redacted = security.redact(path)
        assert TOKEN not in redacted and TOKEN[:16] not in redacted, redacted
        assert "/r/[token]" in redacted
    assert security.redact("/families/FAM-1/sessions/3") == "/families/FAM-1/sessions/3"


def test_access_log_record_loses_its_token():
    """A werkzeug access-log record, as the development server makes it, has no token after the filter."""
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '127.0.0.1 - - [date] "%s" %s %s',
        (f"GET /r/{TOKEN} HTTP/1.1", "200", "-"),
        None,
    )
    assert security.RedactTokens().filter(record) is True
    message = record.getMessage()
    assert TOKEN not in message and '"GET /r/[token] HTTP/1.1" 200 -' in message
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, f"POST /r/{TOKEN}/draft", None, None)
    security.RedactTokens().filter(record)
    assert TOKEN not in record.getMessage()


def test_werkzeug_logger_has_the_filter(app, caplog, monkeypatch):
    werkzeug_log = logging.getLogger("werkzeug")
    assert [f for f in werkzeug_log.filters if isinstance(f, security.RedactTokens)]
    # The migrations' logging.config.fileConfig (run by the schema fixture) disables existing loggers.
    monkeypatch.setattr(werkzeug_log, "disabled", False)
    caplog.set_level(logging.INFO, logger="werkzeug")
    werkzeug_log.info('127.0.0.1 - - [date] "%s" %s %s', f"GET /r/{TOKEN}/draft HTTP/1.1", "410", "-")
    assert "/r/[token]/draft" in caplog.text and TOKEN not in caplog.text


# --- 11. The tablet round's cookie ---------------------------------------------------------------------------


def strings(value) -> list[str]:
    """Every string in a decoded session, keys included."""
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [str(key), *strings(item)]]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


def test_round_cookie_holds_no_name_and_no_token(app, client, scenario):
    assert login(client, "ann@example.org").status_code == 302
    assert client.post("/round/start/FAM-1/1").status_code == 302
    data = app.session_interface.get_signing_serializer(app).loads(client.get_cookie("session").value)
    assert "round" in data
    text = json.dumps(data)
    for name in ("Sandra", "Daan", "FAM-1"):
        assert name not in text
    with app.app_context():
        hashes = set(db.session.scalars(sa.select(RequestToken.token_hash)))
        # The round makes no links now (it used to make one per attendee): the scenario's two are all there are.
        assert count(RequestToken) == 2
        asked = dict(
            db.session.execute(
                sa.select(QuestionnaireRequest.member_id, QuestionnaireRequest.id).where(
                    QuestionnaireRequest.session_id == scenario.fam1.sessions[1]
                )
            ).all()
        )
    # Only ids: the session's, and member id -> request id of each attendee's request.
    assert data["round"] == {
        "session_id": scenario.fam1.sessions[1],
        "requests": {str(member_id): request_id for member_id, request_id in asked.items()},
    }
    assert set(asked) == {scenario.fam1.members["M1"], scenario.fam1.members["C1"]}
    pieces = {piece for s in strings(data) for piece in re.split(r"[^A-Za-z0-9_-]", s) if piece} | set(strings(data))
    assert not {piece for piece in pieces if hashlib.sha256(piece.encode()).hexdigest() in hashes}
    assert not [piece for piece in pieces if len(piece) >= 43 and piece != data.get("_id")]

    pick = client.get("/round/")
    assert "Sandra" in pick.text and "Daan" in pick.text  # the round still works
    daan = re.search(r'href="(/round/\d+)">Daan', pick.text).group(1)
    sent = client.post(daan, data={"bond": "9", "goals_tasks": "8"})
    assert sent.status_code == 302
    with app.app_context():
        answers = dict(
            db.session.execute(
                sa.select(Response.item, Response.value).where(Response.member_id == scenario.fam1.members["C1"])
            ).all()
        )
    assert answers == {"bond": 9, "goals_tasks": 8, "safety": None, "shared_purpose": None}
    assert daan_request(app, scenario) == ("answered", "round")
