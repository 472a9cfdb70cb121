"""Pure: a Bundle of QuestionnaireResponses read back into long rows, and the API's search parameters.

The bundle is the core's own resources (``core.fhir``), so what the export writes the import reads.
"""

from __future__ import annotations

import datetime as dt

import pytest

from familyalliance.core import fhir
from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.validation import LONG_HEADER_WITH_MODE

BASE = "https://alliance.example.org"
INSTRUMENTS = builtin_instruments()
CHECK4 = INSTRUMENTS["check4"]


def exported(**values: int | None) -> list[dict]:
    """A family's Group, Patient and Encounter, and one quick check as the export writes them."""
    answers = {"bond": 8, "goals_tasks": None, "safety": 6, "shared_purpose": 9} | values
    member = fhir.Member("2026-014", "M1", "mother", "Sandra", 1980)
    session = fhir.Session("2026-014", 3, dt.date(2026, 3, 2))
    form = fhir.Form(
        "2026-014", "M1", "mother", 3, session.date, "self", "team", "check4", tuple(answers.items()), mode="link"
    )
    return [
        fhir.group("2026-014", [member], BASE),
        fhir.patient(member, BASE),
        fhir.encounter(session, BASE),
        fhir.questionnaire_response(form, CHECK4, BASE),
        *fhir.observations(form, CHECK4, BASE),
    ]


def test_an_exported_form_reads_back_as_its_long_rows():
    read = fhir.long_rows(fhir.bundle(exported(), BASE), BASE, INSTRUMENTS, fhir.Known())
    assert read.issues == []
    assert [[row[c] for c in LONG_HEADER_WITH_MODE] for row in read.rows] == [
        ["2026-014", "M1", "mother", "3", "2026-03-02", "self", "team", "check4", item, value, "link"]
        for item, value in [("bond", "8"), ("goals_tasks", ""), ("safety", "6"), ("shared_purpose", "9")]
    ]
    assert [origin.where() for origin in read.origins][0].startswith("entry 3 (QuestionnaireResponse/")


def test_a_stored_member_and_session_are_found_by_their_ids():
    """A response alone (a tablet app's): who and when come from the stored member and session."""
    response = exported()[3]
    known = fhir.Known(
        patients={fhir.resource_id(BASE, "Patient", "2026-014", "M1"): fhir.KnownMember("2026-014", "M1", "mother")},
        encounters={
            fhir.resource_id(BASE, "Encounter", "2026-014", "3"): fhir.KnownSession("2026-014", 3, dt.date(2026, 3, 2))
        },
    )
    read = fhir.long_rows(
        {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": response}]}, BASE, INSTRUMENTS, known
    )
    assert read.issues == [] and read.forms == [(0, response["id"], ("2026-014", "M1", "3", "self", "team", "check4"))]
    unknown = fhir.long_rows(
        {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": response}]}, BASE, INSTRUMENTS, fhir.Known()
    )
    assert [issue.expression for issue in unknown.issues] == [
        "Bundle.entry[0].resource.subject",
        "Bundle.entry[0].resource.encounter",
    ]


def test_problems_name_the_entry_and_the_item():
    resources = exported()
    resources[3]["item"][1]["answer"][0]["valueCoding"]["code"] = "-1"
    resources[3]["item"].append({"linkId": "extra", "answer": [{"valueInteger": 3}]})
    read = fhir.long_rows(fhir.bundle(resources, BASE), BASE, INSTRUMENTS, fhir.Known())
    assert [(issue.expression, issue.diagnostics.split(": ", 1)[1]) for issue in read.issues] == [
        (
            "Bundle.entry[3].resource.item.where(linkId='safety')",
            "item safety: the answer -1 is off the scale of check4 (0 to 10)",
        ),
        ("Bundle.entry[3].resource.item.where(linkId='extra')", "item extra: not an item of check4"),
    ]
    assert read.rows == []


def test_search_parameters_are_checked_and_matched():
    search = fhir.parse_search("Observation", [("code", "bond"), ("_count", "5"), ("_page", "2")])
    assert (search.count, search.page) == (5, 2)
    observation = exported()[4]
    assert observation["code"]["coding"][0]["code"] == "bond" and fhir.matches(observation, search)
    assert not fhir.matches(observation, fhir.parse_search("Observation", [("code", "safety")]))
    subject = observation["subject"]["reference"]
    for value in (subject, subject.split("/R4/")[1], subject.rsplit("/", 1)[1]):
        assert fhir.matches(observation, fhir.parse_search("Observation", [("subject", value)]))
    assert fhir.parse_search("Observation", [("_count", "1000")]).count == 100
    with pytest.raises(fhir.SearchError, match="unknown search parameter 'name'"):
        fhir.parse_search("Observation", [("name", "x")])
