"""The import of QuestionnaireResponse bundles: ``POST /fhir/R4`` under a token, and ``flask import-ratings FILE.json``.

A bundle goes through the long CSV's import (the same checks, scores and summaries, all or
nothing). Every refused bundle answers an OperationOutcome naming the entry and the item, and
stores nothing: no answer, no score, no request answered.
"""

from __future__ import annotations

import copy
import json
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from familyalliance.core import analytics, fhir
from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import exporting
from familyalliance.services import fhir as fhir_export
from familyalliance.store.db import db
from familyalliance.store.models import AuditEvent, FormScore, QuestionnaireRequest, Response, User

from ..conftest import empty_tables
from ..mixed_course import build_course
from .test_fhir_api import API, make_token, outcome, parsed

pytestmark = pytest.mark.scenario("course")

BASE = "http://localhost"  # what the test client's requests are asked at (no PUBLIC_URL)
CHECK4 = builtin_instruments()["check4"]


def response(member: str = "M1", session: int = 3, family: str = "FAM-1", **values: int) -> dict:
    """A QuestionnaireResponse of a quick check, as another system would send it (the app's own resource shape)."""
    answers = {"bond": 8, "goals_tasks": 7, "safety": 6, "shared_purpose": 9} | values
    form = fhir.Form(family, member, "mother", session, None, "self", "therapist", "check4", tuple(answers.items()))
    made = fhir.questionnaire_response(form, CHECK4, BASE, "en")
    made["extension"].append({"url": f"{BASE}/fhir/StructureDefinition/form-mode", "valueCode": "round"})
    return made


def bundle(*resources: dict, kind: str = "transaction") -> dict:
    entries = []
    for resource in resources:
        entry = {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": resource}
        if kind in ("transaction", "batch"):
            entry["request"] = {"method": "POST", "url": resource["resourceType"]}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def post(client, token: str, body, **kwargs):
    data = body if isinstance(body, bytes) else json.dumps(body)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    return client.post(API, data=data, headers=headers, **kwargs)


def stored(app) -> tuple:
    """Everything an import writes: the answers, the scores, the answered requests."""
    with app.app_context():
        answers = db.session.execute(sa.select(Response.member_id, Response.item, Response.value)).all()
        scores = db.session.scalar(sa.select(sa.func.count()).select_from(FormScore))
        answered = db.session.scalar(sa.select(sa.func.count()).where(QuestionnaireRequest.answered_at.is_not(None)))
    return sorted(answers, key=str), scores, answered


def refused(app, client, token: str, body, status: int = 422) -> str:
    """Post a bad bundle: its OperationOutcome's diagnostics, after checking that nothing was stored."""
    before = stored(app)
    said = outcome(post(client, token, body), status)
    assert stored(app) == before
    return said


def test_a_bundle_is_stored_scored_and_answered(app, scenario, client):
    token = make_token(app)
    m1_session3 = response(bond=10)
    y1 = response("Y1", 3, bond=2)
    answer = post(client, token, bundle(m1_session3, y1))
    assert answer.status_code == 200, answer.text
    made = parsed(answer.get_json())
    assert made["type"] == "transaction-response"
    assert [e["response"]["status"] for e in made["entry"]] == ["201 Created", "201 Created"]
    assert made["entry"][0]["response"]["location"] == f"QuestionnaireResponse/{m1_session3['id']}"
    # Read back through the API: the same answers, now with the app's scores (bond 10 of 0..10 is POMP 100).
    read = client.get(f"{API}/{made['entry'][0]['response']['location']}", headers={"Authorization": f"Bearer {token}"})
    assert [i["answer"][0]["valueCoding"]["code"] for i in read.get_json()["item"]] == ["10", "7", "6", "9"]
    m1 = fhir.resource_id(BASE, "Patient", "FAM-1", "M1")
    session3 = fhir.resource_id(BASE, "Encounter", "FAM-1", "3")
    scores = client.get(
        f"{API}/Observation?subject={m1}&encounter={session3}&code=bond", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert [e["resource"]["component"][0]["valueQuantity"]["value"] for e in scores["entry"]] == [100.0]
    with app.app_context():
        modes = db.session.scalars(
            sa.select(QuestionnaireRequest.answered_mode).where(
                QuestionnaireRequest.session_id == scenario.fam1.sessions[3],
                QuestionnaireRequest.answered_at.is_not(None),
            )
        ).all()
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "fhir.import")).one()
    assert sorted(modes) == ["round", "round"]
    assert (event.status, event.family_code, event.detail["forms"]) == (200, "FAM-1", 2)


def test_a_collection_with_its_patients_and_encounters(app, scenario, client):
    """An export's own shape: the family's Group, Patients and Encounters beside the response."""
    token = make_token(app)
    with app.app_context():
        exported = fhir_export.family_bundle(db.session.get(User, scenario.users["ann"]), "FAM-1", BASE)
    context = [
        e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] in ("Group", "Patient", "Encounter")
    ]
    answer = post(client, token, bundle(*context, response("C1", 3), kind="collection"))
    assert answer.status_code == 200, answer.text
    statuses = [e["response"]["status"] for e in answer.get_json()["entry"]]
    assert statuses == ["200 OK"] * len(context) + ["201 Created"]


def test_a_wrong_questionnaire_url_or_version(app, scenario, client):
    token = make_token(app)
    other = response()
    other["questionnaire"] = "https://elsewhere.example/fhir/R4/Questionnaire/check4|1.0"
    said = refused(app, client, token, bundle(response("Y1"), other))
    assert "entry 1" in said and "is not an instrument of this installation" in said
    newer = response()
    newer["questionnaire"] = fhir.canonical("check4", BASE) + "|9.9"
    assert "names version 9.9 of check4" in refused(app, client, token, bundle(newer))


def test_an_item_not_in_the_instrument(app, scenario, client):
    token = make_token(app)
    wrong = response()
    wrong["item"].append(copy.deepcopy(wrong["item"][0]) | {"linkId": "bond_2"})
    said = refused(app, client, token, bundle(wrong))
    assert f"entry 0 (QuestionnaireResponse/{wrong['id']})" in said and "item bond_2: not an item of check4" in said


def test_a_value_off_the_scale(app, scenario, client):
    token = make_token(app)
    wrong = response()
    wrong["item"][2]["answer"][0]["valueCoding"]["code"] = "11"
    said = refused(app, client, token, bundle(response("Y1"), wrong))
    assert "entry 1" in said and "item safety: the answer 11 is off the scale of check4 (0 to 10)" in said


def test_a_subject_of_another_family(app, scenario, client):
    token = make_token(app)
    # FAM-2's Patient (of cas's team) with FAM-1's session: not a member ann may write for.
    theirs = response()
    theirs["subject"] = {"reference": f"{BASE}/fhir/R4/Patient/{fhir.resource_id(BASE, 'Patient', 'FAM-2', 'M1')}"}
    assert "subject is not a member of a family this account may write to" in refused(
        app, client, token, bundle(theirs)
    )
    # A Patient in the bundle that says it is FAM-2's M1, answering at FAM-1's session.
    patient = fhir.patient(fhir.Member("FAM-2", "M1", "father"), BASE)
    said = refused(app, client, token, bundle(patient, theirs))
    assert "entry 1" in said and "the subject is not a member of the family of the encounter" in said


def test_a_family_the_account_may_not_open(app, scenario, client):
    cas = make_token(app, "cas", "EHR B")
    said = refused(app, client, cas, bundle(response()))
    assert "not a member of a family this account may write to" in said


def test_a_form_already_answered_names_its_entry_and_item(app, scenario, client):
    """The long import's own check (one answer per key), its problem traced back to the entry and item."""
    token = make_token(app)
    said = refused(app, client, token, bundle(response("M1", 1)))
    assert "entry 0" in said and "item bond" in said


def test_a_body_of_50_mb_is_413(app, scenario, client):
    token = make_token(app)
    body = b'{"resourceType": "Bundle", "type": "batch", "entry": [' + b" " * (50 * 1024 * 1024) + b"]}"
    assert "larger than this endpoint accepts" in refused(app, client, token, body, 413)


def test_a_deactivated_accounts_token_stores_nothing(app, scenario, client):
    token = make_token(app)
    with app.app_context():
        db.session.get(User, scenario.users["ann"]).active = False
        db.session.commit()
    refused(app, client, token, bundle(response()), 401)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"resourceType": "Patient"}, "not a FHIR Bundle"),
        ({"resourceType": "Bundle", "type": "searchset"}, "accepted: transaction, batch, collection"),
        ({"resourceType": "Bundle", "type": "batch", "entry": []}, "holds no QuestionnaireResponse"),
        (b"{not json", "not JSON"),
    ],
)
def test_what_is_no_bundle_of_responses(app, scenario, client, body, said):
    status = 400 if isinstance(body, bytes) else 422
    assert said in refused(app, client, make_token(app), body, status)


@pytest.mark.scenario()
def test_round_trip_through_an_empty_database(app, make_app, client, auth, tmp_path):
    """Export a family's forms as a bundle, import it into an empty database: the long export is the same."""
    build_course(app, client, auth)
    base = "https://alliance.example.org"
    with app.app_context():
        ann = db.session.scalar(sa.select(User).where(User.email == "ann@example.org"))
        family_id = ann.families[0].id
        made = fhir_export.family_bundle(ann, "MIX-1", base)
        before = exporting.export_table("long", [family_id], analytics.DEFAULTS, None, None)
        empty_tables()
    path = tmp_path / "mix-1.json"
    path.write_text(json.dumps(made), encoding="utf-8")
    other = make_app(PUBLIC_URL=base)
    result = other.test_cli_runner().invoke(args=["import-ratings", str(path)])
    assert result.exit_code == 0, result.output
    assert "New families: MIX-1" in result.output
    with other.app_context():
        ids = list(db.session.scalars(sa.select(QuestionnaireRequest.family_id).distinct()))
        after = exporting.export_table("long", ids, analytics.DEFAULTS, None, None)
    assert len(before) > 0
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True))


@pytest.mark.scenario()
def test_the_command_refuses_a_bad_bundle_naming_entry_and_item(app, make_app, tmp_path):
    path = tmp_path / "bad.json"
    wrong = response()
    wrong["item"][0]["answer"][0]["valueCoding"]["code"] = "12"
    path.write_text(json.dumps(bundle(wrong)), encoding="utf-8")
    other = make_app(PUBLIC_URL=BASE)
    result = other.test_cli_runner().invoke(args=["import-ratings", str(path)])
    assert result.exit_code != 0
    assert "nothing was stored" in result.output and "entry 0" in result.output and "item bond" in result.output
    with other.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
