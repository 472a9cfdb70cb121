"""The FHIR mapping (``core.fhir``): every resource parses with the R4B models and says what it should."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import pytest
from fhir.resources.R4B import get_fhir_model_class

from familyalliance.core import fhir, vocab
from familyalliance.core.instruments import builtin_instruments, load_definition
from familyalliance.core.scoring import SCORE_COLUMNS, score_answers

BASE = "https://alliance.example.org/"
ROOT = BASE.rstrip("/")
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"

#: The eight-item example of docs/instruments.md: an organisation's own instrument.
CUSTOM = {
    "schema_version": 1,
    "code": "wav_example",
    "version": "2024.1",
    "name": {"nl": "Voorbeeld werkrelatievragenlijst", "en": "Example working alliance questionnaire"},
    "licence": "Used under licence no. 123 held by Example Youth Care",
    "informant": "self",
    "audience": ["adult", "youth"],
    "scale": {
        "min": 1,
        "max": 7,
        "anchors": [
            {"value": 1, "label": {"nl": "nooit", "en": "never"}},
            {"value": 4, "label": {"nl": "soms", "en": "sometimes"}},
            {"value": 7, "label": {"nl": "altijd", "en": "always"}},
        ],
    },
    "min_answered": 1,
    "items": [
        {
            "code": f"q{i + 1}",
            "dimension": d,
            "reverse": i == 3,
            "text": {"nl": f"vraag {i + 1}", "en": f"item {i + 1}"},
        }
        for i, d in enumerate(
            ["bond", "bond", "goals_tasks", "goals_tasks", "safety", "safety"] + ["shared_purpose"] * 2
        )
    ],
}


def parse(resource: dict):
    """The resource read by the R4B model of its type: unknown elements, wrong types and bad ids fail."""
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def translations(element: dict) -> dict[str, str]:
    """The translation extension of a primitive (``_text``, ``_display``): language -> text."""
    found = {}
    for extension in element.get("extension", []):
        if extension["url"] == TRANSLATION:
            parts = {part["url"]: part for part in extension["extension"]}
            found[parts["lang"]["valueCode"]] = parts["content"]["valueString"]
    return found


def rows(family, member, role, session, date, informant, target, instrument, values, mode=None):
    """A form's long rows (metrics.md section 3, with mode), as the long export holds them (sorted by item)."""
    return [
        (family, member, role, session, date, informant, target, instrument, item, value, mode)
        for item, value in sorted(values.items())
    ]


DISPLAYS = {"bond": "Bond", "goals_tasks": "Goals and tasks", "safety": "Safety", "shared_purpose": "Shared purpose"}
INSTRUMENTS = builtin_instruments() | {"wav_example": load_definition(CUSTOM)}


@pytest.mark.parametrize("code", sorted(INSTRUMENTS))
def test_instrument_as_questionnaire(code):
    instrument = INSTRUMENTS[code]
    resource = fhir.questionnaire(instrument, BASE)
    parsed = parse(resource)
    assert parsed.status == "active" and resource["language"] == "nl"
    assert resource["id"] == code.replace("_", "-")
    assert resource["url"] == f"{ROOT}/fhir/R4/Questionnaire/{resource['id']}"
    assert resource["version"] == instrument.version == instrument.definition["version"]
    assert resource["title"] == instrument.name["nl"] and translations(resource["_title"]) == {
        "en": instrument.name["en"]
    }
    assert [item["linkId"] for item in resource["item"]] == list(instrument.item_codes)
    for item, definition in zip(resource["item"], instrument.items, strict=True):
        assert item["code"] == [
            {
                "system": f"{ROOT}/fhir/CodeSystem/alliance-dimension",
                "code": definition.dimension,
                "display": DISPLAYS[definition.dimension],
            }
        ]
        assert item["text"] == definition.text_for("nl", "therapist")
        assert translations(item["_text"]) == {"en": definition.text_for("en", "therapist")}
        assert item["type"] == "choice"
        codings = [option["valueCoding"] for option in item["answerOption"]]
        assert [c["code"] for c in codings] == [str(v) for v in range(instrument.scale_min, instrument.scale_max + 1)]
        assert [c["extension"] for c in codings] == [
            [{"url": ORDINAL, "valueDecimal": v}] for v in range(instrument.scale_min, instrument.scale_max + 1)
        ]
        assert {c["system"] for c in codings} == {f"{ROOT}/fhir/CodeSystem/scale-{resource['id']}"}
        for value, labels in instrument.anchors:
            coding = codings[value - instrument.scale_min]
            assert coding["display"] == labels["nl"] and translations(coding["_display"]) == {"en": labels["en"]}
        reverse = [e for e in item.get("extension", []) if e["url"].endswith("/reverse-keyed")]
        assert reverse == (
            [{"url": f"{ROOT}/fhir/StructureDefinition/reverse-keyed", "valueBoolean": True}]
            if definition.reverse
            else []
        )


def test_custom_instrument_keeps_its_licence_and_english_on_request():
    resource = fhir.questionnaire(INSTRUMENTS["wav_example"], BASE, language="en")
    assert resource["copyright"] == CUSTOM["licence"] and "publisher" not in resource
    assert resource["title"] == "Example working alliance questionnaire"
    assert translations(resource["_title"]) == {"nl": "Voorbeeld werkrelatievragenlijst"}
    assert resource["item"][0]["answerOption"][3]["valueCoding"]["display"] == "sometimes"
    assert resource["item"][0]["answerOption"][1]["valueCoding"]["display"] == "2"  # no label: the number


def test_code_systems_parse_and_name_every_code():
    systems = {s["id"]: s for s in fhir.code_systems(BASE, INSTRUMENTS)}
    for system in systems.values():
        parse(system)
        assert system["url"] == f"{ROOT}/fhir/CodeSystem/{system['id']}"
    assert [c["code"] for c in systems["alliance-dimension"]["concept"]] == [*vocab.DIMENSIONS, "total"]
    assert [c["code"] for c in systems["alliance-score"]["concept"]] == ["pomp"]
    assert [c["code"] for c in systems["family-role"]["concept"]] == list(vocab.ROLES)
    assert [c["code"] for c in systems["scale-observer4"]["concept"]] == [str(v) for v in range(-3, 4)]
    assert systems["scale-wav-example"]["version"] == "2024.1"


def test_forms_group_long_rows_by_form():
    long = rows(
        "F1", "M1", "mother", 1, "2026-01-12", "self", "therapist", "check4", {"bond": 7, "safety": None}, "link"
    )
    long += rows("F1", "M1", "mother", 1, "2026-01-12", "self", "team", "check4", {"bond": 2}, None)
    long.append(
        dict(
            zip(
                ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"],
                ("F1", "M1", "mother", "1", "2026-01-12", "self", "therapist", "check4", "goals_tasks", ""),
                strict=True,
            )
        )
    )
    made = fhir.forms(long)
    assert [f.target for f in made] == ["therapist", "team"]
    assert made[0].values == {"bond": 7, "safety": None, "goals_tasks": None}
    assert made[0].mode == "link" and made[1].mode is None
    assert made[0].date == dt.date(2026, 1, 12) and made[0].session == 1
    assert made[0].key == ("F1", "M1", "1", "self", "therapist", "check4")


def test_response_holds_the_answered_items_in_the_instruments_order():
    instrument = INSTRUMENTS["alliance16"]
    values = {code: 4 for code in instrument.item_codes} | {"bond_2": None, "safety_4": 1, "shared_purpose_1": None}
    (form,) = fhir.forms(
        rows("F_1", "M1", "mother", 3, dt.date(2026, 3, 2), "self", "therapist", "alliance16", values, "link")
    )
    resource = fhir.questionnaire_response(form, instrument, BASE)
    parsed = parse(resource)
    assert parsed.status == "completed"
    assert resource["questionnaire"] == f"{ROOT}/fhir/R4/Questionnaire/alliance16|1.0"
    answered = [code for code in instrument.item_codes if values[code] is not None]
    assert [item["linkId"] for item in resource["item"]] == answered  # unanswered items left out
    assert {item["linkId"]: int(item["answer"][0]["valueCoding"]["code"]) for item in resource["item"]} == {
        code: values[code] for code in answered
    }
    assert all(item["answer"][0]["valueCoding"]["system"].endswith("/scale-alliance16") for item in resource["item"])
    patient = fhir.patient(fhir.Member("F_1", "M1", "mother"), BASE)
    session = fhir.encounter(fhir.Session("F_1", 3, dt.date(2026, 3, 2)), BASE)
    assert resource["subject"] == resource["source"] == fhir.reference(BASE, patient)
    assert resource["encounter"] == fhir.reference(BASE, session)
    assert resource["authored"] == "2026-03-02"
    assert resource["identifier"] == {
        "system": f"{ROOT}/fhir/NamingSystem/form",
        "value": "F_1/M1/3/self/therapist/alliance16",
    }
    assert {e["url"].rsplit("/", 1)[1]: e["valueCode"] for e in resource["extension"]} == {
        "alliance-informant": "self",
        "alliance-target": "therapist",
        "form-mode": "link",
    }


def test_observer_form_names_its_therapist_when_known():
    instrument = INSTRUMENTS["observer4"]
    (form,) = fhir.forms(
        rows("F1", "Y1", "youth", 2, None, "therapist", "team", "observer4", dict.fromkeys(vocab.DIMENSIONS, -2))
    )
    anonymous = fhir.questionnaire_response(form, instrument, BASE)
    parse(anonymous)
    assert anonymous["source"] == {"type": "Practitioner", "display": "therapist"}
    assert "authored" not in anonymous  # dates left out
    moment = dt.datetime(2026, 3, 2, 18, 30, 5, 123, tzinfo=dt.UTC)
    rated = dataclasses.replace(form, rater="ann@example.org", authored=moment)
    resource = fhir.questionnaire_response(rated, instrument, BASE)
    therapist = fhir.practitioner(fhir.Therapist("ann@example.org", "ann@example.org"), BASE)
    parse(therapist)
    assert resource["source"] == fhir.reference(BASE, therapist)
    assert resource["subject"] == fhir.reference(BASE, fhir.patient(fhir.Member("F1", "Y1", "youth"), BASE))
    assert resource["authored"] == "2026-03-02T18:30:05+00:00"
    assert parse(resource).authored is not None
    assert [o["performer"] for o in fhir.observations(rated, instrument, BASE)] == [[resource["source"]]] * 5


def test_unanswered_form_has_no_items_and_no_observations():
    instrument = INSTRUMENTS["check4"]
    (form,) = fhir.forms(
        rows("F1", "C1", "child", 1, None, "self", "therapist", "check4", dict.fromkeys(vocab.DIMENSIONS))
    )
    resource = fhir.questionnaire_response(form, instrument, BASE)
    parse(resource)
    assert "item" not in resource
    assert fhir.observations(form, instrument, BASE) == []


@pytest.mark.parametrize(
    ("code", "values"),
    [
        (
            "alliance16",
            {"bond_1": 5, "bond_2": 4, "bond_3": 4, "goals_tasks_1": 2, "goals_tasks_2": 3, "goals_tasks_3": 3}
            | {"safety_1": 5, "safety_2": 5, "safety_3": 4, "safety_4": 2, "shared_purpose_4": 5},
        ),
        ("check4", {"bond": 8, "goals_tasks": 5, "safety": 2, "shared_purpose": 10}),
        ("observer4", {"bond": -3, "goals_tasks": 0, "safety": 3, "shared_purpose": 1}),
        ("wav_example", {"q1": 7, "q3": 2, "q4": 6, "q5": 1, "q7": 4, "q8": 5}),
    ],
)
def test_observations_are_the_scoring_engines_scores(code, values):
    instrument = INSTRUMENTS[code]
    informant = instrument.informant
    (form,) = fhir.forms(rows("F1", "M1", "mother", 2, "2026-02-02", informant, "therapist", code, values, "paper"))
    expected = score_answers(instrument, form.values)
    made = fhir.observations(form, instrument, BASE)
    response = fhir.questionnaire_response(form, instrument, BASE)
    assert [o["code"]["coding"][0]["code"] for o in made] == [c for c in SCORE_COLUMNS if expected[c] is not None]
    for observation in made:
        parse(observation)
        column = observation["code"]["coding"][0]["code"]
        assert observation["code"]["coding"][0]["system"] == f"{ROOT}/fhir/CodeSystem/alliance-dimension"
        assert observation["valueQuantity"]["value"] == expected[column]
        (pomp,) = observation["component"]
        assert pomp["code"]["coding"][0] == {
            "system": f"{ROOT}/fhir/CodeSystem/alliance-score",
            "code": "pomp",
            "display": "POMP",
        }
        assert pomp["valueQuantity"] == {
            "value": expected[f"{column}_pomp"],
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        }
        assert observation["derivedFrom"] == [fhir.reference(BASE, response)]
        assert observation["subject"] == response["subject"] and observation["encounter"] == response["encounter"]
        assert observation["effectiveDateTime"] == "2026-02-02"
        assert observation["referenceRange"][0]["low"]["value"] == instrument.scale_min
    # Scores handed in (the stored ones) are taken as they are.
    given = dict.fromkeys(SCORE_COLUMNS + [f"{c}_pomp" for c in SCORE_COLUMNS], float("nan")) | {
        "bond": 1.5,
        "bond_pomp": 12.5,
    }
    (only,) = fhir.observations(form, instrument, BASE, given)
    assert only["valueQuantity"]["value"] == 1.5 and only["component"][0]["valueQuantity"]["value"] == 12.5


def test_people_and_sessions_parse_with_stable_valid_ids():
    long_code = "F_" + "x" * 62  # 64 characters with an underscore: no FHIR id, yet a valid resource
    member = fhir.Member(long_code, "M_1", "foster_parent", "Sam", 1979)
    resource = fhir.patient(member, BASE)
    parse(resource)
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", resource["id"])
    assert (
        resource["id"]
        == fhir.patient(member, BASE)["id"]
        != fhir.patient(fhir.Member(long_code, "M_2", "child"), BASE)["id"]
    )
    assert resource["identifier"] == [{"system": f"{ROOT}/fhir/NamingSystem/member", "value": f"{long_code}/M_1"}]
    assert resource["name"] == [{"text": "Sam"}] and resource["birthDate"] == "1979"
    assert resource["extension"][0]["valueCoding"] == {
        "system": f"{ROOT}/fhir/CodeSystem/family-role",
        "code": "foster_parent",
    }
    unnamed = fhir.patient(fhir.Member("F1", "M1", "mother"), BASE)
    assert "name" not in unnamed and "birthDate" not in unnamed
    family = fhir.group(long_code, [member], BASE)
    parse(family)
    assert family["member"] == [{"entity": fhir.reference(BASE, resource)}] and family["quantity"] == 1
    parse(fhir.group("F2", [], BASE))
    encounter = fhir.encounter(fhir.Session(long_code, 4, dt.date(2026, 4, 1)), BASE)
    parse(encounter)
    assert encounter["subject"] == fhir.reference(BASE, family) and encounter["period"] == {"start": "2026-04-01"}
    planned = fhir.encounter(fhir.Session("F2", 1, None, "planned"), BASE)
    assert parse(planned).status == "planned" and "period" not in planned
    therapist = fhir.practitioner(fhir.Therapist("ann@example.org"), BASE)
    parse(therapist)
    assert "telecom" not in therapist


def test_bundles():
    instrument = INSTRUMENTS["check4"]
    (form,) = fhir.forms(
        rows("F1", "M1", "mother", 1, "2026-01-12", "self", "therapist", "check4", {"bond": 3, "safety": 9})
    )
    member = fhir.Member("F1", "M1", "mother", "Sandra")
    resources = [
        fhir.questionnaire(instrument, BASE),
        fhir.group("F1", [member], BASE),
        fhir.patient(member, BASE),
        fhir.encounter(fhir.Session("F1", 1, dt.date(2026, 1, 12)), BASE),
        fhir.questionnaire_response(form, instrument, BASE),
        *fhir.observations(form, instrument, BASE),
    ]
    collection = fhir.bundle(resources, BASE)
    parse(collection)
    assert collection["type"] == "collection" and "total" not in collection
    urls = [entry["fullUrl"] for entry in collection["entry"]]
    assert urls == [f"{ROOT}/fhir/R4/{r['resourceType']}/{r['id']}" for r in resources]
    assert len(set(urls)) == len(urls)
    # Every reference in the bundle points at one of its entries; the canonical at the Questionnaire.
    text = fhir.dumps(collection)
    assert json.loads(text) == collection
    references = set(re.findall(r'"reference":"([^"]+)"', text))
    assert references and references <= set(urls)
    assert collection["entry"][4]["resource"]["questionnaire"].split("|")[0] == urls[0]
    with pytest.raises(ValueError, match="only a searchset"):
        fhir.bundle(resources, BASE, total=3)

    search = fhir.bundle(
        resources[4:6],
        BASE,
        "searchset",
        total=12,
        links=fhir.paging_links(f"{ROOT}/fhir/R4/QuestionnaireResponse?subject=x&_page=9", 2, 2, 12),
        matches={"QuestionnaireResponse"},
    )
    parse(search)
    assert search["total"] == 12
    assert [entry["search"]["mode"] for entry in search["entry"]] == ["match", "include"]
    links = {link["relation"]: link["url"] for link in search["link"]}
    assert links == {
        "self": f"{ROOT}/fhir/R4/QuestionnaireResponse?subject=x&_count=2&_page=2",
        "first": f"{ROOT}/fhir/R4/QuestionnaireResponse?subject=x&_count=2&_page=1",
        "previous": f"{ROOT}/fhir/R4/QuestionnaireResponse?subject=x&_count=2&_page=1",
        "next": f"{ROOT}/fhir/R4/QuestionnaireResponse?subject=x&_count=2&_page=3",
        "last": f"{ROOT}/fhir/R4/QuestionnaireResponse?subject=x&_count=2&_page=6",
    }
    only = {link["relation"] for link in fhir.paging_links(f"{ROOT}/fhir/R4/Patient", 1, 10, 0)}
    assert only == {"self", "first", "last"}
    parse(fhir.bundle([], BASE, "searchset", total=0))


def test_form_of_another_instrument_is_refused():
    (form,) = fhir.forms(rows("F1", "M1", "mother", 1, None, "self", "therapist", "check4", {"bond": 3}))
    with pytest.raises(ValueError, match="not of alliance16"):
        fhir.questionnaire_response(form, INSTRUMENTS["alliance16"], BASE)
