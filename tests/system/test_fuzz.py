"""Bad input at scale: random and hostile input at every form, the member questionnaire and the importer.

Every target is driven through the Flask test client (logged in through the real form where a login is
needed), the importer also directly. Whatever comes in, the answer must be

- a refusal with a clear message (a form shown again with its error summary, an error page, or a JSON
  body naming the problem), and then the database is exactly as before: every row of every table in
  ``db.metadata.sorted_tables`` is compared, not only the counts; or
- a clean success (2xx/3xx), whose write is checked to be whole and consistent with what was sent;

never a 500: the test app propagates exceptions, so a crash fails the example with its traceback.

Inputs come from hypothesis: text with control characters and any surrogate-free unicode, bytes,
integers at the edges (0, -1, +-2**63, ...), floats, dates, and above all "almost valid" input (a valid
form or file with one field or cell mutated), which passes the outer checks and reaches the deep code.

The examples per target are modest, so the file runs in about a minute on SQLite. For a deep run,
scale them all with ``FUZZ_EXAMPLES`` (a factor, default 1), for instance
``FUZZ_EXAMPLES=20 .venv/bin/pytest tests/system/test_fuzz.py``; on PostgreSQL add
``TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<a database of your own>``.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import os
import re
import urllib.parse
from dataclasses import dataclass

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st

from familyalliance.core import plan, scoring, vocab
from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.validation import LONG_HEADER
from familyalliance.services import casework, importer, requests
from familyalliance.store import scores
from familyalliance.store.db import db
from familyalliance.store.models import (
    Family,
    FormScore,
    Member,
    QuestionnaireRequest,
    RequestToken,
    Response,
    ResponseChange,
    TherapySession,
    User,
)

from ..factories import PASSWORD
from ..scenarios import COURSE_MEMBERS, Scenario, course_answers, rebuild

SCALE = float(os.environ.get("FUZZ_EXAMPLES", "1"))
INSTRUMENTS = builtin_instruments()


def fuzz(examples: int):
    """Hypothesis settings for one target: ``examples`` (times FUZZ_EXAMPLES), no deadline, fixtures shared."""
    return settings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# --- The scenario every test starts from ------------------------------------------------------

#: The scenario's ``course`` (``scenarios.py``): FAM-1 of ann (Team A) with mother M1, youth Y1 and child C1
#: over sessions 1-3 and answers at session 1; FAM-2 of cas (Team B); ann, bob, cas, lead, lone (Team C's
#: lead, no families), research and admin.
pytestmark = pytest.mark.scenario("course")


def restore_answers(app, scenario: Scenario) -> None:
    """FAM-1's answers (and corrections) back to the scenario's, and its questionnaire requests as they were
    (open again, no links): an answered request takes no answers and gets no link, so each example starts afresh."""
    requests_table = QuestionnaireRequest.__table__
    with app.app_context():
        if "requests" not in scenario.extra:  # the first call, before any example wrote
            scenario.extra["requests"] = [
                dict(r)
                for r in db.session.execute(sa.select(requests_table)).mappings()
                if r["family_id"] == scenario.fam1.id
            ]
        fam1_requests = sa.select(QuestionnaireRequest.id).where(QuestionnaireRequest.family_id == scenario.fam1.id)
        db.session.execute(sa.delete(RequestToken).where(RequestToken.request_id.in_(fam1_requests)))
        for model in (Response, FormScore, ResponseChange, QuestionnaireRequest):
            db.session.execute(sa.delete(model).where(model.family_id == scenario.fam1.id))
        db.session.execute(sa.insert(requests_table), scenario.extra["requests"])
        course_answers(scenario.fam1)
        db.session.commit()
        db.session.remove()


def delete(app, model, key: int) -> None:
    """Delete one row (and, through the foreign keys, what hangs on it)."""
    with app.app_context():
        db.session.execute(sa.delete(model).where(model.__table__.primary_key.columns.values()[0] == key))
        db.session.commit()
        db.session.remove()


def login(client, email: str) -> None:
    """Log in through the real form, in English, and let the caseload store its summaries once."""
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    assert client.get("/families/?lang=en").status_code in (200, 403)  # researchers have no caseload


def login_once(client, email: str) -> None:
    """Log in unless this client already is (hypothesis runs many examples on one client)."""
    with client.session_transaction() as session:
        logged_in = "_user_id" in session
    if not logged_in:
        login(client, email)


# --- The database before and after a request ----------------------------------------------------


def _freeze(value):
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


#: Tables a refused request may still write to: the audit log records refused attempts too, by design.
LOGS = frozenset({"audit_event"})
#: Columns that follow a family's revision as the page cache's versions and the stale summaries' index do
#: (``summaries.touch`` and the commit after it): every family change moves them, the family's revision says
#: which family changed (checked), and they hold nothing of record.
FOLLOW_THE_REVISION = {"team": {"revision"}, "user": {"assigned_revision"}, "family": {"summary_due"}}


def snapshot(app, ignore: dict[str, set[str]] | None = None) -> dict[str, frozenset]:
    """Every row of every table but the logs, as sets of ((column, value), ...); ``ignore``: columns left out,
    besides those that follow the revision (``FOLLOW_THE_REVISION``)."""
    ignore = {
        name: set(FOLLOW_THE_REVISION.get(name, ())) | set((ignore or {}).get(name, ()))
        for name in {*FOLLOW_THE_REVISION, *(ignore or {})}
    }
    with app.app_context():
        state = {}
        for table in db.metadata.sorted_tables:
            if table.name in LOGS:
                continue
            columns = [c for c in table.columns if c.name not in ignore.get(table.name, ())]
            state[table.name] = frozenset(
                tuple(zip([c.name for c in columns], map(_freeze, row), strict=True))
                for row in db.session.execute(sa.select(*columns))
            )
        db.session.remove()
    return state


@dataclass
class Change:
    added: list[dict]
    removed: list[dict]


def changes(before: dict, after: dict) -> dict[str, Change]:
    """Per table, the rows that appeared and disappeared (an update is one of each)."""
    out = {}
    for name in before:
        added, removed = after[name] - before[name], before[name] - after[name]
        if added or removed:
            out[name] = Change([dict(r) for r in added], [dict(r) for r in removed])
    return out


def post_checked(app, client, url: str, form, success: int = 302):
    """POST ``form``; a refusal is checked (``assert_refused``) and gives None, a success (response, before, after)."""
    before = snapshot(app)
    response = client.post(url, data=form)
    after = snapshot(app)
    if currently_in_test_context():  # also sent once outside hypothesis: test_each_fuzzed_form_takes_its_valid_form
        event(f"answer {response.status_code}")
    if response.status_code != success:
        assert_refused(response, before, after)
        return None
    return response, before, after


def assert_scores_follow_answers(state: dict) -> None:
    """Every form's stored scores are what scoring its stored answers gives (one row per form, none more)."""
    key = list(scores.FORM_KEY)
    answers = pd.DataFrame([dict(r) for r in state["response"]], columns=[*key, "item", "value"])
    answers["value"] = pd.to_numeric(answers["value"]).astype("float64")
    expected = set()
    if not answers.empty:
        instruments = builtin_instruments()
        forms = scoring.score_sums(scoring.form_sums(answers, instruments, key=key), instruments)
        forms = forms[list(scores.COLUMNS)].astype(object).where(forms[list(scores.COLUMNS)].notna(), None)
        expected = {tuple(row) for row in forms.itertuples(index=False, name=None)}
    stored = {tuple(dict(r)[c] for c in scores.COLUMNS) for r in state["form_score"]}
    assert stored == expected


def rows(state: dict, table: str, **where) -> list[dict]:
    """Rows of ``table`` in a snapshot, filtered by column values."""
    found = [dict(r) for r in state[table]]
    return [r for r in found if all(r[k] == v for k, v in where.items())]


def assert_refused(response, before: dict, after: dict) -> None:
    """A refusal: no 500, a message that says what is wrong, and the database exactly as before."""
    assert response.status_code < 500
    assert after == before, f"refused with {response.status_code}, yet written: {changes(before, after)}"
    if response.is_json:
        body = response.get_json()
        assert body.get("problems") or body.get("error") or body.get("state"), body
    elif response.status_code in (200, 400, 422):  # a form again: its error summary, or errors by its fields
        assert "error-summary" in response.text or 'class="error"' in response.text, response.text[:2000]
    elif response.status_code == 308:  # a path with "//" in it: werkzeug's redirect to the merged path
        assert "//" in response.request.path
    else:
        assert response.status_code in (403, 404, 405, 409, 410, 413), response.status_code
        assert "<h1>" in response.text


def assert_bumped(change: Change, family_id: int) -> None:
    """The family row changed only by its revision, raised (summaries.touch)."""
    (old,) = [r for r in change.removed if r["id"] == family_id]
    (new,) = [r for r in change.added if r["id"] == family_id]
    assert new["revision"] > old["revision"]
    assert {k: v for k, v in new.items() if k != "revision"} == {k: v for k, v in old.items() if k != "revision"}


# --- Forms that must take something -----------------------------------------------------------


@dataclass
class Tally:
    """How many examples of a property test the form took, and how many it refused."""

    taken: int = 0
    refused: int = 0

    def count(self, taken: bool) -> None:
        if taken:
            self.taken += 1
        else:
            self.refused += 1


@pytest.fixture
def tally() -> Tally:
    """Counts over all examples of one test (hypothesis runs them all on the test's fixtures)."""
    return Tally()


def takes_some(test):
    """Fail the property test when its form refused every example it was sent.

    A refused example passes on its own (a clean refusal is a right answer), so a form broken to
    refuse everything would pass every example: the checks of a write would never run. The examples
    are mostly (almost) valid forms, and the valid form as it stands is among them in every run (the
    simplest example of ``almost_valid``, or an explicit ``@example``);
    ``test_each_fuzzed_form_takes_its_valid_form`` sends each on its own.
    """

    @functools.wraps(test)
    def run(*args, **kwargs):
        test(*args, **kwargs)
        tally = kwargs["tally"]
        assert tally.taken, f"the form refused all {tally.refused} examples: not one write was checked"

    return run


# --- Strategies ----------------------------------------------------------------------------------

#: Any text without surrogates, control characters (NUL included) and all.
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
CONTROL = st.text(st.characters(min_codepoint=0, max_codepoint=0x1F), min_size=1, max_size=4)
HOSTILE = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\n",
    "\r\n",
    "\t",
    "x\n",
    "\u202e",
    "\ufeff",
    "\u00a0",
    "é",
    "İ",
    "٣",
    "５",
    "𝟓",
    "🙂",
    "=cmd|' /C calc'!A0",
    "+1",
    "-1",
    "@SUM(A1)",
    "'",
    '"',
    "'-1",
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "%s%n",
    "../../etc/passwd",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "0x10",
    "1_000",
    "1.0",
    "1.5",
    "10.",
    "None",
    "null",
    "true",
    "[]",
    "{}",
    "0",
    "-0",
    "00007",
    " 7 ",
    str(2**63),
    str(-(2**63)),
    str(2**63 - 1),
    str(-(2**63) - 1),
    str(2**31),
    str(2**15),
    "9" * 5000,
    "0" * 5000 + "5",
    "A" * 100_000,
    "é" * 200,
)
hostile = st.one_of(st.sampled_from(HOSTILE), ANY_TEXT, CONTROL)
EDGE_INTS = (
    0,
    -1,
    1,
    2,
    3,
    4,
    20,
    21,
    1899,
    1900,
    2100,
    10_000,
    10_001,
    100_000,
    100_001,
    2**15,
    2**31,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
)
int_text = st.one_of(st.sampled_from(EDGE_INTS), st.integers()).map(str)
number_text = st.one_of(int_text, st.floats().map(str), hostile)
BAD_DATES = (
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "2026-1-5",
    "2026/01/05",
    "05-01-2026",
    "2026-01-05T10:00",
    " 2026-01-05",
    "2026-01-05\n",
    "٢٠٢٦-٠١-٠٥",
    "-2026-01-05",
    "26-01-05",
    "",
)
date_text = st.one_of(
    st.dates().map(dt.date.isoformat),
    st.sampled_from(BAD_DATES),
    st.from_regex(r"\A-?\d{1,5}-\d{1,3}-\d{1,3}\Z"),
    hostile,
)
valid_codes = st.from_regex(r"\A[A-Za-z0-9._-]{1,64}\Z")
codes = st.one_of(
    valid_codes,
    st.tuples(valid_codes, st.sampled_from(["\n", "\r\n", " ", "\x00", "é", "/", "?", "#", "%", "\t"])).map("".join),
    st.just("x" * 65),
    hostile,
)


def mostly(usual: st.SearchStrategy, rare: st.SearchStrategy, odds: int = 4) -> st.SearchStrategy:
    """``usual`` about ``odds`` times in ``odds + 1``, else ``rare``."""
    return st.integers(0, odds).flatmap(lambda i: rare if i == 0 else usual)


def several(values: st.SearchStrategy) -> st.SearchStrategy:
    """A form value, sometimes sent more than once."""
    return st.one_of(values, st.lists(values, min_size=0, max_size=3))


@st.composite
def almost_valid(draw, valid: dict, fields: dict[str, st.SearchStrategy]) -> dict:
    """A valid form, or one with a field changed or left out, several changed, or noise; plus stray fields."""
    form = dict(valid)
    names = sorted(fields)
    mode = draw(st.sampled_from(("valid", "one", "one", "one", "drop", "some", "noise")))
    if mode == "one":
        name = draw(st.sampled_from(names))
        form[name] = draw(several(fields[name]))
    elif mode == "drop":
        form.pop(draw(st.sampled_from(names)), None)
    elif mode == "some":
        for name in names:
            if draw(st.booleans()):
                form[name] = draw(several(fields[name]))
    elif mode == "noise":
        form = draw(st.dictionaries(st.one_of(st.sampled_from(names), ANY_TEXT), several(hostile), max_size=8))
    extra = draw(st.dictionaries(ANY_TEXT.filter(lambda k: k not in fields), hostile, max_size=2))
    return form | extra


def values(form: dict, name: str) -> list[str]:
    """The values a form sends for a field, as the server receives them."""
    value = form.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def first(form: dict, name: str) -> str | None:
    found = values(form, name)
    return found[0] if found else None


def given_or(form: dict, name: str, old):
    """The first value sent for a field; a field not sent keeps ``old`` (WTForms takes it from the object edited)."""
    found = values(form, name)
    return found[0] if found else old


def optional_int(form: dict, name: str, old=None) -> int | None:
    """WTForms' IntegerField behind Optional(): blank is None, not sent is ``old``."""
    raw = values(form, name)
    if not raw:
        return old
    return None if not raw[0].strip() else int(raw[0])


def optional_date(form: dict, name: str, old=None) -> dt.date | None:
    """WTForms' DateField (values joined by a space) behind Optional(): blank is None, not sent is ``old``."""
    raw = values(form, name)
    if not raw:
        return old
    return None if not raw[0].strip() else dt.datetime.strptime(" ".join(raw), "%Y-%m-%d").date()


def whole(text: str) -> int | None:
    """An accepted answer's number (int() alone refuses thousands of leading zeros); blank is None."""
    text = text.strip()
    if not text:
        return None
    return int(text.lstrip("+-").lstrip("0") or "0") * (-1 if text.startswith("-") else 1)


def no_control(text: str) -> bool:
    return not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def path(text: str) -> str:
    """A path segment, percent-encoded."""
    return urllib.parse.quote(text, safe="")


# --- Login ------------------------------------------------------------------------------------------


def _splits(target: str) -> bool:
    try:
        urllib.parse.urlsplit(target)
    except ValueError:
        return False
    return True


NEXT = st.one_of(
    st.sampled_from(
        [
            "/families/",
            "//evil.example",
            "http://evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "/families/?a=b#c",
            "////",
            "",
            "/r/x",
            "%2F%2Fevil",
            "/\x00",
            "/\n/evil",
        ]
    ),
    ANY_TEXT,
    st.from_regex(r"\A/[ -~]{0,30}\Z"),
).filter(_splits)  # a target urlsplit refuses crashes the login: test_login_next_that_urlsplit_refuses


@fuzz(120)
@given(data=st.data())
def test_login_form(app, scenario, data):
    """Any email and password (missing, huge, NUL, unicode, almost right): logged in only with the real ones."""
    emails = st.one_of(
        hostile,
        st.emails(),
        st.sampled_from(
            [
                "ann@example.org",
                "ANN@Example.org",
                " ann@example.org ",
                "ann@example.org\x00",
                "ann@example.org\n",
                "ann@example.org" + " " * 300,
                "ann@exаmple.org",
                "bob@example.org",
            ]
        ),
    )
    passwords = st.one_of(hostile, st.sampled_from([PASSWORD, PASSWORD.upper(), PASSWORD + " ", PASSWORD + "\x00"]))
    form = data.draw(
        almost_valid({"email": "ann@example.org", "password": PASSWORD}, {"email": emails, "password": passwords})
    )
    target = data.draw(st.none() | NEXT)
    # Many tries from one address, with the right email among them: no rate limit, no lockout here.
    app.config.update(LOGIN_RATE_LIMIT="100000 per minute", LOGIN_MAX_FAILURES=10**9)
    client = app.test_client()
    counters = {"user": {"failed_logins", "locked_until"}}  # a failed login counts, by design
    before = snapshot(app, counters)
    url = "/login?lang=en" + ("" if target is None else "&" + urllib.parse.urlencode({"next": target}))
    response = client.post(url, data=form)
    after = snapshot(app, counters)
    event(f"answer {response.status_code}")
    assert after == before, changes(before, after)
    email, password = first(form, "email"), first(form, "password")
    accounts = {f"{name}@example.org" for name in scenario.users}  # all with the same password
    right = (
        email is not None
        and password == PASSWORD
        and no_control(email)
        and len(email) <= 254
        and email.strip().lower() in accounts
    )
    if response.status_code == 302:
        assert right, form
        location = urllib.parse.urlsplit(response.location)
        assert not location.scheme and not location.netloc and response.location.startswith("/")
        assert not response.location.startswith("//")
        assert client.get("/").status_code == 302  # to the start page of the account's role
    else:
        assert not right, form
        assert response.status_code in (200, 401)
        assert "Email or password is not correct" in response.text or 'class="error"' in response.text


def test_login_next_that_urlsplit_refuses(client, scenario):
    response = client.post("/login?next=//%5B", data={"email": "ann@example.org", "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/families/"  # her start page, not the odd next


# --- Families --------------------------------------------------------------------------------------


def _therapist_ids(scenario: Scenario):
    known = [scenario.users[n] for n in ("ann", "bob", "lead", "cas", "research", "admin")]
    return several(st.one_of(st.sampled_from(known), st.sampled_from(EDGE_INTS), hostile).map(str))


def family_fields(scenario: Scenario) -> dict:
    return {
        "code": st.one_of(codes, st.sampled_from(["FAM-1", "FAM-2", "fam-1"])),
        "status": st.one_of(st.sampled_from(vocab.FAMILY_STATUSES), hostile),
        "start_date": date_text,
        "full_every": number_text,
        "therapists": _therapist_ids(scenario),
    }


def check_family_row(family: dict, form: dict, old: dict | None = None) -> None:
    """The family row holds what was sent (a field not sent keeps its value when editing)."""
    old = old or {"code": None, "status": None, "start_date": None, "full_every": plan.DEFAULT_FULL_EVERY}
    assert family["code"] == given_or(form, "code", old["code"]) and vocab.is_valid_code(family["code"])
    assert family["status"] == given_or(form, "status", old["status"]) and family["status"] in vocab.FAMILY_STATUSES
    assert family["start_date"] == optional_date(form, "start_date", old["start_date"])
    full_every = optional_int(form, "full_every", old["full_every"])
    assert family["full_every"] == (plan.DEFAULT_FULL_EVERY if full_every is None else full_every)
    assert 0 <= family["full_every"] <= 20
    assert (family["closed_on"] is not None) == (family["status"] == "closed")


def new_family_form(scenario: Scenario, code: str = "FAM-NEW") -> dict:
    return {
        "code": code,
        "status": "active",
        "start_date": "2026-03-02",
        "full_every": "3",
        "therapists": [str(scenario.users["ann"]), str(scenario.users["bob"])],
    }


def send_new_family(app, client, scenario: Scenario, form: dict) -> bool:
    """Open a family: False after a clean refusal; else the write checked, the family deleted again, and True."""
    sent = post_checked(app, client, "/families/new", form)
    if sent is None:  # refused cleanly, nothing written
        return False
    response, before, after = sent
    change = changes(before, after)
    assert set(change) <= {"family", "family_therapist"}
    (family,) = change["family"].added
    assert not change["family"].removed
    check_family_row(family, form)
    assert family["team_id"] == scenario.teams["A"]
    chosen = {int(v) for v in values(form, "therapists")}
    assert {r["user_id"] for r in change["family_therapist"].added} == chosen
    assert chosen <= {scenario.users[n] for n in ("ann", "bob", "lead")}  # the team's clinicians only
    # The creator sees the family if they assigned themselves (the form offers it, ticked).
    assert client.get(response.location).status_code == (200 if scenario.users["ann"] in chosen else 404)
    delete(app, Family, family["id"])  # back to the start: the same example gives the same answer again
    return True


@takes_some
@fuzz(80)
@given(data=st.data())
def test_family_form_new(app, client, scenario, tally, data):
    login_once(client, "ann@example.org")
    valid = new_family_form(scenario, data.draw(valid_codes))
    form = data.draw(almost_valid(valid, family_fields(scenario)))
    tally.count(send_new_family(app, client, scenario, form))


def family_edit_form(scenario: Scenario) -> dict:
    return {
        "code": "FAM-1",
        "status": "paused",
        "start_date": "2026-01-05",
        "full_every": "2",
        "therapists": [str(scenario.users["ann"])],
    }


def send_family_edit(app, client, scenario: Scenario, form: dict) -> bool:
    """Edit FAM-1: False after a clean refusal; else the write checked, FAM-1 put back, and True."""
    sent = post_checked(app, client, "/families/FAM-1/edit", form)
    if sent is None:  # refused cleanly, nothing written
        return False
    response, before, after = sent
    change = changes(before, after)
    assert set(change) <= {"family", "family_therapist"}
    (family,) = [r for r in change["family"].added if r["id"] == scenario.fam1.id]
    check_family_row(family, form, *rows(before, "family", id=scenario.fam1.id))
    chosen = {int(v) for v in values(form, "therapists")}
    assert {r["user_id"] for r in rows(after, "family_therapist", family_id=scenario.fam1.id)} == chosen
    with app.app_context():  # back to the start, so that ann keeps seeing FAM-1 under its code
        casework.update_family(
            db.session.get(Family, scenario.fam1.id),
            "FAM-1",
            dt.date(2026, 1, 5),
            "active",
            [db.session.get(User, scenario.users["ann"])],
        )
        db.session.commit()
    return True


@takes_some
@fuzz(80)
@given(data=st.data())
def test_family_form_edit(app, client, scenario, tally, data):
    login_once(client, "ann@example.org")
    form = data.draw(almost_valid(family_edit_form(scenario), family_fields(scenario)))
    tally.count(send_family_edit(app, client, scenario, form))


# --- Members ---------------------------------------------------------------------------------------

MEMBER_FIELDS = {
    "code": st.one_of(codes, st.sampled_from(["M1", "Y1", "C1", "m1"])),
    "display_name": st.one_of(hostile, st.text(min_size=119, max_size=122)),
    "role": st.one_of(st.sampled_from(vocab.ROLES), hostile),
    "birth_year": st.one_of(st.integers(1890, dt.date.today().year + 2).map(str), number_text),
    "active_from": date_text,
    "active_to": date_text,
}


def check_member_row(member: dict, form: dict, old: dict | None = None) -> None:
    """The member row holds what was sent (a field not sent keeps its value when editing)."""
    old = old or dict.fromkeys(("code", "display_name", "role", "birth_year", "active_from", "active_to"))
    assert member["code"] == given_or(form, "code", old["code"]) and vocab.is_valid_code(member["code"])
    name = member["display_name"]
    assert name == given_or(form, "display_name", old["display_name"])
    assert name.strip() and len(name) <= 120 and no_control(name)
    assert member["role"] == given_or(form, "role", old["role"]) and member["role"] in vocab.ROLES
    assert member["birth_year"] == optional_int(form, "birth_year", old["birth_year"])
    assert member["birth_year"] is None or 1900 <= member["birth_year"] <= dt.date.today().year
    assert member["active_from"] == optional_date(form, "active_from", old["active_from"])
    assert member["active_to"] == optional_date(form, "active_to", old["active_to"])
    if member["active_from"] and member["active_to"]:
        assert member["active_to"] >= member["active_from"]


NEW_MEMBER_NAME = "Mehmet"


def new_member_form(code: str = "F1") -> dict:
    return {
        "code": code,
        "display_name": NEW_MEMBER_NAME,
        "role": "father",
        "birth_year": "1975",
        "active_from": "2026-01-05",
        "active_to": "",
    }


def send_new_member(app, client, scenario: Scenario, form: dict) -> bool:
    """Add a member to FAM-1: False after a clean refusal; else the write checked, the member deleted, and True."""
    sent = post_checked(app, client, "/families/FAM-1/members/new", form)
    if sent is None:  # refused cleanly, nothing written
        return False
    response, before, after = sent
    change = changes(before, after)
    assert set(change) == {"member", "family"}
    (member,) = change["member"].added
    assert not change["member"].removed and member["family_id"] == scenario.fam1.id
    check_member_row(member, form)
    assert_bumped(change["family"], scenario.fam1.id)
    if member["display_name"] != NEW_MEMBER_NAME:  # an odd name: the dashboard (its charts) still shows
        assert client.get(response.location).status_code == 200
    delete(app, Member, member["id"])
    return True


@takes_some
@fuzz(80)
@given(data=st.data())
def test_member_form_new(app, client, scenario, tally, data):
    login_once(client, "ann@example.org")
    valid = new_member_form(data.draw(valid_codes.filter(lambda c: c not in ("M1", "Y1", "C1"))))
    form = data.draw(almost_valid(valid, MEMBER_FIELDS))
    tally.count(send_new_member(app, client, scenario, form))


def member_edit_form(code: str) -> dict:
    return {
        "code": code,
        "display_name": "Someone",
        "role": {"M1": "mother", "C1": "child"}[code],
        "birth_year": "",
        "active_from": "",
        "active_to": "2026-06-30",
    }


def send_member_edit(app, client, scenario: Scenario, code: str, form: dict) -> bool:
    """Edit a member of FAM-1: False after a clean refusal; else the write checked, the member put back, and True."""
    sent = post_checked(app, client, f"/families/FAM-1/members/{code}/edit", form)
    if sent is None:  # refused cleanly, nothing written
        return False
    response, before, after = sent
    change = changes(before, after)
    assert set(change) <= {"member", "family"}
    (member,) = rows(after, "member", id=scenario.fam1.members[code])
    check_member_row(member, form, *rows(before, "member", id=scenario.fam1.members[code]))
    if code == "M1":
        assert member["role"] == "mother"  # has ratings: the role stays
    with app.app_context():
        casework.update_member(db.session.get(Member, scenario.fam1.members[code]), **COURSE_MEMBERS[code])
        db.session.commit()
    return True


@takes_some
@fuzz(80)
@given(data=st.data(), code=st.sampled_from(["M1", "C1"]))
def test_member_form_edit(app, client, scenario, tally, data, code):
    """M1 has ratings (role locked), C1 has none."""
    login_once(client, "ann@example.org")
    form = data.draw(almost_valid(member_edit_form(code), MEMBER_FIELDS))
    tally.count(send_member_edit(app, client, scenario, code, form))


# --- Sessions --------------------------------------------------------------------------------------


def session_fields(scenario: Scenario) -> dict:
    known = [*scenario.fam1.members.values(), scenario.fam2.members["M1"]]
    return {
        "number": st.one_of(st.sampled_from(["1", "2", "3", "4", "10000", "10001"]), number_text),
        "date": date_text,
        "target": st.one_of(st.sampled_from(vocab.TARGETS), hostile),
        "attendance": several(st.one_of(st.sampled_from(known), st.sampled_from(EDGE_INTS), hostile).map(str)),
    }


def check_session(after: dict, session_id: int, form: dict, old_target: str = "therapist") -> None:
    """The session row and one attendance row per member of the family, planned by the family's plan."""
    (session,) = rows(after, "therapy_session", id=session_id)
    assert session["number"] == int(first(form, "number")) and 1 <= session["number"] <= 10_000
    assert session["date"] == optional_date(form, "date")
    assert session["target"] == given_or(form, "target", old_target)
    (family,) = rows(after, "family", id=session["family_id"])
    present = {int(v) for v in values(form, "attendance")}
    expected = {
        m["id"]: (
            m["id"] in present,
            plan.default_instrument(m["role"], session["number"], family["full_every"]) if m["id"] in present else None,
        )
        for m in rows(after, "member", family_id=session["family_id"])
    }
    attendance = {
        a["member_id"]: (a["present"], a["instrument"]) for a in rows(after, "attendance", session_id=session_id)
    }
    assert attendance == expected


def check_requests(before: dict, after: dict, session_id: int) -> None:
    """The session's questionnaire requests follow its attendance (``requests.sync_session``), and nothing else changed.

    One request per member present with a planned questionnaire, about the session's target, asked (not withdrawn);
    every other self-report request not answered is withdrawn. A request changes only by being withdrawn or asked
    again; none is removed; another session's requests stay as they were.
    """
    (session,) = rows(after, "therapy_session", id=session_id)
    planned = {
        (a["member_id"], a["instrument"])
        for a in rows(after, "attendance", session_id=session_id, present=True)
        if a["instrument"]
    }
    old = {r["id"]: r for r in rows(before, "questionnaire_request", session_id=session_id)}
    new = {r["id"]: r for r in rows(after, "questionnaire_request", session_id=session_id)}
    assert set(old) <= set(new)
    for request_id, request in new.items():
        wanted = (request["member_id"], request["instrument"]) in planned and request["target"] == session["target"]
        withdrawable = request["answered_at"] is None and INSTRUMENTS[request["instrument"]].informant == "self"
        if request_id in old:
            unchanged = {k: v for k, v in old[request_id].items() if k != "withdrawn_at"}
            assert {k: v for k, v in request.items() if k != "withdrawn_at"} == unchanged
            if not wanted and (old[request_id]["withdrawn_at"] is not None or not withdrawable):
                assert request["withdrawn_at"] == old[request_id]["withdrawn_at"]  # withdrawn once, or left alone
        else:  # a new request: asked, nothing answered, no link yet
            assert wanted and request["family_id"] == session["family_id"]
            assert all(request[k] is None for k in ("expires_at", "draft", "answered_at", "withdrawn_at"))
        if wanted:
            assert request["withdrawn_at"] is None
        elif withdrawable:
            assert request["withdrawn_at"] is not None
    asked = {(r["member_id"], r["instrument"]) for r in new.values() if r["target"] == session["target"]}
    assert planned <= asked
    elsewhere = [
        {r for r in state["questionnaire_request"] if dict(r)["session_id"] != session_id} for state in (before, after)
    ]
    assert elsewhere[0] == elsewhere[1]


NEW_SESSION_DATE = "2026-02-02"


def new_session_form(scenario: Scenario, number: int = 4) -> dict:
    return {
        "number": str(number),
        "date": NEW_SESSION_DATE,
        "target": "therapist",
        "attendance": [str(scenario.fam1.members["M1"]), str(scenario.fam1.members["C1"])],
    }


def send_new_session(app, client, scenario: Scenario, form: dict) -> bool:
    """Record a session of FAM-1: False after a clean refusal; else the write checked, the session deleted, True."""
    sent = post_checked(app, client, "/families/FAM-1/sessions/new", form)
    if sent is None:  # refused cleanly, nothing written
        return False
    response, before, after = sent
    change = changes(before, after)
    (session,) = change["therapy_session"].added
    assert not change["therapy_session"].removed and session["family_id"] == scenario.fam1.id
    check_session(after, session["id"], form)
    # The session's requests are made with it: one per attendee with a planned questionnaire (none without).
    asked = any(a["instrument"] for a in rows(after, "attendance", session_id=session["id"], present=True))
    assert set(change) == {"therapy_session", "attendance", "family"} | ({"questionnaire_request"} if asked else set())
    check_requests(before, after, session["id"])
    assert not change.get("questionnaire_request", Change([], [])).removed
    assert_bumped(change["family"], scenario.fam1.id)
    assert client.get(f"/families/FAM-1/sessions/{session['number']}").status_code == 200
    if session["date"].isoformat() != NEW_SESSION_DATE:  # an odd date: the dashboard still shows
        assert client.get("/families/FAM-1").status_code == 200
    delete(app, TherapySession, session["id"])
    return True


@takes_some
@fuzz(80)
@given(data=st.data())
def test_session_form_new(app, client, scenario, tally, data):
    login_once(client, "ann@example.org")
    valid = new_session_form(scenario, data.draw(st.integers(4, 10_000)))
    form = data.draw(almost_valid(valid, session_fields(scenario)))
    tally.count(send_new_session(app, client, scenario, form))


def session_edit_form(scenario: Scenario) -> dict:
    return {"number": "3", "date": "2026-01-27", "target": "team", "attendance": [str(scenario.fam1.members["Y1"])]}


def send_session_edit(app, client, scenario: Scenario, form: dict) -> bool:
    """Edit FAM-1's session 3: False after a clean refusal; else the write checked, the session put back, True."""
    sent = post_checked(app, client, "/families/FAM-1/sessions/3/edit", form)
    if sent is None:  # refused cleanly, nothing written
        return False
    response, before, after = sent
    # The requests follow the attendance (some withdrawn, some asked or made): they change with it, or not at all.
    assert set(changes(before, after)) <= {"therapy_session", "attendance", "family", "questionnaire_request"}
    (old,) = rows(before, "therapy_session", id=scenario.fam1.sessions[3])
    check_session(after, scenario.fam1.sessions[3], form, old["target"])
    check_requests(before, after, scenario.fam1.sessions[3])
    with app.app_context():
        family = db.session.get(Family, scenario.fam1.id)
        session = db.session.get(TherapySession, scenario.fam1.sessions[3])
        everyone = list(scenario.fam1.members.values())
        casework.record_session(family, 3, dt.date(2026, 1, 26), everyone, session=session)
        db.session.commit()
    return True


@takes_some
@fuzz(80)
@given(data=st.data())
def test_session_form_edit(app, client, scenario, tally, data):
    login_once(client, "ann@example.org")
    form = data.draw(almost_valid(session_edit_form(scenario), session_fields(scenario)))
    tally.count(send_session_edit(app, client, scenario, form))


# --- The caseload's filters ---------------------------------------------------------------------------


@fuzz(80)
@given(data=st.data())
def test_caseload_filters(app, client, scenario, data):
    """The GET form: any team, therapist, status, flag and page; 200 or 400, and nothing written."""
    login_once(client, "ann@example.org")
    ids = st.one_of(st.sampled_from([*scenario.teams.values(), *scenario.users.values()]), st.sampled_from(EDGE_INTS))
    fields = {
        "team": st.one_of(ids.map(str), st.sampled_from(["", "None"]), hostile),
        "therapist": st.one_of(ids.map(str), st.sampled_from(["", "None"]), hostile),
        "status": st.one_of(st.sampled_from(vocab.FAMILY_STATUSES), hostile),
        "flag": st.one_of(st.sampled_from(["split", "rupture", "low_early", "gap", "summary", "__class__"]), hostile),
        "page": number_text,
    }
    query = data.draw(
        almost_valid(
            {
                "team": str(scenario.teams["A"]),
                "therapist": str(scenario.users["ann"]),
                "status": "active",
                "flag": "",
                "page": "1",
            },
            fields,
        )
    )
    before = snapshot(app)
    response = client.get("/families/", query_string=query)
    after = snapshot(app)
    event(f"answer {response.status_code}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert_refused(response, before, after)
    assert after == before


# --- Grids --------------------------------------------------------------------------------------------


@fuzz(100)
@given(data=st.data())
def test_grid(app, client, scenario, data):
    """Random cells, names and values in the paper-form and observation grids: what was changed stored, or nothing."""
    login_once(client, "ann@example.org")
    restore_answers(app, scenario)
    number = data.draw(mostly(st.sampled_from([1, 2, 3]), st.sampled_from(EDGE_INTS)))
    code = data.draw(mostly(st.sampled_from(["observer4", "check4", "alliance16"]), hostile))
    instrument = INSTRUMENTS.get(code)
    members = [*scenario.fam1.members.values(), scenario.fam2.members["M1"], 0, -1]
    low, high = (instrument.scale_min, instrument.scale_max) if instrument else (0, 10)
    cell = mostly(
        st.one_of(st.integers(low, high).map(str), st.just("")),
        st.one_of(st.integers(low - 2, high + 2).map(str), number_text),
        odds=12,
    )
    before = snapshot(app)
    # The grid sends each cell's value as shown ("o-"), so that a change saved meanwhile is not overwritten.
    stored = {
        (r["member_id"], r["item"]): "" if r["value"] is None else str(r["value"])
        for r in rows(before, "response", family_id=scenario.fam1.id, instrument=code)
        if r["session_id"] == scenario.fam1.sessions.get(number)
    }
    form = {}
    if instrument is not None:
        for member in members:
            for item in instrument.items:
                if data.draw(st.booleans()):
                    form[f"v-{member}-{item.code}"] = data.draw(several(cell))
                shown = stored.get((member, item.code), "")
                form[f"o-{member}-{item.code}"] = data.draw(mostly(st.just(shown), cell, odds=12))
    form |= data.draw(
        st.dictionaries(
            st.one_of(ANY_TEXT, st.from_regex(r"\A[vo]-\d{1,3}-[a-z_0-9]{1,12}\Z")), several(cell), max_size=4
        )
    )
    url = f"/families/FAM-1/sessions/{number}/grid/{path(code)}"
    response = client.post(url, data=form)
    after = snapshot(app)
    event(f"answer {response.status_code}")
    if response.status_code not in (302, 409):
        assert response.status_code in (404, 422)
        return assert_refused(response, before, after)
    # Both answers mean every cell was valid. Only cells typed differently from what the grid showed are
    # written; one whose stored value is no longer the one shown (saved by someone else) is a conflict.
    session_id = scenario.fam1.sessions[number]
    (session,) = rows(before, "therapy_session", id=session_id)
    key = {"session_id": session_id, "instrument": code, "target": session["target"]}
    present = [
        a["member_id"]
        for a in rows(before, "attendance", session_id=session_id, present=True)
        if instrument.informant != "self" or a["instrument"] == code
    ]
    expected, olds, conflicts, corrected = {}, {}, set(), 0
    for member in present:
        typed = {i.code: whole(first(form, f"v-{member}-{i.code}") or "") for i in instrument.items}
        shown = {i.code: (first(form, f"o-{member}-{i.code}") or "").strip() for i in instrument.items}
        old = olds[member] = {r["item"]: r["value"] for r in rows(before, "response", member_id=member, **key)}
        edited = {item for item, value in typed.items() if ("" if value is None else str(value)) != shown[item]}
        conflicts |= {
            (member, item) for item in edited if ("" if old.get(item) is None else str(old[item])) != shown[item]
        }
        expected[member] = {item: typed[item] if item in edited or item not in old else old[item] for item in typed}
        expected[member] = expected[member] if edited else old
        corrected += len(edited & set(old))
    assert bool(conflicts) == (response.status_code == 409), (conflicts, response.status_code)
    if conflicts:
        return assert_refused(response, before, after)
    change = changes(before, after)
    fulfilled = check_grid_requests(before, after, scenario, present, key, instrument)
    answers_changed = any(expected[member] != olds[member] for member in present)
    # The forms' stored scores change with their answers (not always: a correction can leave a score as it was).
    assert set(change) - {"form_score"} == (
        ({"response", "family"} if answers_changed else set())
        | ({"response_change"} if corrected else set())
        | ({"questionnaire_request"} if fulfilled else set())
    )
    assert "form_score" not in change or answers_changed
    assert_scores_follow_answers(after)
    for member in present:
        new = {r["item"]: r["value"] for r in rows(after, "response", member_id=member, **key)}
        assert new == expected[member]
        assert all(v is None or instrument.scale_min <= v <= instrument.scale_max for v in new.values())
    assert len(change.get("response_change", Change([], [])).added) == corrected
    assert not change.get("response_change", Change([], [])).removed
    others = {r["member_id"] for c in ("response",) if c in change for r in change[c].added + change[c].removed}
    assert others <= set(present)


def check_grid_requests(before: dict, after: dict, scenario: Scenario, present: list, key: dict, instrument) -> set:
    """A saved grid answers the requests of the members whose form it now holds, and no other: by paper (a
    self-report typed in) or by the therapist's grid, typed by ann (a request it did not have yet is made so);
    a request answered before keeps how it was answered. Returns the ids of the requests it answered."""
    mode = "grid" if instrument.informant == "therapist" else "paper"
    where = {"session_id": key["session_id"], "instrument": key["instrument"], "target": key["target"]}
    old = {r["id"]: r for r in rows(before, "questionnaire_request", **where)}
    new = {r["id"]: r for r in rows(after, "questionnaire_request", **where)}
    holding = {member for member in present if rows(after, "response", member_id=member, **key)}
    fulfilled = set()
    for member in holding:
        (request,) = [r for r in new.values() if r["member_id"] == member]
        earlier = old.get(request["id"])
        if earlier is not None and earlier["answered_at"] is not None:
            assert request == earlier
            continue
        fulfilled.add(request["id"])
        assert request["answered_at"] is not None and request["answered_mode"] == mode
        assert request["answered_by_id"] == scenario.users["ann"]
        assert request["withdrawn_at"] is None and request["draft"] is None
        answered = ("answered_at", "answered_mode", "answered_by_id", "withdrawn_at", "draft")
        if earlier is not None:
            assert {k: v for k, v in request.items() if k not in answered} == {
                k: v for k, v in earlier.items() if k not in answered
            }
        else:
            assert request["family_id"] == scenario.fam1.id and request["expires_at"] is None
    change = changes(before, after).get("questionnaire_request", Change([], []))
    assert {r["id"] for r in change.added} == fulfilled
    assert {r["id"] for r in change.removed} <= fulfilled  # answered in place (an update), never deleted
    return fulfilled


# --- Session links --------------------------------------------------------------------------------------


def send_links(app, client, scenario: Scenario, code: str, number: int, body: dict) -> bool:
    """Ask for links: False after a clean refusal; else the links checked (one per planned attendee) and True."""
    sent = post_checked(app, client, f"/families/{path(code)}/sessions/{number}/links", body, success=200)
    if sent is None:  # refused cleanly, nothing written
        return False
    response, before, after = sent
    assert code == "FAM-1" and number in scenario.fam1.sessions
    session_id = scenario.fam1.sessions[number]
    change = changes(before, after)
    # A link is a new token of the request (the older one replaced), the request's expiry moves, and the family's
    # revision is raised (the caseload's reminder flag follows links): nothing else.
    assert set(change) == {"request_token", "questionnaire_request", "family"}
    assert_bumped(change["family"], scenario.fam1.id)
    planned = {a["member_id"]: a["instrument"] for a in rows(before, "attendance", session_id=session_id, present=True)}
    # The requests linked: every request of the session still to answer, one per attendee with a questionnaire.
    linked = {r["id"]: r for r in change["questionnaire_request"].added}
    old = {r["id"]: r for r in change["questionnaire_request"].removed}
    assert set(linked) == set(old)  # updated in place, none made or removed
    assert {r["member_id"]: r["instrument"] for r in linked.values()} == planned and len(linked) == len(planned)
    days = dt.timedelta(days=client.application.config["MEMBER_LINK_DAYS"])
    for request_id, request in linked.items():
        assert request["session_id"] == session_id
        assert request["answered_at"] is None and request["withdrawn_at"] is None
        assert {k: v for k, v in request.items() if k != "expires_at"} == {
            k: v for k, v in old[request_id].items() if k != "expires_at"
        }
        made = [t for t in change["request_token"].added if t["request_id"] == request_id and t["replaced_at"] is None]
        (token,) = made  # one new token each, the one that works
        assert request["expires_at"] == token["created_at"] + days
    tokens = change["request_token"]
    new_tokens = {t["token_hash"] for t in tokens.added} - {t["token_hash"] for t in tokens.removed}
    assert len(new_tokens) == len(linked)  # one token made per request
    for replaced in tokens.removed:  # a token that worked before is kept, as replaced
        (now,) = [t for t in tokens.added if t["token_hash"] == replaced["token_hash"]]
        assert replaced["replaced_at"] is None and now["replaced_at"] is not None and replaced["request_id"] in linked
    working = [t["request_id"] for t in rows(after, "request_token") if t["replaced_at"] is None]
    assert all(working.count(request_id) == 1 for request_id in linked)  # the newest link of each, only
    assert len(re.findall(r'<a href="http://localhost/r/', response.text)) == len(linked)  # each link shown once
    return True


@takes_some
@fuzz(40)
@given(
    code=mostly(st.just("FAM-1"), st.one_of(st.just("FAM-2"), codes), odds=2),
    number=mostly(st.sampled_from([1, 2, 3]), st.sampled_from(EDGE_INTS), odds=2),
    body=st.dictionaries(ANY_TEXT, hostile, max_size=3),
)
@example(code="FAM-1", number=1, body={})  # the simplest drawn example is the rare branch of mostly()
def test_session_links(app, client, scenario, tally, code, number, body):
    """The links POST: only the URL matters; one link per attendee with a planned questionnaire, or 404."""
    login_once(client, "ann@example.org")
    tally.count(send_links(app, client, scenario, code, number, body))


#: The targets of the seven tests above, each with its valid form: (send, the form's arguments in a scenario).
VALID_FORMS = {
    "family-new": (send_new_family, lambda scenario: [new_family_form(scenario)]),
    "family-edit": (send_family_edit, lambda scenario: [family_edit_form(scenario)]),
    "member-new": (send_new_member, lambda scenario: [new_member_form()]),
    "member-edit-M1": (send_member_edit, lambda scenario: ["M1", member_edit_form("M1")]),
    "member-edit-C1": (send_member_edit, lambda scenario: ["C1", member_edit_form("C1")]),
    "session-new": (send_new_session, lambda scenario: [new_session_form(scenario)]),
    "session-edit": (send_session_edit, lambda scenario: [session_edit_form(scenario)]),
    "session-links": (send_links, lambda scenario: ["FAM-1", 1, {}]),
}


@pytest.mark.parametrize("target", list(VALID_FORMS))
def test_each_fuzzed_form_takes_its_valid_form(app, client, scenario, target):
    """Each target takes its valid form as it stands, and the write passes the checks of its property test."""
    login(client, "ann@example.org")
    send, arguments = VALID_FORMS[target]
    assert send(app, client, scenario, *arguments(scenario)), f"{target}: its valid form was refused"


# --- Exports ------------------------------------------------------------------------------------------

EXPORT_FIELDS = {
    "kind": st.one_of(st.sampled_from(["long", "scores", "family", "ruptures"]), hostile),
    "fmt": st.one_of(st.sampled_from(["csv", "xlsx", "sav"]), hostile),
    "pseudonymise": st.one_of(st.sampled_from(["y", "", "false", "0"]), hostile),
    "dates": st.one_of(st.sampled_from(["shift", "drop"]), hostile),
    "language": st.one_of(st.sampled_from(["nl", "en"]), hostile),
}
MEDIA = {
    "csv": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sav": "application/x-spss-sav",
}


@fuzz(20)
@given(data=st.data())
@pytest.mark.parametrize("email", ["lead@example.org", "research@example.org"])
def test_export_form(app, client, scenario, email, data):
    login_once(client, email)
    valid = {
        "kind": data.draw(st.sampled_from(["long", "scores", "family", "ruptures"])),
        "fmt": "csv",
        "pseudonymise": "y",
        "dates": "shift",
        "language": "en",
    }
    form = data.draw(almost_valid(valid, EXPORT_FIELDS))
    before = snapshot(app)
    response = client.post("/exports/", data=form)
    after = snapshot(app)
    event(f"answer {response.status_code}")
    assert after == before  # an export never writes
    if response.headers.get("Content-Disposition", "").startswith("attachment"):
        event(f"download {first(form, 'fmt')}")
        assert response.status_code == 200 and response.mimetype == MEDIA[first(form, "fmt")]
        assert response.data
        if email.startswith("research"):
            assert "-pseudonymised." in response.headers["Content-Disposition"]
    else:
        assert_refused(response, before, after)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sav"])
@pytest.mark.parametrize("kind", ["long", "scores", "family", "ruptures"])
def test_export_of_no_families(app, client, scenario, kind, fmt):
    """A team lead whose team has no families yet exports empty tables, not an error."""
    login(client, "lone@example.org")
    response = client.post("/exports/", data={"kind": kind, "fmt": fmt, "dates": "drop", "language": "nl"})
    assert response.status_code == 200 and response.mimetype == MEDIA[fmt]


# --- The long CSV: files for the importer and the import page --------------------------------------------

ROLE_OF = {"M1": "mother", "Y1": "youth", "C1": "child"}
FAMILY_CODES = ("F1", "F2", "FAM-1", "'-F3")  # FAM-1 is stored; '-F3 is how an export writes the code -F3
ANSWERABLE = [(i.informant, code, i) for code, i in INSTRUMENTS.items()]


def session_date(number: int) -> str:
    """The date of session ``number`` in every family here (FAM-1's stored sessions included)."""
    return (dt.date(2026, 1, 5) + dt.timedelta(days=7 * number)).isoformat()


@st.composite
def long_rows(draw) -> list[str]:
    family = draw(st.sampled_from(FAMILY_CODES))
    member = draw(st.sampled_from(sorted(ROLE_OF)))
    number = draw(st.integers(1, 4))
    informant, code, instrument = draw(st.sampled_from(ANSWERABLE))
    item = draw(st.sampled_from(instrument.item_codes))
    value = draw(st.one_of(st.integers(instrument.scale_min, instrument.scale_max).map(str), st.just("")))
    target = draw(st.sampled_from(vocab.TARGETS))
    return [family, member, ROLE_OF[member], str(number), session_date(number), informant, target, code, item, value]


CELLS = {
    "family": ["F 1", "=cmd|' /C calc'!A0", "'=1+1", "'F1", "-F3", "F1\n", "x" * 65, "F1\x00", "F1,F2", '"F1"'],
    "member": ["M 1", "@M1", "'@M1", "m1", "", "M1 "],
    "role": ["aunt", "Mother", "mother ", "", "youth", "child"],
    "session": ["0", "-1", "01", "1.0", " 1", "+1", "٣", "1e3", "999999999", "1000000000", str(2**63), "", "4"],
    "date": list(BAD_DATES) + [session_date(2)],
    "informant": ["Self", "", "therapist", "self ", "self"],
    "target": ["", "Team", "therapist", "team"],
    "instrument": ["srs", "CHECK4", "check4 ", "", "observer4", "alliance16", "check4"],
    "item": ["bond_1", "BOND", "", "bond", "safety_4", "goals_tasks"],
    "value": [
        " 5",
        "5 ",
        "+5",
        "-0",
        "٣",
        "５",
        "5.0",
        "1e1",
        "NaN",
        "9" * 5000,
        "0" * 5000 + "5",
        str(2**63),
        "-3",
        "11",
        "=1+1",
        "'5",
        "",
        "\t2\t",
        "0x1",
    ],
}
HEADERS = [
    LONG_HEADER,
    LONG_HEADER[:-1],
    [*LONG_HEADER, "extra"],
    [h.upper() for h in LONG_HEADER],
    list(reversed(LONG_HEADER)),
    ["\ufeff" + LONG_HEADER[0], *LONG_HEADER[1:]],
    [],
]


@st.composite
def csv_files(draw) -> bytes:
    """A long CSV: half of them clean, the rest with cells, rows, the header, the encoding or the bytes spoiled."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=400))
    table = [list(r) for r in draw(st.lists(long_rows(), max_size=8))]
    spoiled = set(
        draw(
            st.lists(
                st.sampled_from(
                    ["cells", "cells", "cells", "rows", "long", "header", "quoting", "ending", "encoding", "truncated"]
                ),
                max_size=3,
            )
        )
    )
    for _ in range(draw(st.integers(1, 3))) if table and "cells" in spoiled else ():
        row = draw(st.integers(0, len(table) - 1))
        column = draw(st.integers(0, 9))
        table[row][column] = draw(st.one_of(st.sampled_from(CELLS[LONG_HEADER[column]]), hostile))
    if "rows" in spoiled:  # a row with the wrong number of fields, or a blank line
        table.insert(draw(st.integers(0, len(table))), draw(st.lists(st.sampled_from(["F1", "", "x"]), max_size=12)))
    if "long" in spoiled:  # a line longer than the csv module's field limit
        table.append(["F1", "M1", "mother", "1", session_date(1), "self", "therapist", "check4", "bond", "7" * 200_000])
    header = draw(st.sampled_from(HEADERS)) if "header" in spoiled else LONG_HEADER
    out = io.StringIO()
    ending = (
        draw(st.sampled_from(["\r", "\n\n", "\r\r\n"]))
        if "ending" in spoiled
        else draw(st.sampled_from(["\n", "\r\n"]))
    )
    if "quoting" in spoiled:  # joined by hand: commas, quotes and line breaks in cells are not escaped
        out.write(ending.join(",".join(r) for r in ([header, *table] if header else table)) + ending)
    else:
        writer = csv.writer(
            out, lineterminator=ending, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
        )
        writer.writerows([header, *table] if header else table)
    text = out.getvalue()
    encodings = (
        ["utf-16", "utf-16-le", "latin-1", "cp1252", "utf-32"] if "encoding" in spoiled else ["utf-8", "utf-8-sig"]
    )
    body = text.encode(draw(st.sampled_from(encodings)), errors="replace")
    if "truncated" in spoiled:
        body = body[: draw(st.integers(0, len(body)))]
    return body


def file_answers(body: bytes) -> tuple[dict, dict, dict]:
    """What an imported file says: {key: value}, {(family, member): role}, {(family, session): date}."""
    reader = csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""))
    assert next(reader) == LONG_HEADER
    answers, roles, dates = {}, {}, {}
    for record in reader:
        if not record:
            continue
        family, member, role, session, date, informant, target, code, item, value = record
        family, member = (re.sub(r"^'(?=[=+\-@])", "", c) for c in (family, member))
        answers[(family, member, int(session), informant, target, code, item)] = whole(value)
        roles[(family, member)] = role
        dates[(family, int(session))] = dt.date.fromisoformat(date)
    return answers, roles, dates


def check_import(before: dict, after: dict, body: bytes, stored_rows: int) -> None:
    """A successful import: every row of the file stored as it says, with its members and sessions, nothing else."""
    answers, roles, dates = file_answers(body)
    assert stored_rows == sum(1 for line in csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")) if line) - 1
    change = changes(before, after)
    assert set(change) <= {
        "family",
        "family_therapist",
        "member",
        "therapy_session",
        "attendance",
        "response",
        "form_score",
        "questionnaire_request",
        "family_summary",
        "expected_trajectory",  # learned again from the imported families (metrics.md section 10)
    }
    assert_scores_follow_answers(after)
    codes = {r["id"]: r["code"] for r in rows(after, "family")}
    members = {r["id"]: (codes[r["family_id"]], r["code"], r["role"]) for r in rows(after, "member")}
    sessions = {r["id"]: (codes[r["family_id"]], r["number"], r["date"]) for r in rows(after, "therapy_session")}

    def keyed(response: dict) -> tuple:
        family, member, _ = members[response["member_id"]]
        return (
            family,
            member,
            sessions[response["session_id"]][1],
            response["informant"],
            response["target"],
            response["instrument"],
            response["item"],
        )

    stored = {keyed(r): r["value"] for r in rows(after, "response")}
    assert all(stored[key] == value for key, value in answers.items())
    touched = {keyed(r) for r in change.get("response", Change([], [])).added}
    assert touched <= set(answers)
    assert {keyed(r) for r in change.get("response", Change([], [])).removed} <= set(answers)
    assert all(vocab.is_valid_code(family) for family, _ in roles)
    by_code = {(f, m): role for f, m, role in members.values()}
    assert all(by_code[key] == role for key, role in roles.items())
    by_number = {(f, n): date for f, n, date in sessions.values()}
    assert all(by_number[key] == date for key, date in dates.items())
    new_sessions = {r["id"] for r in change.get("therapy_session", Change([], [])).added}
    for session_id in new_sessions:
        family, number, _ = sessions[session_id]
        expected = {m for (f, m, n, *_rest) in answers if (f, n) == (family, number)}
        attendance = rows(after, "attendance", session_id=session_id)
        assert {members[a["member_id"]][1] for a in attendance} == expected and all(a["present"] for a in attendance)
    for family in change["family"].added if "family" in change else []:
        if family["id"] not in {r["id"] for r in change["family"].removed}:  # created by the import
            first_date = min(date for (f, _), date in dates.items() if f == family["code"])
            assert family["start_date"] == first_date

    # Every form of the file is an answered request (mode "import": the file has no mode column), and no other
    # request changed.
    def form_of(request: dict) -> tuple:
        family, member, _ = members[request["member_id"]]
        return family, member, sessions[request["session_id"]][1], request["target"], request["instrument"]

    forms = {(family, member, number, target, code) for family, member, number, _, target, code, _ in answers}
    asked = {form_of(r): r for r in rows(after, "questionnaire_request")}
    for form in forms:
        request = asked[form]
        assert request["answered_at"] is not None and request["answered_mode"] == importer.IMPORT_MODE, form
        assert request["answered_by_id"] is None and request["withdrawn_at"] is None and request["draft"] is None
    answered = change.get("questionnaire_request", Change([], []))
    assert {form_of(r) for r in answered.added} == forms
    assert {form_of(r) for r in answered.removed} <= forms


#: pyarrow decodes an irregular row for the importer's invalid-row handler; when that row is not UTF-8 the decoding
#: fails inside pyarrow ("Exception ignored in: on_invalid_row"), pyarrow then raises ArrowInvalid and the importer
#: reads the file again with the csv module, which names the line. The outcome is right; only the message is noise.
ARROW_NOISE = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@ARROW_NOISE
@fuzz(150)
@given(body=csv_files(), replace=st.booleans())
def test_importer(app, scenario, tmp_path, body, replace):
    """import_long_csv on random files: ImportRejected naming lines with nothing stored, or a whole import."""
    target = tmp_path / "ratings.csv"
    target.write_bytes(body)
    before = snapshot(app)
    with app.app_context():
        try:
            summary = importer.import_long_csv(target, INSTRUMENTS, replace)
        except importer.ImportRejected as exc:
            rejected = exc
        else:
            rejected = None
        event("rejected" if rejected else "imported")
        db.session.remove()
    after = snapshot(app)
    if rejected is not None:
        assert after == before, changes(before, after)
        assert rejected.problems and rejected.total >= len(rejected.problems)
        assert all(isinstance(p.line, int) and p.line >= 1 and p.message for p in rejected.problems), rejected.problems
        return None
    check_import(before, after, body, summary.rows)
    scenario.__dict__.update(
        rebuild(app, scenario).__dict__
    )  # back to the start: the same file gives the same answer again


@ARROW_NOISE
@fuzz(60)
@given(data=st.data())
def test_import_page(app, client, scenario, data):
    """The admin's import page: any file (name, bytes), team and replace flag."""
    login_once(client, "admin@example.org")
    body = data.draw(csv_files())
    name = data.draw(
        mostly(
            st.just("ratings.csv"),
            st.one_of(
                st.sampled_from(["a.CSV", ".csv", "x.xlsx", "", "noext", "../../x.csv", "ratings.csv\x00.exe"]),
                ANY_TEXT,
            ),
        )
    )
    fields = {
        "team": st.one_of(st.sampled_from(["0", *map(str, scenario.teams.values())]), int_text, hostile),
        "replace": st.one_of(st.sampled_from(["y", ""]), hostile),
    }
    form = data.draw(almost_valid({"team": "0"}, fields))
    if data.draw(st.integers(0, 9)):
        form["file"] = (io.BytesIO(body), name)
    else:
        form["file"] = data.draw(hostile)  # a plain field where the file should be
    before = snapshot(app)
    response = client.post("/admin/import", data=form, content_type="multipart/form-data")
    after = snapshot(app)
    event(f"answer {response.status_code}")
    if response.status_code == 200 and "Imported" in response.text:
        stored = int(re.search(r"Imported (\d+) rows", response.text).group(1))
        check_import(before, after, body, stored)
        scenario.__dict__.update(rebuild(app, scenario).__dict__)
        return login(client, "admin@example.org")
    assert_refused(response, before, after)
    if response.status_code == 422:  # the file refused, or the form (no file, not .csv, no such team)
        assert "Nothing was imported" in response.text or "error-summary" in response.text


# --- The member questionnaire -----------------------------------------------------------------------------


def links_made(app, scenario: Scenario) -> dict[str, tuple[str, str]]:
    """Links made again to session 3: member code -> (token, instrument), for those who can still answer."""
    code = {member_id: member_code for member_code, member_id in scenario.fam1.members.items()}
    with app.app_context():
        made = requests.make_links(db.session.get(TherapySession, scenario.fam1.sessions[3]), 7)
        db.session.commit()
        found = {code[request.member_id]: (token, request.instrument) for request, token in made}
        db.session.remove()
    return found


def fresh_link(app, scenario: Scenario, member: str) -> tuple[str, str]:
    """A new link to ``member``'s questionnaire of session 3 (the older one replaced); returns (token, instrument)."""
    made = links_made(app, scenario)
    assert member in made, f"{member} got no link: their request of session 3 is answered or withdrawn"
    return made[member]


def answer_fields(instrument) -> dict:
    cell = st.one_of(st.integers(instrument.scale_min - 2, instrument.scale_max + 2).map(str), st.just(""), number_text)
    return {item.code: cell for item in instrument.items}


def valid_answers(data, instrument) -> dict:
    scale = st.one_of(st.integers(instrument.scale_min, instrument.scale_max).map(str), st.just(""))
    return {item.code: data.draw(scale) for item in instrument.items}


def check_answers_stored(
    before: dict, after: dict, scenario: Scenario, member: str, instrument, form: dict, mode: str
) -> None:
    """Every item stored once (unanswered ones empty), the request answered (``mode``), the revision raised."""
    change = changes(before, after)
    # The request is answered (its links then say so); its tokens stay as they were.
    assert set(change) == {"response", "form_score", "questionnaire_request", "family"}
    assert not change["response"].removed
    assert_scores_follow_answers(after)
    stored = {r["item"]: r["value"] for r in change["response"].added}
    sent = {item.code: (first(form, item.code) or "").strip() for item in instrument.items}
    assert stored == {item: whole(text) for item, text in sent.items()}
    assert all(
        r["member_id"] == scenario.fam1.members[member] and r["session_id"] == scenario.fam1.sessions[3]
        for r in change["response"].added
    )
    (request,) = change["questionnaire_request"].added
    (earlier,) = change["questionnaire_request"].removed
    assert request["id"] == earlier["id"] and earlier["answered_at"] is None
    assert request["member_id"] == scenario.fam1.members[member] and request["session_id"] == scenario.fam1.sessions[3]
    assert request["instrument"] == instrument.code
    assert request["answered_at"] is not None and request["answered_mode"] == mode and request["draft"] is None
    assert request["answered_by_id"] is None
    answered = ("answered_at", "answered_mode", "draft")
    assert {k: v for k, v in request.items() if k not in answered} == {
        k: v for k, v in earlier.items() if k not in answered
    }
    assert_bumped(change["family"], scenario.fam1.id)


@fuzz(80)
@given(data=st.data(), member=st.sampled_from(["M1", "C1"]))
def test_questionnaire(app, scenario, data, member):
    """/r/<token>: random fields and values; all answers stored and the request answered, or a 422 and nothing."""
    restore_answers(app, scenario)  # every example starts from the seeded answers, whatever the last one did
    token, code = fresh_link(app, scenario, member)
    instrument = INSTRUMENTS[code]
    client = app.test_client()
    assert client.get(f"/r/{token}?lang=en").status_code == 200
    form = data.draw(almost_valid(valid_answers(data, instrument), answer_fields(instrument)))
    before = snapshot(app)
    response = client.post(f"/r/{token}", data=form)
    after = snapshot(app)
    event(f"answer {response.status_code}")
    if response.status_code == 200 and "Thank you" in response.text:
        check_answers_stored(before, after, scenario, member, instrument, form, "link")
        again = client.post(f"/r/{token}?lang=en", data=form)
        assert again.status_code == 410 and "Your answers are in" in again.text and snapshot(app) == after
    else:
        assert response.status_code == 422
        assert_refused(response, before, after)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(codec="utf-8"), max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
DRAFT_VALUE = st.one_of(
    st.integers(-3, 12),
    st.integers(-3, 12).map(str),
    st.sampled_from([10**30, -(2**63), 2**63, 1e308, 7.0, 7.5, True, None, "", " 7 ", "٣", "9" * 5000, "NaN"]),
    JSON,
)


@st.composite
def draft_bodies(draw, instrument) -> tuple[bytes, str | None]:
    """A draft request body and its content type: mostly a JSON object of item codes, sometimes anything."""
    kind = draw(st.integers(0, 9))
    if kind <= 6:
        keys = mostly(st.sampled_from(instrument.item_codes), ANY_TEXT, odds=8)
        value = draw(st.dictionaries(keys, DRAFT_VALUE, max_size=6))
    elif kind <= 7:
        value = draw(JSON)
    else:
        raw = draw(
            st.one_of(
                st.binary(max_size=60),
                st.sampled_from(
                    [
                        b"{",
                        b'{"bond": 1e999}',
                        b'{"bond": NaN}',
                        b"[1, 2]",
                        b'"bond"',
                        b"null",
                        b'{"bond": ' + b"9" * 5000 + b"}",
                        b"\xff\xfe{}",
                        b"",
                    ]
                ),
            )
        )
        return raw, draw(st.sampled_from(["application/json", "text/plain", None]))
    return json.dumps(value).encode(), draw(
        mostly(st.just("application/json"), st.sampled_from(["text/plain", None]), odds=8)
    )


@fuzz(100)
@given(data=st.data())
def test_questionnaire_draft(app, scenario, data):
    """/r/<token>/draft with any JSON (or none): the valid answers kept in the draft, nothing else written."""
    if "draft_link" not in scenario.extra:
        scenario.extra["draft_link"] = fresh_link(app, scenario, "M1")
    token, code = scenario.extra["draft_link"]
    instrument = INSTRUMENTS[code]
    body, content_type = data.draw(draft_bodies(instrument))
    before = snapshot(app)
    headers = {"Content-Type": content_type} if content_type else {}
    response = app.test_client().post(f"/r/{token}/draft", data=body, headers=headers)
    after = snapshot(app)
    event(f"answer {response.status_code}")
    assert response.is_json
    if response.status_code == 400:
        return assert_refused(response, before, after)
    assert response.status_code in (200, 422)
    answers = json.loads(body)
    result = response.get_json()
    assert result["saved"] == (not result["problems"]) == (response.status_code == 200)
    assert set(result["problems"]) <= set(answers)
    change = changes(before, after)
    assert set(change) <= {"questionnaire_request"}  # the request's draft, and only when what it keeps changed
    (link,) = rows(before, "request_token", token_hash=requests.token_hash(token))
    (draft_before,) = rows(before, "questionnaire_request", id=link["request_id"])
    (draft_after,) = rows(after, "questionnaire_request", id=link["request_id"])
    assert {k: v for k, v in draft_before.items() if k != "draft"} == {
        k: v for k, v in draft_after.items() if k != "draft"
    }
    assert {r["id"] for r in change.get("questionnaire_request", Change([], [])).added} <= {link["request_id"]}
    old = json.loads(draft_before["draft"] or "{}")
    new = json.loads(draft_after["draft"] or "{}")
    assert (old != new) == bool(change)
    for item in set(old) | set(new) | set(answers):
        if item in result["problems"] or item not in answers:
            assert new.get(item) == old.get(item)
        else:
            value = new.get(item)
            assert value is None or (type(value) is int and instrument.scale_min <= value <= instrument.scale_max)
    assert set(new) <= set(instrument.item_codes)
    page = app.test_client().get(f"/r/{token}")
    assert page.status_code == 200


TOKENS = st.one_of(
    ANY_TEXT,
    st.from_regex(r"\A[A-Za-z0-9_-]{43}\Z"),
    st.sampled_from(["", ".", "..", "draft", "%00", "a/b", "x" * 10_000, "\x00"]),
)


@fuzz(60)
@given(
    token=TOKENS,
    method=st.sampled_from(["GET", "POST", "DRAFT", "GET-DRAFT"]),
    body=st.dictionaries(ANY_TEXT, hostile, max_size=3),
)
def test_unknown_tokens(app, scenario, token, method, body):
    """An unknown token is a 404 (never a 500), whatever is sent with it."""
    app.config["LINK_RATE_LIMIT"] = "100000 per minute"  # the limit (429) would hide the 404s
    client = app.test_client()
    before = snapshot(app)
    url = f"/r/{path(token)}" + ("/draft" if "DRAFT" in method else "")
    if method == "DRAFT":
        response = client.post(url, json=body)
    elif method == "POST":
        response = client.post(url, data=body)
    else:
        response = client.get(url)
    after = snapshot(app)
    event(f"answer {response.status_code}")
    if response.status_code == 308:  # a path with "//" or "/./": werkzeug's redirect to the clean path
        assert after == before
        response = client.get(response.location)
    assert response.status_code in (404, 405)
    assert_refused(response, before, after)


def test_used_replaced_and_expired_links_are_gone(app, scenario):
    token, _ = fresh_link(app, scenario, "C1")
    client = app.test_client()
    assert client.post(f"/r/{token}", data={"bond": "5"}).status_code == 200
    before = snapshot(app)
    for response in (
        client.get(f"/r/{token}?lang=en"),
        client.post(f"/r/{token}?lang=en", data={"bond": "6"}),
        client.post(f"/r/{token}/draft", json={"bond": 6}),
    ):
        assert response.status_code == 410
    assert snapshot(app) == before
    # An answered request gets no new link (before the requests, a second link of the same questionnaire was made).
    assert "C1" not in links_made(app, scenario)
    older, _ = fresh_link(app, scenario, "M1")
    token, _ = fresh_link(app, scenario, "M1")
    replaced = client.post(f"/r/{older}?lang=en", data={"bond": "5"})
    assert replaced.status_code == 410 and "A newer link was made for you" in replaced.text
    with app.app_context():
        (request_id,) = db.session.scalars(
            sa.select(RequestToken.request_id).where(RequestToken.token_hash == requests.token_hash(token))
        )
        db.session.execute(
            sa.update(QuestionnaireRequest)
            .where(QuestionnaireRequest.id == request_id)
            .values(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        )
        db.session.commit()
    before = snapshot(app)
    expired = client.post(f"/r/{token}?lang=en", data={"bond": "5"})
    assert expired.status_code == 410 and "too old" in expired.text
    assert snapshot(app) == before


# --- The tablet round -------------------------------------------------------------------------------------


@fuzz(40)
@given(data=st.data())
def test_round_answer(app, client, scenario, data):
    """The round's answer POST: unknown names are 404; a member's answers stored whole, or a 422 and nothing."""
    login_once(client, "ann@example.org")
    restore_answers(app, scenario)
    with client.session_transaction() as session:
        running = "round" in session
    if running:  # a running round keeps the browser in it: leave it (with the password) to start a new one
        assert client.post("/round/leave", data={"password": PASSWORD}).status_code == 302
    assert client.post("/round/start/FAM-1/3").status_code == 302  # the session's requests, for everyone
    member = data.draw(st.sampled_from(["M1", "C1"]))
    code = plan.default_instrument(ROLE_OF[member], 3)
    instrument = INSTRUMENTS[code]
    mid = data.draw(
        mostly(
            st.just(str(scenario.fam1.members[member])),
            st.one_of(st.sampled_from(["0", "-1", str(scenario.fam2.members["M1"])]), ANY_TEXT),
        )
    )
    form = data.draw(almost_valid(valid_answers(data, instrument), answer_fields(instrument)))
    before = snapshot(app)
    response = client.post(f"/round/{path(mid)}", data=form)
    after = snapshot(app)
    event(f"answer {response.status_code}")
    if response.status_code == 302 and mid != str(scenario.fam1.members[member]):  # no such page: back to the round
        assert response.location == "/round/" and after == before
    elif response.status_code == 302:
        assert response.location == "/round/"
        check_answers_stored(before, after, scenario, member, instrument, form, "round")
    else:
        assert response.status_code in (404, 422)
        assert_refused(response, before, after)


# --- Regressions: bugs the fuzzing found ---------------------------------------------------------------


@pytest.mark.parametrize("code", ["FAM%00", "FAM-1%00", "x" * 65])
def test_url_code_postgres_cannot_hold(client, scenario, code):
    login(client, "ann@example.org")
    assert client.get(f"/families/{code}").status_code == 404
    assert client.post(f"/families/{code}/sessions/1/links").status_code == 404


def test_code_with_a_final_line_break_is_refused(app, client, scenario):
    """A Regexp validator's ``$`` matched before a final line break: 'FAM-9\\n' was stored as a case code."""
    login(client, "ann@example.org")
    before = snapshot(app)
    family = {"code": "FAM-9\n", "status": "active", "start_date": "2026-03-02", "therapists": [scenario.users["ann"]]}
    member = {"code": "M9\n", "display_name": "Mehmet", "role": "father"}
    for url, form in (("/families/new", family), ("/families/FAM-1/members/new", member)):
        response = client.post(url, data=form)
        assert response.status_code == 200 and "Use only letters, digits" in response.text
    assert snapshot(app) == before


def test_control_characters_refused(app, client, scenario):
    """NUL and other control characters in a login email or a member's name: a field error, nothing stored.

    (PostgreSQL cannot store or even compare a text with NUL: the login's account lookup was a 500 there.)
    """
    login(client, "ann@example.org")
    before = snapshot(app, {"user": {"failed_logins", "locked_until"}})
    for email in ("ann@example.org\x00", "ann@example.org\n"):
        response = app.test_client().post("/login?lang=en", data={"email": email, "password": PASSWORD})
        assert response.status_code == 200 and "Remove the control characters" in response.text
    response = client.post(
        "/families/FAM-1/members/new", data={"code": "F1", "display_name": "Meh\x00met", "role": "father"}
    )
    assert response.status_code == 200 and "Remove the control characters" in response.text
    assert snapshot(app, {"user": {"failed_logins", "locked_until"}}) == before


def test_session_number_beyond_64_bits_is_out_of_range(app, client, scenario):
    """2**63 reached the uniqueness lookup after NumberRange refused it: OverflowError in the SQLite driver."""
    login(client, "ann@example.org")
    before = snapshot(app)
    for url in ("/families/FAM-1/sessions/new", "/families/FAM-1/sessions/3/edit"):
        response = client.post(url, data={"number": str(2**63), "date": "2026-02-02"})
        assert response.status_code == 200 and "Number must be between 1 and 10000." in response.text
    assert snapshot(app) == before


HUGE = "9" * 5000  # int() refuses more than 4300 digits: a ValueError, a 500, in every answer path


def test_huge_numbers_are_outside_the_scale(app, client, scenario, tmp_path):
    from familyalliance.core.validation import parse_value

    assert parse_value("0" * 5000 + "5") == (5, None)
    assert parse_value(HUGE)[1] == "'999999999999999999'... (5000 digits) is outside the scale"
    assert parse_value("٣") == (None, "'٣' is not a whole number")  # ASCII digits only, as the importer reads them
    login(client, "ann@example.org")
    before = snapshot(app)
    grid = client.post(
        "/families/FAM-1/sessions/2/grid/check4?lang=en", data={f"v-{scenario.fam1.members['C1']}-bond": HUGE}
    )
    assert grid.status_code == 422
    assert "999999999999999999… is outside the scale. Give a whole number from 0 to 10" in grid.text
    token, _ = fresh_link(app, scenario, "C1")
    before = snapshot(app)
    member = app.test_client()
    sent = member.post(f"/r/{token}?lang=en", data={"bond": HUGE})
    assert sent.status_code == 422 and "999999999999999999… is outside the scale" in sent.text
    draft = member.post(f"/r/{token}/draft", json={"bond": HUGE})
    assert draft.status_code == 422 and "outside the scale" in draft.json["problems"]["bond"]
    assert snapshot(app) == before
    path = tmp_path / "huge.csv"
    path.write_text(f"{','.join(LONG_HEADER)}\nF1,M1,mother,1,2026-01-12,self,therapist,check4,bond,{HUGE}\n")
    with app.app_context(), pytest.raises(importer.ImportRejected) as rejected:
        importer.import_long_csv(path, INSTRUMENTS)
    assert [(p.line, p.field) for p in rejected.value.problems] == [(2, "value")]
    assert snapshot(app) == before


def test_import_stores_values_as_the_shared_check_reads_them(app, scenario, tmp_path):
    """' 5', '+5' and '5 ' passed the check, then broke Arrow's cast to int64 (ArrowInvalid: a 500)."""
    lines = [
        f"F1,M1,mother,1,2026-01-12,self,therapist,check4,{item},{value}"
        for item, value in zip(vocab.DIMENSIONS, [" 5", "+5", "5 ", "05"], strict=True)
    ]
    path = tmp_path / "spaces.csv"
    path.write_text("\n".join([",".join(LONG_HEADER), *lines]) + "\n")
    with app.app_context():
        summary = importer.import_long_csv(path, INSTRUMENTS)
        assert summary.rows == 4
        assert set(db.session.scalars(sa.select(Response.value).where(Response.family_id != scenario.fam1.id))) == {5}


def test_import_skips_blank_lines_whichever_reader(app, scenario, tmp_path):
    """Arrow (the fast reader) gives a blank line as a row of ten empty cells: the file was refused with eight
    problems on that line, where the csv module (the exact reader) skips it. Now blank lines go to the exact reader.
    """
    rows = [f"F1,M1,mother,1,2026-01-12,self,therapist,check4,{item},7" for item in vocab.DIMENSIONS]
    path = tmp_path / "blank.csv"
    path.write_text("\n".join([",".join(LONG_HEADER), *rows[:2], "", *rows[2:], "", ""]))
    with app.app_context():
        assert importer.import_long_csv(path, INSTRUMENTS).rows == 4
    path.write_text("\n".join([",".join(LONG_HEADER), rows[0], ",,,,,,,,,"]) + "\n")  # ten empty cells: a row
    with app.app_context(), pytest.raises(importer.ImportRejected) as rejected:
        importer.import_long_csv(path, INSTRUMENTS)
    assert {p.line for p in rejected.value.problems} == {3}


def test_import_names_the_line_of_a_csv_error(app, scenario, tmp_path):
    """A file ending inside a quoted value was refused with no line named."""
    path = tmp_path / "open-quote.csv"  # the blank line sends it to the csv module (exact line numbers)
    path.write_text(f'{",".join(LONG_HEADER)}\n\nF1,M1,mother,1,2026-01-12,self,therapist,check4,bond,"7\n')
    with app.app_context(), pytest.raises(importer.ImportRejected) as rejected:
        importer.import_long_csv(path, INSTRUMENTS)
    assert [(p.line, p.field) for p in rejected.value.problems] == [(3, "file")]
    assert "a quoted value opened on this line is never closed" in rejected.value.problems[0].message


def test_second_link_of_an_answered_questionnaire(app, client, scenario):
    """Links made twice (or a round after the links): answering through the second was an IntegrityError, a 500.

    With the requests, a second link replaces the first (on purpose): the first says a newer link was made and
    stores nothing. Once answered, every link of the request answers 410 "your answers are in" and stores nothing
    (there is no link to close any more: the request says it), links made again leave the member out, and a round
    does not ask again. The first answers are kept.
    """
    first_token, _ = fresh_link(app, scenario, "C1")
    second_token, _ = fresh_link(app, scenario, "C1")
    member = app.test_client()
    before = snapshot(app)
    replaced = member.post(f"/r/{first_token}?lang=en", data={"bond": "9"})
    assert replaced.status_code == 410 and "A newer link was made for you" in replaced.text
    assert snapshot(app) == before
    assert member.post(f"/r/{second_token}?lang=en", data={"bond": "5"}).status_code == 200
    before = snapshot(app)
    for token in (second_token, first_token):
        again = member.post(f"/r/{token}?lang=en", data={"bond": "9"})
        assert again.status_code == 410 and "Your answers are in" in again.text
        assert member.get(f"/r/{token}").status_code == 410
    assert snapshot(app) == before  # nothing written at all
    assert "C1" not in links_made(app, scenario)
    login(client, "ann@example.org")  # a tablet round for the same session: the member is not asked again
    client.post("/round/start/FAM-1/3")
    sent = client.post(f"/round/{scenario.fam1.members['C1']}", data={"bond": "9"})
    assert sent.status_code == 302 and sent.location == "/round/"
    pick = client.get("/round/").text
    assert f'href="/round/{scenario.fam1.members["C1"]}"' not in pick  # no button: shown as done
    assert re.search(r"Daan\s*<span aria-hidden=\"true\">✓", pick)
    with app.app_context():
        stored = db.session.scalars(
            sa.select(Response.value).where(Response.member_id == scenario.fam1.members["C1"], Response.item == "bond")
        )
        assert list(stored) == [5]
