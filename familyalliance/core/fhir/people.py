"""The family as a FHIR ``Group`` of ``Patient``s, its therapists as ``Practitioner``s, its sessions as ``Encounter``s.

Every member is a ``Patient``, children and parents alike: in family therapy every member is
rated and rates, and R4 lets only a Patient be an Observation's subject and a Group's member (a
``RelatedPerson`` would need one index patient, which the family's treatment does not have).
Names and birth years are given only where the caller may show them; a research export passes
pseudonymised codes and no names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from familyalliance.core.fhir.common import (
    ACT_CODE,
    FAMILY_ROLE,
    ROLE_SYSTEM,
    code_system,
    extension_url,
    fhir_date,
    identifier,
    ref,
    resource_id,
)


@dataclass(frozen=True)
class Member:
    """A member of a family, as the export may name them (``name`` and ``birth_year`` None: not named)."""

    family: str
    code: str
    role: str
    name: str | None = None
    birth_year: int | None = None


@dataclass(frozen=True)
class Session:
    """A session of a family (``date`` None: dates left out); ``status`` ``planned`` while it lies ahead."""

    family: str
    number: int
    date: dt.date | None = None
    status: str = "finished"


@dataclass(frozen=True)
class Therapist:
    """A therapist's account: ``key`` makes the id (the login, which outlives the database's ids)."""

    key: str
    email: str | None = None


def patient(member: Member, base_url: str) -> dict:
    """A member as a FHIR R4 Patient: the member code as identifier, the role in the family as an extension."""
    resource: dict = {
        "resourceType": "Patient",
        "id": resource_id(base_url, "Patient", member.family, member.code),
        "extension": [
            {
                "url": extension_url(base_url, FAMILY_ROLE),
                "valueCoding": {"system": code_system(base_url, ROLE_SYSTEM), "code": member.role},
            }
        ],
        "identifier": [identifier(base_url, "member", member.family, member.code)],
    }
    if member.name:
        resource["name"] = [{"text": member.name}]
    if member.birth_year is not None:
        resource["birthDate"] = f"{member.birth_year:04d}"  # FHIR allows a year alone
    return resource


def group(family: str, members: Sequence[Member], base_url: str) -> dict:
    """The family as a FHIR R4 Group (actual persons): the case code as identifier, every member a Patient."""
    resource: dict = {
        "resourceType": "Group",
        "id": resource_id(base_url, "Group", family),
        "identifier": [identifier(base_url, "family", family)],
        "type": "person",
        "actual": True,
        "code": {"text": "family in treatment"},
        "quantity": len(members),
    }
    if members:
        resource["member"] = [{"entity": ref(base_url, "Patient", m.family, m.code)} for m in members]
    return resource


def practitioner(therapist: Therapist, base_url: str) -> dict:
    """A therapist's account as a FHIR R4 Practitioner (accounts have no names: the login identifies them)."""
    resource: dict = {
        "resourceType": "Practitioner",
        "id": resource_id(base_url, "Practitioner", therapist.key),
        "identifier": [identifier(base_url, "account", therapist.key)],
    }
    if therapist.email:
        resource["telecom"] = [{"system": "email", "value": therapist.email, "use": "work"}]
    return resource


def encounter(session: Session, base_url: str) -> dict:
    """A session as a FHIR R4 Encounter of the family (an ambulatory visit, the family its subject)."""
    resource: dict = {
        "resourceType": "Encounter",
        "id": resource_id(base_url, "Encounter", session.family, str(session.number)),
        "identifier": [identifier(base_url, "session", session.family, str(session.number))],
        "status": session.status,
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "subject": ref(base_url, "Group", session.family),
    }
    start = fhir_date(session.date)
    if start is not None:
        resource["period"] = {"start": start}
    return resource
