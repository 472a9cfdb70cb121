"""FHIR R4 resources from the app's data, as plain JSON-ready dicts (docs/interoperability.md).

Pure: no Flask, no database. The callers (``services.fhir``, later a read API and the import)
hand in plain data, with pseudonymised codes and no names where the account may not see them:

- ``definitions``: an ``Instrument`` as a ``Questionnaire``; the app's ``CodeSystem``s;
- ``clinical``: ``Form`` (one form's long rows, grouped by ``forms``) as a
  ``QuestionnaireResponse``, its scores as ``Observation``s derived from it;
- ``people``: ``Member`` as ``Patient``, the family as ``Group``, ``Therapist`` as
  ``Practitioner``, ``Session`` as ``Encounter``;
- ``bundle``: resources in a ``collection`` or a ``searchset`` page, and ``dumps``;
- ``api``: the read API's ``CapabilityStatement``, ``OperationOutcome``s and search parameters;
- ``reading``: a Bundle of QuestionnaireResponses read back into the long table's rows (the import).

Callers import the names from here (``fhir.questionnaire``), not from the modules.
"""

from __future__ import annotations

from familyalliance.core.fhir.api import (
    SEARCH_PARAMETERS,
    Issue,
    Search,
    SearchError,
    capability_statement,
    matches,
    operation_outcome,
    parse_search,
    reference_key,
    status_outcome,
)
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
from familyalliance.core.fhir.reading import IMPORT_TYPES, Known, KnownMember, KnownSession, Read, long_rows

__all__ = [
    "BUNDLE_TYPES",
    "IMPORT_TYPES",
    "SEARCH_PARAMETERS",
    "Form",
    "Issue",
    "Known",
    "KnownMember",
    "KnownSession",
    "Member",
    "Read",
    "Search",
    "SearchError",
    "Session",
    "Therapist",
    "answer_coding",
    "bundle",
    "canonical",
    "canonical_version",
    "capability_statement",
    "code_systems",
    "dumps",
    "encounter",
    "forms",
    "group",
    "long_rows",
    "matches",
    "observations",
    "operation_outcome",
    "paging_links",
    "parse_search",
    "patient",
    "practitioner",
    "questionnaire",
    "questionnaire_id",
    "questionnaire_response",
    "reference",
    "reference_key",
    "resource_id",
    "resource_url",
    "response_id",
    "scale_system",
    "source",
    "status_outcome",
]
