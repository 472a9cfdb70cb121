"""FHIR R4 resources from the app's data, as plain JSON-ready dicts (docs/interoperability.md).

Pure: no Flask, no database. The callers (``services.fhir``, later a read API and the import)
hand in plain data, with pseudonymised codes and no names where the account may not see them:

- ``definitions``: an ``Instrument`` as a ``Questionnaire``; the app's ``CodeSystem``s;
- ``clinical``: ``Form`` (one form's long rows, grouped by ``forms``) as a
  ``QuestionnaireResponse``, its scores as ``Observation``s derived from it;
- ``people``: ``Member`` as ``Patient``, the family as ``Group``, ``Therapist`` as
  ``Practitioner``, ``Session`` as ``Encounter``;
- ``bundle``: resources in a ``collection`` or a ``searchset`` page, and ``dumps``.

Callers import the names from here (``fhir.questionnaire``), not from the modules.
"""

from __future__ import annotations

from familyalliance.core.fhir.bundle import BUNDLE_TYPES, bundle, dumps, paging_links
from familyalliance.core.fhir.clinical import Form, forms, observations, questionnaire_response, response_id, source
from familyalliance.core.fhir.common import reference, resource_id, resource_url
from familyalliance.core.fhir.definitions import (
    answer_coding,
    canonical,
    canonical_version,
    code_systems,
    questionnaire,
    questionnaire_id,
    scale_system,
)
from familyalliance.core.fhir.people import Member, Session, Therapist, encounter, group, patient, practitioner

__all__ = [
    "BUNDLE_TYPES",
    "Form",
    "Member",
    "Session",
    "Therapist",
    "answer_coding",
    "bundle",
    "canonical",
    "canonical_version",
    "code_systems",
    "dumps",
    "encounter",
    "forms",
    "group",
    "observations",
    "paging_links",
    "patient",
    "practitioner",
    "questionnaire",
    "questionnaire_id",
    "questionnaire_response",
    "reference",
    "resource_id",
    "resource_url",
    "response_id",
    "scale_system",
    "source",
]
