"""Every URL rule of the app, for every role: public on purpose, or refused to whoever may not use it.

``EXPECTED`` below is the authorisation policy written out by hand, one line per endpoint;
the app must have exactly these endpoints (a new page without a line here fails), and each
role must meet the outcome written for it:

- ``ok``: the page answered (any status below 500 that is not one of the refusals below);
- ``login``: anonymous visitors are sent to the login page (302 to ``/login?next=...``);
- ``forbidden``: the role may not use the page (403);
- ``hidden``: the page exists, but not for this family: 404, exactly as a family that does not exist.

The "other therapist" works in the same team as the family's therapist but is not
assigned to the family; the admin and the researcher are not assigned to it either. The
people and families are the scenario's ``demo`` (``scenarios.py``): ann's demo families.
"""

from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa

from familyalliance.core import exports
from familyalliance.core.charts import render
from familyalliance.store.db import db
from familyalliance.store.models import Member, QuestionnaireRequest
from familyalliance.web import access

pytestmark = pytest.mark.scenario("demo")

ROLES = ("anonymous", "therapist", "other_therapist", "team_lead", "researcher", "admin")

OK, LOGIN, FORBIDDEN, HIDDEN = "ok", "login", "forbidden", "hidden"


def everyone(outcome=OK) -> dict[str, str]:
    return dict.fromkeys(ROLES, outcome)


def family_page() -> dict[str, str]:
    """A page of one family: its therapist and the team lead; not another therapist, not an unassigned admin."""
    return {
        "anonymous": LOGIN,
        "therapist": OK,
        "other_therapist": HIDDEN,
        "team_lead": OK,
        "researcher": FORBIDDEN,
        "admin": HIDDEN,
    }


def only(*roles: str) -> dict[str, str]:
    """A page for these roles only."""
    return {role: OK if role in roles else LOGIN if role == "anonymous" else FORBIDDEN for role in ROLES}


#: A round page without a round running in this browser: there is no member page to show.
ROUND_MEMBER = {
    **only("therapist", "other_therapist", "team_lead", "admin"),
    "therapist": HIDDEN,
    "other_therapist": HIDDEN,
    "team_lead": HIDDEN,
    "admin": HIDDEN,
}

EXPECTED: dict[str, dict[str, str]] = {
    # Public on purpose: the login page, the health check, static files and the Vega bundle
    # (no data in any of them), and member links (the token is the key).
    "auth.login": everyone(),
    # The second factor's steps of a login: the password given a moment ago in this browser is the key
    # (without it, back to the login page).
    "auth.login_code": everyone(),
    "auth.two_factor_setup": everyone(),
    "health.healthz": everyone(),
    "static": everyone(),
    "vega.bundle": everyone(),
    "questionnaire.answer": everyone(),
    "questionnaire.save_draft": everyone(),
    # One's own account.
    "index": only(*ROLES[1:]),
    "auth.logout": only(*ROLES[1:]),
    "auth.change_password": only(*ROLES[1:]),
    "auth.two_factor": only(*ROLES[1:]),
    "auth.api_tokens": only(*ROLES[1:]),
    # Revoking one of one's own API tokens: no token of that id is the account's (none exists here).
    "auth.revoke_api_token": {role: LOGIN if role == "anonymous" else HIDDEN for role in ROLES},
    # The FHIR API: public to the page guard, the API token is the key (no token: 401, test_fhir_api); the
    # CapabilityStatement is open; any other address under /fhir/R4 is not found.
    **{f"fhir.{name}": everyone() for name in ("metadata", "search", "read", "import_bundle")},
    "fhir.unknown": everyone(HIDDEN),
    # The caseload: clinicians, and admins for families assigned to them; researchers never.
    "caseload.show": only("therapist", "other_therapist", "team_lead", "admin"),
    "families.new_family": only("therapist", "other_therapist", "team_lead"),
    # One family's pages.
    **{
        f"families.{name}": family_page()
        for name in (
            "show",
            "edit_family",
            "new_member",
            "edit_member",
            "new_session",
            "edit_session",
            "session_report",
            "session_report_chart",
            "session_report_pdf",
            "paper_forms",
            "rupture_follow_up",
        )
    },
    **{f"ratings.{name}": family_page() for name in ("session_page", "create_links", "invite", "reopen", "grid")},
    "ratings.round_start": family_page(),
    "ratings.round_pick": only("therapist", "other_therapist", "team_lead", "admin"),
    "ratings.round_leave": only("therapist", "other_therapist", "team_lead", "admin"),
    "ratings.round_answer": ROUND_MEMBER,
    # The alliance profile (metrics.md section 11): one's own; a team lead also each therapist's of the team.
    "supervision.mine": only("therapist", "other_therapist", "team_lead"),
    **{
        f"supervision.{name}": {**only("therapist", "other_therapist", "team_lead"), "other_therapist": HIDDEN}
        for name in ("profile", "add_note")
    },
    "supervision.erase_notes": only("team_lead", "admin"),
    # Data: exports for team leads and researchers (pseudonymised), the import for admins.
    "data.export": only("team_lead", "researcher"),
    "data.import_ratings": only("admin"),
    # Accounts: admins all, team leads their team's therapists; the audit log for admins.
    "admin.users": only("team_lead", "admin"),
    "admin.new_user": only("team_lead", "admin"),
    "admin.edit_user": only("team_lead", "admin"),
    "admin.set_log_in": only("team_lead", "admin"),
    "admin.reset_two_factor": only("team_lead", "admin"),
    "admin.new_team": only("admin"),
    "admin.audit_log": only("admin"),
    "admin.audit_export": only("admin"),
    "admin.retention": only("team_lead", "admin"),
    # Erasing a family: the team lead of its team only.
    "admin.erase": {**family_page(), "therapist": FORBIDDEN, "other_therapist": FORBIDDEN, "admin": FORBIDDEN},
}

EMAILS = {
    "therapist": "ann@example.org",
    "other_therapist": "bob@example.org",
    "team_lead": "lead@example.org",
    "researcher": "research@example.org",
    "admin": "admin@example.org",
}


def url_values(app, scenario) -> dict:
    """A value for each argument of the URL rules: the first demo family, its first member and last session, a link,
    and a questionnaire request of that session (so that its pages exist for whoever may use them)."""
    code = min(scenario.families)
    family = scenario.families[code]
    member_code = min(family.members)
    with app.app_context():
        request_id = db.session.scalar(
            sa.select(sa.func.min(QuestionnaireRequest.id)).where(
                QuestionnaireRequest.session_id == family.sessions[max(family.sessions)]
            )
        )
    assert request_id is not None
    return {
        "code": code,
        "number": max(family.sessions),
        "member_code": member_code,
        "member_id": str(family.members[member_code]),
        "instrument_code": "observer4",
        "chart": "lines",
        "token": next(iter(family.tokens.values())),
        "request_id": request_id,
        "user_id": scenario.users["ann"],
        "requested": render.version(),
        "filename": "app.css",
        "informant": "self",
        "target": "therapist",
        "dimension": "goals_tasks",
        "token_id": 1,
        "resource_type": "QuestionnaireResponse",
        "resource_id": "00000000-0000-5000-8000-000000000000",
        "rest": "Task",
    }


def outcome(response) -> str:
    """What the request met: a refusal (login, forbidden, hidden), or the page."""
    location = response.headers.get("Location", "")
    if response.status_code == 302 and "/login?next=" in location:
        return LOGIN
    return {403: FORBIDDEN, 404: HIDDEN}.get(response.status_code, OK)


def test_every_rule_has_an_expectation(app):
    """No page escapes this test: the endpoints of the app are exactly those written out above."""
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == set(EXPECTED)


def test_every_view_declares_its_policy(app):
    """Each view says who may use it (access.public or access.roles); the guard refuses undeclared ones."""

    with app.test_request_context():
        undeclared = [endpoint for endpoint in app.view_functions if access.rule_for(endpoint) is None]
    assert undeclared == []


@pytest.mark.parametrize("role", ROLES)
def test_route_by_role(app, scenario, auth, client, role):
    """Every URL rule, requested as ``role``, meets the expected outcome; none answers 500."""
    values = url_values(app, scenario)
    if role != "anonymous":
        assert auth.login(EMAILS[role]).status_code == 302
    seen = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
        if rule.endpoint == "auth.logout":
            continue  # last, below: it ends the session
        url = rule.build({arg: values[arg] for arg in rule.arguments})[1]
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(url, method=method)
        response.close()
        assert response.status_code < 500, (url, response.status_code)
        seen[rule.endpoint] = outcome(response)
    response = client.post("/logout")
    seen["auth.logout"] = outcome(response)
    expected = {endpoint: outcomes[role] for endpoint, outcomes in EXPECTED.items()}
    assert seen == expected


def test_researcher_never_sees_a_name(app, scenario, auth, client):
    """No page a researcher can open shows a member's display name, nor a case code of a family."""
    values = url_values(app, scenario)
    with app.app_context():
        names = list(db.session.scalars(sa.select(Member.display_name)))
    auth.login(EMAILS["researcher"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("auth.logout", "static", "vega.bundle", "questionnaire.answer"):
            continue
        url = rule.build({arg: values[arg] for arg in rule.arguments})[1]
        response = client.open(url, method="GET" if "GET" in rule.methods else "POST")
        text = response.get_data(as_text=True).replace(url, "")  # the page may name its own address
        assert not any(name in text for name in names), url
        assert values["code"] not in text, url
    for kind in exports.KINDS:  # and what a researcher takes home: every export, pseudonymised
        response = client.post("/exports/", data={"kind": kind, "fmt": "csv", "dates": "shift", "language": "nl"})
        assert response.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(response.data))
        text = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
        assert len(text) > 1000, kind
        assert not any(name in text for name in names), kind
        assert "DEMO" not in text, kind
