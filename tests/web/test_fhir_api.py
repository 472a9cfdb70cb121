"""The FHIR API (``/fhir/R4``): personal API tokens, what a token reads, searchsets and their paging, errors.

Every answer is read by the R4B models of ``fhir.resources`` (CapabilityStatement, searchset Bundles,
OperationOutcomes); a token reaches exactly what its account may see (ann: FAM-1; cas: FAM-2; the
researcher: pseudonymised), a revoked token or a deactivated account's is refused, every call is in
the audit log, and calls beyond the limit get 429.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class

from familyalliance import config
from familyalliance.core import exports, fhir
from familyalliance.services import apitokens
from familyalliance.services import fhir as fhir_export
from familyalliance.store.db import db
from familyalliance.store.models import ApiToken, AuditEvent, User

from ..scenarios import email

pytestmark = pytest.mark.scenario("course")

API = "/fhir/R4"


def parsed(body: dict) -> dict:
    """The answer, after the R4B model of its type read it (unknown elements, wrong types and missing ones fail)."""
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


def outcome(response, status: int) -> str:
    """The OperationOutcome of a refused call, with its status; its diagnostics."""
    assert response.status_code == status, response.text
    assert response.mimetype == "application/fhir+json"
    body = parsed(response.get_json())
    assert body["resourceType"] == "OperationOutcome"
    return " ".join(issue["diagnostics"] for issue in body["issue"])


def make_token(app, name: str = "ann", label: str = "EHR") -> str:
    """A token of the cast member ``name``, made by the service (the page is tested on its own below)."""
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email(name)))
        _row, token = apitokens.create(user, label)
        db.session.commit()
    return token


def call(client, path: str, token: str | None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(f"{API}/{path}", headers=headers, **kwargs)


def identifiers(bundle: dict) -> set[str]:
    return {entry["resource"]["identifier"]["value"] for entry in bundle.get("entry", [])}


def test_the_token_page_shows_a_token_once_keeps_its_hash_and_revokes_it(app, scenario, auth, client):
    auth.login(email("ann"))
    page = client.post("/account/api-tokens?lang=en", data={"name": "EHR of the clinic"})
    assert page.status_code == 200
    token = re.search(r'id="new-token" type="text" value="([^"]+)"', page.text).group(1)
    assert token.startswith("fa_") and len(token) > 40
    with app.app_context():
        row = db.session.scalar(sa.select(ApiToken))
        assert row.name == "EHR of the clinic"
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str([getattr(row, c.name) for c in ApiToken.__table__.c])
    again = client.get("/account/api-tokens?lang=en")
    assert token not in again.text  # shown once
    assert "EHR of the clinic" in again.text and "Never" in again.text

    assert call(client, "Questionnaire", token).status_code == 200
    assert "Never" not in client.get("/account/api-tokens?lang=en").text  # its last use is shown

    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))
    other = make_token(app, "bob")
    with app.app_context():
        bobs = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.id != token_id))
    assert client.post(f"/account/api-tokens/{bobs}/revoke").status_code == 404  # not ann's own
    assert call(client, "Questionnaire", other).status_code == 200
    revoked = client.post(f"/account/api-tokens/{token_id}/revoke?lang=en", follow_redirects=True)
    assert "is revoked" in revoked.text and "EHR of the clinic" in revoked.text
    assert "You have no tokens in use." in revoked.text
    assert "no valid API token" in outcome(call(client, "Questionnaire", token), 401)
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.user_email == email("ann"))))
    assert {"api_token.created", "api_token.revoked"} <= set(actions)


def test_a_token_page_in_dutch(app, scenario, auth, client):
    auth.login(email("lead"))
    page = client.post("/account/api-tokens?lang=nl", data={"name": "Tablet"})
    assert "Je nieuwe token" in page.text and "API-tokens" in page.text
    assert "Nooit" in page.text


@pytest.mark.parametrize("header", [None, "Bearer fa_not-a-token", "Basic YW5uOnNlY3JldA=="])
def test_no_or_an_unknown_token_is_refused(app, scenario, client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get(f"{API}/QuestionnaireResponse", headers=headers)
    assert "Bearer" in outcome(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.status, event.user_id) == ("fhir.refused", 401, None)


def test_a_deactivated_accounts_token_is_refused(app, scenario, client):
    token = make_token(app, "ann")
    assert call(client, "QuestionnaireResponse", token).status_code == 200
    with app.app_context():
        db.session.get(User, scenario.users["ann"]).active = False
        db.session.commit()
    outcome(call(client, "QuestionnaireResponse", token), 401)


def test_metadata_is_a_capability_statement(client, scenario):
    response = client.get(f"{API}/metadata")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    statement = parsed(response.get_json())
    types = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(types) == {
        "Questionnaire",
        "QuestionnaireResponse",
        "Observation",
        "Patient",
        "Group",
        "Encounter",
        "Practitioner",
    }
    assert {"subject", "encounter", "_count"} <= {p["name"] for p in types["QuestionnaireResponse"]["searchParam"]}


def test_a_token_reads_its_accounts_families_only(app, scenario, client):
    ann, cas = make_token(app, "ann"), make_token(app, "cas", "EHR B")
    found = parsed(call(client, "QuestionnaireResponse", ann).get_json())
    assert found["type"] == "searchset" and found["total"] == 3
    assert {key.split("/")[0] for key in identifiers(found)} == {"FAM-1"}
    assert {entry["search"]["mode"] for entry in found["entry"]} == {"match"}
    response_id = found["entry"][0]["resource"]["id"]
    assert call(client, f"QuestionnaireResponse/{response_id}", ann).get_json()["id"] == response_id
    # cas (Team B) does not reach FAM-1: not in a search, and its resources are not found, as an unknown id.
    assert parsed(call(client, "QuestionnaireResponse", cas).get_json())["total"] == 0
    assert "not one this token's account may read" in outcome(
        call(client, f"QuestionnaireResponse/{response_id}", cas), 404
    )
    outcome(call(client, "QuestionnaireResponse/no-such-id", ann), 404)
    m1 = fhir.resource_id("http://localhost", "Patient", "FAM-1", "M1")
    assert parsed(call(client, f"Observation?subject=Patient/{m1}", cas).get_json())["total"] == 0
    # The team lead reads the team's family, named as on its pages: the same resources as ann.
    lead = make_token(app, "lead", "EHR A")
    assert identifiers(call(client, "QuestionnaireResponse", lead).get_json()) == identifiers(found)


def test_a_researchers_token_reads_pseudonyms(app, scenario, client):
    token = make_token(app, "research", "Analysis")
    found = parsed(call(client, "QuestionnaireResponse", token).get_json())
    # The research exports' own pseudonyms and dates: the research bundle's responses, no more.
    with app.app_context():
        user = db.session.get(User, scenario.users["research"])
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(app), "shift")
        research = fhir_export.research_bundle(user, "http://localhost", pseudonymiser)
    expected = [e["resource"] for e in research["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    assert [e["resource"] for e in found["entry"]] == expected and found["total"] == 3
    text = str(found)
    assert "FAM-1" not in text and "FAM-2" not in text and "Sandra" not in text
    assert all(not key.startswith("FAM") for key in identifiers(found))
    # A search by a pseudonymised member finds that member's forms, as the full search holds them.
    subject = expected[0]["subject"]["reference"]
    by_subject = call(client, f"QuestionnaireResponse?subject={subject}", token).get_json()
    assert [e["resource"] for e in by_subject["entry"]] == [r for r in expected if r["subject"]["reference"] == subject]
    # The members without names or birth years, by their pseudonyms; the team lead's with them.
    patients = parsed(call(client, "Patient", token).get_json())
    assert patients["total"] == 4 and not any("name" in e["resource"] for e in patients["entry"])
    named = call(client, "Patient?identifier=FAM-1/M1", make_token(app, "lead", "EHR")).get_json()["entry"]
    assert [(e["resource"]["name"][0]["text"], e["resource"]["birthDate"]) for e in named] == [("Sandra", "1980")]
    # A researcher's account may not write.
    sent = client.post(
        API, json={"resourceType": "Bundle", "type": "batch"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert "may not import" in outcome(sent, 403)


def test_searches_by_subject_encounter_code_and_derived_from(app, scenario, client):
    token = make_token(app)
    base = "http://localhost"
    m1 = fhir.resource_id(base, "Patient", "FAM-1", "M1")
    session1 = fhir.resource_id(base, "Encounter", "FAM-1", "1")
    by_subject = parsed(call(client, f"QuestionnaireResponse?subject=Patient/{m1}", token).get_json())
    assert identifiers(by_subject) == {"FAM-1/M1/1/self/therapist/check4", "FAM-1/M1/1/therapist/therapist/observer4"}
    full_url = f"{base}/fhir/R4/Patient/{m1}"
    both = call(client, f"QuestionnaireResponse?patient={full_url}&encounter=Encounter/{session1}", token).get_json()
    assert identifiers(both) == identifiers(by_subject)
    check4 = fhir.canonical("check4", base)
    assert parsed(call(client, f"QuestionnaireResponse?questionnaire={check4}", token).get_json())["total"] == 2
    bonds = parsed(call(client, "Observation?code=bond", token).get_json())
    assert bonds["total"] == 3 and {e["resource"]["code"]["coding"][0]["code"] for e in bonds["entry"]} == {"bond"}
    response_id = fhir.resource_id(base, "QuestionnaireResponse", "FAM-1", "M1", "1", "self", "therapist", "check4")
    derived = parsed(call(client, f"Observation?derived-from=QuestionnaireResponse/{response_id}", token).get_json())
    assert {e["resource"]["identifier"][0]["value"].rsplit("/", 1)[1] for e in derived["entry"]} == {
        "bond",
        "goals_tasks",
        "safety",
        "shared_purpose",
        "total",
    }
    questionnaire = parsed(call(client, "Questionnaire/check4", token).get_json())
    assert questionnaire["resourceType"] == "Questionnaire" and questionnaire["url"] == check4


def test_paging_with_count_and_next_links(app, scenario, client):
    token = make_token(app)
    seen, path, pages = [], "Observation?code=bond&_count=2", 0
    while path:
        page = parsed(call(client, path, token).get_json())
        assert page["total"] == 3 and len(page.get("entry", [])) <= 2
        seen += [entry["resource"]["id"] for entry in page["entry"]]
        links = {link["relation"]: link["url"] for link in page["link"]}
        assert "code=bond" in links["self"] and "_count=2" in links["self"]
        pages += 1
        if "next" in links:
            assert urlsplit(links["next"]).path == f"{API}/Observation"
            nxt = urlsplit(links["next"])
            path = f"Observation?{nxt.query}"
        else:
            path = None
    assert pages == 2 and len(seen) == len(set(seen)) == 3
    last = parsed(call(client, "Observation?code=bond&_count=2&_page=2", token).get_json())
    assert {link["relation"] for link in last["link"]} == {"self", "first", "previous", "last"}
    only_total = parsed(call(client, "Observation?code=bond&_count=0", token).get_json())
    assert only_total["total"] == 3 and "entry" not in only_total


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("QuestionnaireResponse?name=x", "unknown search parameter 'name'"),
        ("QuestionnaireResponse?_count=-1", "_count must be"),
        ("Observation?_page=0", "_page must be"),
        ("Observation?subject=", "has no value"),
    ],
)
def test_a_bad_search_parameter_is_400(app, scenario, client, query, said):
    assert said in outcome(call(client, query, make_token(app)), 400)


def test_types_the_api_does_not_offer_are_404(app, scenario, client):
    token = make_token(app)
    assert "metadata" in outcome(call(client, "Task", token), 404)
    assert "metadata" in outcome(call(client, "Patient/x/_history", token), 404)


def test_every_call_is_audited_with_its_account_family_and_status(app, scenario, client):
    token = make_token(app)
    response_id = call(client, "QuestionnaireResponse?_count=1", token).get_json()["entry"][0]["resource"]["id"]
    call(client, f"QuestionnaireResponse/{response_id}", token)
    call(client, "QuestionnaireResponse?bad=1", token)
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        token_id = db.session.scalar(sa.select(ApiToken.id))
    calls = [(e.action, e.user_email, e.status, e.family_code) for e in events]
    assert calls == [
        ("fhir.read", email("ann"), 200, "FAM-1"),
        ("fhir.read", email("ann"), 200, "FAM-1"),
        ("fhir.read", email("ann"), 400, None),
    ]
    assert all(e.detail["token"] == token_id for e in events)
    assert events[1].detail["path"] == f"{API}/QuestionnaireResponse/{response_id}"


def test_calls_beyond_the_limit_get_429(make_app, scenario):
    app = make_app(API_RATE_LIMIT="2 per minute")
    client = app.test_client()
    token = make_token(app)
    assert [call(client, "Questionnaire", token).status_code for _ in range(2)] == [200, 200]
    response = call(client, "Questionnaire", token)
    assert "too many calls" in outcome(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    # The limit is the token's: another account's token still gets through.
    assert call(client, "Questionnaire", make_token(app, "lead", "other")).status_code == 200
