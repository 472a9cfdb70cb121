"""What the FHIR API (``/fhir/R4``) says about itself and its errors, and the search parameters it reads.

The ``CapabilityStatement``, ``OperationOutcome``s, and searches parsed and matched.

Pure: the web layer hands in the address, the app's version and the request's parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from familyalliance.core.fhir.common import root

#: Entries per searchset page when ``_count`` is not given, and the most a page holds.
DEFAULT_COUNT = 20
MAX_COUNT = 100

#: Search parameters of each resource type (besides ``_count`` and ``_page``): name -> (FHIR type, what it matches).
SEARCH_PARAMETERS: dict[str, dict[str, tuple[str, str]]] = {
    "Questionnaire": {
        "_id": ("token", "the Questionnaire's id (the instrument code with - for _)"),
        "url": ("uri", "the canonical URL, optionally with |version"),
    },
    "QuestionnaireResponse": {
        "_id": ("token", "the response's id"),
        "subject": ("reference", "the member's Patient (Patient/{id}, the full URL, or the id)"),
        "patient": ("reference", "the same as subject"),
        "encounter": ("reference", "the session's Encounter"),
        "questionnaire": ("reference", "the Questionnaire's canonical URL, optionally with |version"),
    },
    "Patient": {
        "_id": ("token", "the member's id"),
        "identifier": ("token", "the member's identifier: {family}/{member} (or system|value)"),
    },
    "Group": {
        "_id": ("token", "the family's id"),
        "identifier": ("token", "the family's identifier: its case code (or system|value)"),
    },
    "Encounter": {
        "_id": ("token", "the session's id"),
        "identifier": ("token", "the session's identifier: {family}/{number} (or system|value)"),
        "subject": ("reference", "the family's Group"),
    },
    "Practitioner": {
        "_id": ("token", "the therapist's id"),
        "identifier": ("token", "the therapist's login (or system|value)"),
    },
    "Observation": {
        "_id": ("token", "the observation's id"),
        "subject": ("reference", "the member's Patient"),
        "patient": ("reference", "the same as subject"),
        "encounter": ("reference", "the session's Encounter"),
        "derived-from": ("reference", "the QuestionnaireResponse the score was computed from"),
        "code": ("token", "the dimension: bond, goals_tasks, safety, shared_purpose, total (or system|code)"),
    },
}
#: The reference each reference parameter looks at, by resource type.
REFERENCE_PATHS = {
    "subject": lambda r: [r.get("subject")],
    "patient": lambda r: [r.get("subject")],
    "encounter": lambda r: [r.get("encounter")],
    "derived-from": lambda r: r.get("derivedFrom", []),
}
#: The resource types a reference parameter's value may name.
REFERENCE_TYPES = {"subject": None, "patient": "Patient", "encounter": "Encounter", "derived-from": None}

#: OperationOutcome issue codes of the HTTP statuses the API answers with.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    500: "exception",
    503: "transient",
}


class SearchError(ValueError):
    """A search the API cannot answer (400): an unknown parameter, a bad ``_count``, a malformed value."""


@dataclass(frozen=True)
class Issue:
    """One problem, for an ``OperationOutcome``: what went wrong and where (a FHIRPath ``expression``)."""

    diagnostics: str
    code: str = "invalid"
    expression: str | None = None
    severity: str = "error"


def operation_outcome(issues: Iterable[Issue | str], code: str = "invalid") -> dict:
    """An OperationOutcome of ``issues`` (a text alone is an error with ``code``)."""
    made = []
    for issue in issues:
        if isinstance(issue, str):
            issue = Issue(issue, code)
        entry: dict = {"severity": issue.severity, "code": issue.code, "diagnostics": issue.diagnostics}
        if issue.expression:
            entry["expression"] = [issue.expression]
        made.append(entry)
    return {"resourceType": "OperationOutcome", "issue": made}


def status_outcome(status: int, text: str) -> dict:
    """The OperationOutcome of an HTTP error ``status``."""
    return operation_outcome([Issue(text, ISSUE_CODES.get(status, "exception"))])


def capability_statement(base_url: str, version: str, date: str) -> dict:
    """The API's CapabilityStatement: what it reads and searches, and that it takes bundles of responses."""
    resources = []
    for resource_type in SEARCH_PARAMETERS:
        parameters = [
            {"name": name, "type": kind, "documentation": text}
            for name, (kind, text) in SEARCH_PARAMETERS[resource_type].items()
        ]
        parameters += [
            {
                "name": "_count",
                "type": "number",
                "documentation": f"entries per page (0: the total only; at most {MAX_COUNT})",
            },
            {"name": "_page", "type": "number", "documentation": "the page, from 1"},
        ]
        resources.append(
            {
                "type": resource_type,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "no-version",
                "readHistory": False,
                "searchParam": parameters,
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "familyalliance",
        "kind": "instance",
        "software": {"name": "familyalliance", "version": version},
        "implementation": {"description": "familyalliance FHIR API", "url": f"{root(base_url)}/fhir/R4"},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read-only access to the instruments, the stored forms and their scores that the token's account "
                    "may see; POST a Bundle of QuestionnaireResponses to import them (all or nothing)."
                ),
                "security": {
                    "cors": False,
                    "description": "A personal API token of an account as 'Authorization: Bearer ...'.",
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
            }
        ],
    }


@dataclass(frozen=True)
class Search:
    """A parsed search: the criteria (name -> values, all to be met), the page and its size."""

    criteria: tuple[tuple[str, tuple[str, ...]], ...]
    page: int
    count: int


def parse_search(resource_type: str, parameters: Sequence[tuple[str, str]]) -> Search:
    """Read a search's query parameters; raise SearchError for any the API does not know or cannot read."""
    known = SEARCH_PARAMETERS[resource_type]
    page, count = 1, DEFAULT_COUNT
    criteria: dict[str, list[str]] = {}
    for name, value in parameters:
        if name in ("_count", "_page"):
            lowest = 0 if name == "_count" else 1  # _count=0: only the total
            if not value.isdigit() or int(value) < lowest:
                raise SearchError(f"{name} must be a whole number from {lowest}")
            if name == "_count":
                count = min(int(value), MAX_COUNT)
            else:
                page = int(value)
            continue
        if name == "_format":
            if value not in ("json", "application/json", "application/fhir+json"):
                raise SearchError("only JSON is served (_format json)")
            continue
        if name not in known:
            supported = ", ".join([*known, "_count", "_page"])
            raise SearchError(f"unknown search parameter {name!r} for {resource_type}; supported: {supported}")
        if value == "":
            raise SearchError(f"the search parameter {name} has no value")
        criteria.setdefault(name, []).append(value)
    return Search(tuple((name, tuple(values)) for name, values in criteria.items()), page, count)


def reference_key(text: str) -> tuple[str | None, str]:
    """(type, id) of a reference or reference parameter: ``Patient/ID``, a full URL ending so, or a bare ``ID``."""
    path = urlsplit(text).path if "://" in text else text
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return None, parts[-1] if parts else ""


def _reference_matches(reference: Mapping | None, wanted: str, kind: str | None) -> bool:
    if not reference or "reference" not in reference:
        return False
    found_type, found_id = reference_key(reference["reference"])
    want_type, want_id = reference_key(wanted)
    if want_type is None:
        want_type = kind
    return found_id == want_id and (want_type is None or found_type == want_type)


def _canonical_matches(canonical: str, wanted: str) -> bool:
    url, _sep, version = canonical.partition("|")
    want_url, _sep, want_version = wanted.partition("|")
    return url == want_url and (not want_version or version == want_version)


def _identifier_matches(resource: Mapping, wanted: str) -> bool:
    system, sep, value = wanted.rpartition("|")
    found = resource.get("identifier", [])
    for identifier in [found] if isinstance(found, Mapping) else found:
        if identifier.get("value") == value and (not sep or identifier.get("system") == system):
            return True
    return False


def _code_matches(resource: Mapping, wanted: str) -> bool:
    system, sep, code = wanted.rpartition("|")
    for coding in resource.get("code", {}).get("coding", []):
        if coding.get("code") == code and (not sep or coding.get("system") == system):
            return True
    return False


def matches(resource: Mapping, search: Search) -> bool:
    """Whether ``resource`` meets every criterion of ``search`` (several values of one parameter: any of them)."""
    for name, values in search.criteria:
        if name == "_id":
            ok = resource["id"] in values
        elif name == "url":
            ok = any(_canonical_matches(f"{resource.get('url')}|{resource.get('version', '')}", v) for v in values)
        elif name == "questionnaire":
            ok = any(_canonical_matches(resource.get("questionnaire", ""), v) for v in values)
        elif name == "code":
            ok = any(_code_matches(resource, v) for v in values)
        elif name == "identifier":
            ok = any(_identifier_matches(resource, v) for v in values)
        else:
            references = REFERENCE_PATHS[name](resource)
            ok = any(_reference_matches(r, v, REFERENCE_TYPES[name]) for r in references for v in values)
        if not ok:
            return False
    return True
