"""FHIR bundles of what an account may see (``services.fhir``): named for the family's team, pseudonymised for research.

Every resource parses with the R4B models of ``fhir.resources``; the responses hold exactly the
stored answers, the observations exactly the app's scores; a research bundle carries the research
exports' pseudonyms and dates, and nothing that names anyone.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class

from familyalliance import config
from familyalliance.core import analytics, exports, fhir, vocab
from familyalliance.core.scoring import SCORE_COLUMNS, SCORE_KEY
from familyalliance.services import exporting, instruments, responses
from familyalliance.services import fhir as fhir_export
from familyalliance.services.errors import OperationError
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, QuestionnaireRequest, TherapySession, User
from familyalliance.store.queries import responses_frame, scores

from ..core.test_fhir_mapping import CUSTOM
from ..mixed_course import NAMES, build_course

pytestmark = pytest.mark.scenario("course")

BASE = "https://alliance.example.org"


def parse_all(bundle: dict) -> list[dict]:
    """The bundle and every resource in it, read by the R4B models; the resources in order."""
    # The Bundle model reads each entry's resource with the model of its type (ids, elements, cardinalities).
    parsed = get_fhir_model_class("Bundle").model_validate(bundle)
    resources = [entry["resource"] for entry in bundle.get("entry", [])]
    assert [entry.resource.get_resource_type() for entry in parsed.entry or []] == [
        r["resourceType"] for r in resources
    ]
    urls = {entry["fullUrl"] for entry in bundle.get("entry", [])}
    assert len(urls) == len(resources), "one entry per resource"
    # Every reference points at an entry of the bundle, every response's canonical at its Questionnaire.
    text = json.dumps(bundle)
    assert set(re.findall(r'"reference": "([^"]+)"', text)) <= urls
    for resource in of_type(resources, "QuestionnaireResponse"):
        assert resource["questionnaire"].split("|")[0] in urls
    return resources


def of_type(resources: list[dict], resource_type: str) -> list[dict]:
    return [r for r in resources if r["resourceType"] == resource_type]


def form_key(row) -> str:
    return "/".join(str(row[c]) for c in SCORE_KEY)


def check_against(resources: list[dict], long: pd.DataFrame, scored: pd.DataFrame) -> None:
    """The responses hold exactly the long table's answered items (no unanswered one), the observations its scores."""
    answered: dict[str, dict[str, int]] = {}
    for row in long.to_dict("records"):
        items = answered.setdefault(form_key(row), {})
        if not pd.isna(row["value"]):
            items[row["item"]] = int(row["value"])
    found = {r["identifier"]["value"]: r for r in of_type(resources, "QuestionnaireResponse")}
    assert set(found) == set(answered)
    for key, resource in found.items():
        items = {item["linkId"]: int(item["answer"][0]["valueCoding"]["code"]) for item in resource.get("item", [])}
        assert items == answered[key], key
    expected = {}
    for row in scored.to_dict("records"):
        for column in SCORE_COLUMNS:
            if not pd.isna(row[column]):
                expected[f"{form_key(row)}/{column}"] = (row[column], row[f"{column}_pomp"])
    observations = of_type(resources, "Observation")
    assert {
        o["identifier"][0]["value"]: (o["valueQuantity"]["value"], o["component"][0]["valueQuantity"]["value"])
        for o in observations
    } == expected
    responses_by_url = {f"{BASE}/fhir/R4/QuestionnaireResponse/{r['id']}": r for r in found.values()}
    for observation in observations:
        (derived,) = observation["derivedFrom"]
        response = responses_by_url[derived["reference"]]
        assert observation["identifier"][0]["value"].rsplit("/", 1)[0] == response["identifier"]["value"]


def user(name: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == f"{name}@example.org"))


def family_id(code: str) -> int:
    return db.session.scalar(sa.select(Family.id).where(Family.code == code))


def store_partial_form(scenario) -> None:
    """Noor's quick check at session 3 with two questions left open."""
    fam1 = scenario.fam1
    values = {"bond": None, "goals_tasks": 6, "safety": None, "shared_purpose": 4}
    responses.store_responses(
        {
            "family_id": fam1.id,
            "member_id": fam1.members["Y1"],
            "session_id": fam1.sessions[3],
            "informant": "self",
            "target": "team",
            "instrument": "check4",
            "item": item,
            "value": value,
        }
        for item, value in values.items()
    )
    db.session.commit()


def test_team_leads_bundle_names_the_family(app, scenario):
    with app.app_context():
        store_partial_form(scenario)
        bundle = fhir_export.family_bundle(user("lead"), "FAM-1", BASE)
        resources = parse_all(bundle)
        fid = family_id("FAM-1")
        check_against(resources, responses_frame([fid], with_mode=True), scores([fid]))
        # The stored scores are the scoring engine's: the same as the scores export computes from the answers.
        computed = exporting.export_table("scores", [fid], analytics.DEFAULTS)
        check_against(resources, responses_frame([fid], with_mode=True), computed)

    assert bundle["type"] == "collection"
    assert [r["id"] for r in of_type(resources, "Questionnaire")] == ["check4", "observer4"]
    (group,) = of_type(resources, "Group")
    assert group["identifier"][0]["value"] == "FAM-1" and group["quantity"] == 3
    patients = of_type(resources, "Patient")
    assert {p["name"][0]["text"] for p in patients} == {"Sandra", "Noor", "Daan"}
    assert {p["identifier"][0]["value"]: p.get("birthDate") for p in patients} == {
        "FAM-1/C1": None,
        "FAM-1/M1": "1980",
        "FAM-1/Y1": "2010",
    }
    assert [m["entity"]["reference"].rsplit("/", 1)[1] for m in group["member"]] == [p["id"] for p in patients]
    encounters = of_type(resources, "Encounter")
    assert [e["identifier"][0]["value"] for e in encounters] == ["FAM-1/1", "FAM-1/2", "FAM-1/3"]
    assert encounters[0]["period"]["start"] == "2026-01-12"
    # Noor's open questions are left out; her answered ones are there.
    (partial,) = [
        r
        for r in of_type(resources, "QuestionnaireResponse")
        if r["identifier"]["value"] == "FAM-1/Y1/3/self/team/check4"
    ]
    assert [item["linkId"] for item in partial["item"]] == ["goals_tasks", "shared_purpose"]
    # The observer form: the family's one therapist gave it.
    (therapist,) = of_type(resources, "Practitioner")
    assert therapist["telecom"][0]["value"] == "ann@example.org"
    (observer,) = [
        r for r in of_type(resources, "QuestionnaireResponse") if r["questionnaire"].endswith("observer4|1.0")
    ]
    assert observer["source"]["reference"].endswith(therapist["id"])
    mother = next(p for p in patients if p["name"][0]["text"] == "Sandra")
    assert observer["subject"]["reference"].endswith(mother["id"])


def test_a_family_only_for_those_who_may_see_it(app, scenario):
    with app.app_context():
        assert of_type(parse_all(fhir_export.family_bundle(user("ann"), "FAM-1", BASE)), "Group")
        for name, code in [
            ("bob", "FAM-1"),
            ("research", "FAM-1"),
            ("lead", "FAM-2"),
            ("cas", "FAM-1"),
            ("ann", "NOPE"),
        ]:
            with pytest.raises(OperationError, match=f"No family {code}"):
                fhir_export.family_bundle(user(name), code, BASE)
        kees = parse_all(fhir_export.family_bundle(user("cas"), "FAM-2", BASE))
        assert [p["name"][0]["text"] for p in of_type(kees, "Patient")] == ["Kees"]
        assert of_type(kees, "QuestionnaireResponse") == []  # no answers yet: no forms, no Questionnaires
        assert of_type(kees, "Questionnaire") == []


@pytest.mark.parametrize("dates", ["shift", "drop"])
def test_research_bundle_is_pseudonymised_as_the_research_exports(app, scenario, dates):
    with app.app_context():
        store_partial_form(scenario)
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(app), dates)
        bundle = fhir_export.research_bundle(user("research"), BASE, pseudonymiser)
        assert fhir_export.research_bundle(user("research"), BASE, pseudonymiser) == bundle  # stable
        resources = parse_all(bundle)
        ids = [family_id("FAM-1"), family_id("FAM-2")]
        # The research exports of the same families: their codes and dates are the bundle's.
        long = exporting.export_table("long", ids, analytics.DEFAULTS, pseudonymiser)
        check_against(resources, long, exporting.export_table("scores", ids, analytics.DEFAULTS, pseudonymiser))
        check_against(resources, long, pseudonymiser.apply(scores(ids)))
        members = db.session.execute(sa.select(Family.code, Member.code).join(Family)).all()
        secrets = set(db.session.scalars(sa.select(Member.display_name))) | {"FAM-1", "FAM-2", "@example.org"}
        sessions = db.session.execute(sa.select(Family.code, TherapySession.number, TherapySession.date).join(Family))
        real_dates = {date.isoformat() for _, _, date in sessions}

    text = json.dumps(bundle, ensure_ascii=False)
    for secret in secrets | real_dates:
        assert secret not in text
    assert of_type(resources, "Practitioner") == []
    groups = of_type(resources, "Group")
    assert sorted(g["identifier"][0]["value"] for g in groups) == sorted(
        [pseudonymiser.family("FAM-1"), pseudonymiser.family("FAM-2")]
    )
    assert set(long["family"]) <= {g["identifier"][0]["value"] for g in groups}
    patients = of_type(resources, "Patient")
    assert {p["identifier"][0]["value"] for p in patients} == {
        f"{pseudonymiser.family(f)}/{pseudonymiser.member(f, m)}" for f, m in members
    }
    for patient in patients:
        assert "name" not in patient and "birthDate" not in patient and "telecom" not in patient
        family, member = patient["identifier"][0]["value"].split("/")
        assert re.fullmatch(r"F[0-9A-F]{12}", family) and re.fullmatch(r"M[0-9A-F]{8}", member)
    observer = [r for r in of_type(resources, "QuestionnaireResponse") if r["questionnaire"].endswith("observer4|1.0")]
    assert [r["source"] for r in observer] == [{"type": "Practitioner", "display": "therapist"}]
    # Dates: the research export's, shifted per family, or none at all.
    dated = {f"{row['family']}/{row['session']}": row["date"] for row in long.to_dict("records")}
    for encounter in of_type(resources, "Encounter"):
        key = encounter["identifier"][0]["value"]
        if dates == "drop":
            assert "period" not in encounter
        elif key in dated:
            assert encounter["period"]["start"] == dated[key].isoformat()
    for response in of_type(resources, "QuestionnaireResponse"):
        family, _, session = response["identifier"]["value"].split("/")[:3]
        if dates == "drop":
            assert "authored" not in response
        else:
            assert response["authored"] == dated[f"{family}/{session}"].isoformat()
    if dates == "drop":
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text)


def test_custom_instrument_is_a_questionnaire_and_its_forms_export(app, scenario):
    with app.app_context():
        instruments.install_instrument(json.dumps(CUSTOM))
        fam1 = scenario.fam1
        values = {"q1": 7, "q2": 6, "q3": 2, "q4": 6, "q5": None, "q6": 4, "q7": 4, "q8": 5}
        responses.store_responses(
            {
                "family_id": fam1.id,
                "member_id": fam1.members["M1"],
                "session_id": fam1.sessions[2],
                "informant": "self",
                "target": "therapist",
                "instrument": "wav_example",
                "item": item,
                "value": value,
            }
            for item, value in values.items()
        )
        db.session.commit()
        listed = fhir_export.questionnaires(BASE)
        definitions = parse_all(fhir_export.definitions_bundle(BASE))
        resources = parse_all(fhir_export.family_bundle(user("lead"), "FAM-1", BASE))
        fid = family_id("FAM-1")
        check_against(resources, responses_frame([fid], with_mode=True), scores([fid]))

    assert [q["id"] for q in listed] == ["alliance16", "check4", "observer4", "wav-example"]
    assert {r["id"] for r in of_type(definitions, "CodeSystem")} >= {"alliance-dimension", "scale-wav-example"}
    (custom,) = [q for q in of_type(resources, "Questionnaire") if q["id"] == "wav-example"]
    assert custom["version"] == "2024.1" and custom["copyright"] == CUSTOM["licence"]
    (form,) = [
        r for r in of_type(resources, "QuestionnaireResponse") if r["questionnaire"] == f"{custom['url']}|2024.1"
    ]
    assert [item["linkId"] for item in form["item"]] == ["q1", "q2", "q3", "q4", "q6", "q7", "q8"]


def test_every_way_of_answering(app, client, auth):
    """The mixed course: links, the round, paper typed in, the therapist's grid; how and when each form was given."""
    build_course(app, client, auth)
    with app.app_context():
        bundle = fhir_export.family_bundle(user("lead"), "MIX-1", BASE, language="en")
        resources = parse_all(bundle)
        fid = family_id("MIX-1")
        long = responses_frame([fid], with_mode=True)
        check_against(resources, long, scores([fid]))
        answered_at = {
            (member, session, instrument): at
            for member, session, instrument, at in db.session.execute(
                sa.select(
                    Member.code,
                    TherapySession.number,
                    QuestionnaireRequest.instrument,
                    QuestionnaireRequest.answered_at,
                )
                .join(Member, Member.id == QuestionnaireRequest.member_id)
                .join(TherapySession, TherapySession.id == QuestionnaireRequest.session_id)
                .where(QuestionnaireRequest.answered_at.is_not(None))
            )
        }

    assert {p["name"][0]["text"] for p in of_type(resources, "Patient")} == set(NAMES.values())
    assert {q["language"] for q in of_type(resources, "Questionnaire")} == {"en"}
    modes = {form_key(row): row["mode"] for row in long.to_dict("records")}
    dates = {row["session"]: row["date"] for row in long.to_dict("records")}
    seen = set()
    for response in of_type(resources, "QuestionnaireResponse"):
        key = response["identifier"]["value"]
        _, member, session, informant, _, instrument = key.split("/")
        context = {e["url"].rsplit("/", 1)[1]: e["valueCode"] for e in response["extension"]}
        assert context["form-mode"] == modes[key]
        seen.add(modes[key])
        if modes[key] == "paper":  # typed in later: the session's date stands for when it was filled in
            assert response["authored"] == dates[int(session)].isoformat()
        else:
            at = answered_at[(member, int(session), instrument)]
            assert response["authored"] == fhir.common.fhir_date(at) and "T" in response["authored"]
        if informant == "therapist":  # the grid, entered by Ann
            assert response["source"]["reference"].endswith(fhir.resource_id(BASE, "Practitioner", "ann@example.org"))
    assert seen == {"link", "round", "paper", "grid"}


def test_write_bundle(app, scenario, tmp_path):
    with app.app_context():
        path = tmp_path / "fam.json"
        count, written = fhir_export.write_bundle(path, [family_id("FAM-1")], BASE)
        everyone = fhir_export.write_bundle(tmp_path / "all.json", None, BASE)[0]
    assert written == [path]
    resources = parse_all(json.loads(path.read_text(encoding="utf-8")))
    assert count == len(resources)
    assert {r["resourceType"] for r in resources} >= {"Group", "Patient", "Encounter", "QuestionnaireResponse"}
    assert {o["code"]["coding"][0]["code"] for o in of_type(resources, "Observation")} == {*vocab.DIMENSIONS, "total"}
    assert everyone > count  # FAM-2 too


def test_research_bundle_of_no_family(app, scenario):
    with app.app_context():
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(app))
        empty = fhir_export.research_bundle(user("lone"), BASE, pseudonymiser)
        own = parse_all(fhir_export.research_bundle(user("lead"), BASE, pseudonymiser, codes=["FAM-1"]))
    assert parse_all(empty) == [] and "entry" not in empty
    assert [g["identifier"][0]["value"] for g in of_type(own, "Group")] == [pseudonymiser.family("FAM-1")]


@pytest.mark.scenario("demo")
def test_demo_families_as_named_and_research_bundles(app, scenario):
    """Five families, every built-in instrument: every resource parses once, every answer and score is there."""
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Family.id)))
        named = parse_all(fhir_export.families_bundle(ids, BASE))
        check_against(named, responses_frame(ids, with_mode=True), scores(ids))
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(app))
        research = parse_all(fhir_export.research_bundle(user("research"), BASE, pseudonymiser))
        check_against(
            research,
            exporting.export_table("long", ids, analytics.DEFAULTS, pseudonymiser),
            pseudonymiser.apply(scores(ids)),
        )
    assert len(of_type(named, "Group")) == len(of_type(research, "Group")) == 5
    assert len(named) > len(research)  # the named bundle has the therapists too
    assert {q["id"] for q in of_type(research, "Questionnaire")} == {"alliance16", "check4", "observer4"}


# --- The ``fhir`` export kind: ``flask export fhir`` ---------------------------------------------


def export_fhir(runner, path, *extra):
    return runner.invoke(args=["export", "fhir", "--output", str(path), *extra])


def test_export_command_writes_the_named_bundle_of_every_family(app, make_app, scenario, tmp_path):
    path = tmp_path / "all.json"
    result = export_fhir(make_app(PUBLIC_URL=BASE).test_cli_runner(), path, "--format", "json", "--language", "nl")
    assert result.exit_code == 0, result.output
    bundle = json.loads(path.read_text(encoding="utf-8"))
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Family.id)))
        assert bundle == fhir_export.families_bundle(ids, BASE, None, "nl")
    resources = parse_all(bundle)
    assert f"Wrote {len(resources)} entries to {path}." in result.output
    assert {g["identifier"][0]["value"] for g in of_type(resources, "Group")} == {"FAM-1", "FAM-2"}
    assert {p["name"][0]["text"] for p in of_type(resources, "Patient")} == {"Sandra", "Noor", "Daan", "Kees"}
    assert {q["language"] for q in of_type(resources, "Questionnaire")} == {"nl"}


@pytest.mark.parametrize("dates", ["shift", "drop"])
def test_export_command_pseudonymised_is_the_research_bundle(app, make_app, scenario, tmp_path, dates):
    path = tmp_path / "research.json"
    runner = make_app(PUBLIC_URL=BASE + "/").test_cli_runner()  # a trailing slash changes nothing
    result = export_fhir(runner, path, "--pseudonymise", "--dates", dates)  # json without --format
    assert result.exit_code == 0, result.output
    bundle = json.loads(path.read_text(encoding="utf-8"))
    with app.app_context():
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(app), dates)
        assert bundle == fhir_export.research_bundle(user("research"), BASE, pseudonymiser, language="en")
        names = set(db.session.scalars(sa.select(Member.display_name)))
    text = path.read_text(encoding="utf-8")
    assert not any(name in text for name in names) and "FAM-1" not in text
    assert of_type(parse_all(bundle), "Practitioner") == []


def test_export_command_needs_the_public_url(runner, scenario, tmp_path):
    path = tmp_path / "all.json"
    result = export_fhir(runner, path, "--format", "json")
    assert result.exit_code == 1
    assert "set PUBLIC_URL" in result.output
    assert not path.exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sav"])
def test_fhir_is_written_as_json_only(make_app, scenario, tmp_path, fmt):
    result = export_fhir(make_app(PUBLIC_URL=BASE).test_cli_runner(), tmp_path / "out", "--format", fmt)
    assert result.exit_code == 1
    assert f"The fhir export is written as json only (--format json), not {fmt}." in result.output
    assert list(tmp_path.iterdir()) == []
