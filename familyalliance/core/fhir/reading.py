"""A Bundle of QuestionnaireResponses read back into the long table's rows (metrics.md section 3), for the import.

The import of a bundle is the import of the long CSV: this module turns the bundle into the same
rows (one per item of each form's instrument, unanswered items with an empty value, as the long
export holds them), and the caller runs them through ``services.importer``, whose checks, scores
and summaries are the CSV's. What only the bundle can get wrong is checked here, each problem
naming the entry (its index and resource id) and the item (its ``linkId``): a ``questionnaire``
that is not an installed instrument's canonical URL (and version), an item the instrument does
not have, an answer off its scale, a subject that is not a member of the encounter's family.

Who the subject and the session are comes from the bundle's own ``Patient``, ``Encounter`` and
``Group`` entries (by the app's identifiers, as an export writes them), else from ``known``: the
ids of the members and sessions the caller may write to (``resource_id`` of their codes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from familyalliance.core.fhir.api import Issue, reference_key
from familyalliance.core.fhir.common import FAMILY_ROLE, INFORMANT, MODE, TARGET, extension_url, naming_system
from familyalliance.core.fhir.definitions import canonical, scale_system
from familyalliance.core.instruments import Instrument
from familyalliance.core.validation import LONG_HEADER_WITH_MODE

#: Bundle types the import takes, and the type of its answer for each.
IMPORT_TYPES = {
    "transaction": "transaction-response",
    "batch": "batch-response",
    "collection": "transaction-response",
}
#: Entries besides the responses that a bundle may carry: read for who and when (Patient, Encounter,
#: Group), or passed over (the app computes the scores itself and has its own Questionnaires).
CONTEXT_TYPES = ("Patient", "Encounter", "Group", "Practitioner", "Questionnaire", "Observation")
#: The response statuses the import takes: answers given.
TAKEN_STATUSES = ("completed", "amended")
#: The mode of a response that does not say how it was given (no ``form-mode`` extension): unknown, as an
#: empty ``mode`` cell of the long CSV (an export writes none where the app does not know it either).
DEFAULT_MODE = ""


@dataclass(frozen=True)
class KnownMember:
    family: str
    member: str
    role: str


@dataclass(frozen=True)
class KnownSession:
    family: str
    number: int
    date: dt.date | None


@dataclass
class Known:
    """The stored members and sessions by their resource id (those the caller may write to)."""

    patients: dict[str, KnownMember] = field(default_factory=dict)
    encounters: dict[str, KnownSession] = field(default_factory=dict)


@dataclass
class Origin:
    """Where a long row came from: the entry (index and resource id) and the item."""

    entry: int
    resource_id: str | None
    link_id: str

    def expression(self) -> str:
        return f"Bundle.entry[{self.entry}].resource.item.where(linkId='{self.link_id}')"

    def where(self) -> str:
        name = f" (QuestionnaireResponse/{self.resource_id})" if self.resource_id else ""
        return f"entry {self.entry}{name}, item {self.link_id}"


@dataclass
class Read:
    """The bundle as long rows (``LONG_HEADER_WITH_MODE`` cells as text), where each came from, and its problems."""

    rows: list[dict[str, str]] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    #: Per response entry: (entry index, resource id or None, form key) in order.
    forms: list[tuple[int, str | None, tuple[str, ...]]] = field(default_factory=list)
    #: Every (family, member) and (family, session) a response names.
    members: set[tuple[str, str]] = field(default_factory=set)
    sessions: set[tuple[str, int]] = field(default_factory=set)


def _where(index: int, resource: Mapping) -> str:
    name = resource.get("resourceType", "resource")
    return f"entry {index}" + (f" ({name}/{resource['id']})" if resource.get("id") else f" ({name})")


def _extension(resource: Mapping, url: str) -> Any:
    for extension in resource.get("extension", []) or []:
        if isinstance(extension, Mapping) and extension.get("url") == url:
            for key, value in extension.items():
                if key.startswith("value"):
                    return value
    return None


def _identifier(resource: Mapping, system: str) -> list[str] | None:
    identifiers = resource.get("identifier")
    if isinstance(identifiers, Mapping):
        identifiers = [identifiers]
    for identifier in identifiers or []:
        if isinstance(identifier, Mapping) and identifier.get("system") == system and identifier.get("value"):
            return str(identifier["value"]).split("/")
    return None


def _date(text: Any) -> dt.date | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


class _Index:
    """The bundle's entries by ``fullUrl`` and by ``Type/id``, and what its Patients, Encounters and Groups say."""

    def __init__(self, entries: list, base_url: str, known: Known):
        self.base_url = base_url
        self.known = known
        self.by_ref: dict[str, Mapping] = {}
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if not isinstance(resource, Mapping):
                continue
            if isinstance(entry.get("fullUrl"), str):
                self.by_ref[entry["fullUrl"]] = resource
            if resource.get("resourceType") and resource.get("id"):
                self.by_ref[f"{resource['resourceType']}/{resource['id']}"] = resource

    def resource(self, reference: Any, resource_type: str) -> Mapping | None:
        if not isinstance(reference, Mapping) or not isinstance(reference.get("reference"), str):
            return None
        text = reference["reference"]
        found = self.by_ref.get(text)
        if found is None:
            kind, rid = reference_key(text)
            found = self.by_ref.get(f"{kind or resource_type}/{rid}")
        return found if found is not None and found.get("resourceType") == resource_type else None

    def member(self, reference: Any) -> KnownMember | None:
        """The member a reference to a Patient names: by the bundle's Patient, else a stored member."""
        patient = self.resource(reference, "Patient")
        if patient is not None:
            codes = _identifier(patient, naming_system(self.base_url, "member"))
            if codes and len(codes) == 2:
                role = _extension(patient, extension_url(self.base_url, FAMILY_ROLE))
                stored = self.known.patients.get(str(patient.get("id")))
                code = role.get("code") if isinstance(role, Mapping) else None
                return KnownMember(codes[0], codes[1], code or (stored.role if stored else ""))
        if isinstance(reference, Mapping) and isinstance(reference.get("reference"), str):
            kind, rid = reference_key(reference["reference"])
            if kind in (None, "Patient"):
                return self.known.patients.get(rid)
        return None

    def session(self, reference: Any) -> tuple[KnownSession | None, Mapping | None]:
        """The session a reference to an Encounter names (the bundle's Encounter, else stored), and that Encounter."""
        found = self.resource(reference, "Encounter")
        if found is not None:
            codes = _identifier(found, naming_system(self.base_url, "session"))
            if codes and len(codes) == 2 and codes[1].isdigit():
                start = (found.get("period") or {}).get("start")
                return KnownSession(codes[0], int(codes[1]), _date(start)), found
        if isinstance(reference, Mapping) and isinstance(reference.get("reference"), str):
            kind, rid = reference_key(reference["reference"])
            if kind in (None, "Encounter"):
                return self.known.encounters.get(rid), None
        return None, None

    def group_family(self, reference: Any) -> tuple[str | None, Mapping | None]:
        group = self.resource(reference, "Group")
        if group is None:
            return None, None
        codes = _identifier(group, naming_system(self.base_url, "family"))
        return (codes[0] if codes and len(codes) == 1 else None), group


def _instrument(text: Any, instruments: Mapping[str, Instrument], base_url: str) -> tuple[Instrument | None, str]:
    """The installed instrument a ``questionnaire`` canonical names, or None and why not."""
    if not isinstance(text, str) or not text:
        return None, "has no questionnaire (the canonical URL of an installed instrument)"
    url, _sep, version = text.partition("|")
    for instrument in instruments.values():
        if canonical(instrument, base_url) == url:
            if version and version != instrument.version:
                return None, (
                    f"questionnaire {text!r} names version {version} of {instrument.code}; "
                    f"this installation has version {instrument.version}"
                )
            return instrument, ""
    return None, f"questionnaire {text!r} is not an instrument of this installation"


def _value(answer: Any, instrument: Instrument, base_url: str) -> tuple[int | None, str]:
    """An answer's value on the instrument's scale, or None and why it cannot be read."""
    if not isinstance(answer, Mapping):
        return None, "the answer is not an object"
    if "valueCoding" in answer:
        coding = answer["valueCoding"]
        if not isinstance(coding, Mapping):
            return None, "valueCoding is not a Coding"
        system = coding.get("system")
        if system is not None and system != scale_system(instrument, base_url):
            return None, f"the answer's system {system!r} is not the scale of {instrument.code}"
        text = coding.get("code")
    elif "valueInteger" in answer:
        text = answer["valueInteger"]
    else:
        return None, "the answer must be a valueCoding of the instrument's scale (or a valueInteger)"
    if isinstance(text, bool) or not isinstance(text, int | str):
        return None, f"the answer {text!r} is not a whole number"
    try:
        value = int(text)
    except ValueError:
        return None, f"the answer {text!r} is not a whole number"
    if not instrument.scale_min <= value <= instrument.scale_max:
        return None, (
            f"the answer {value} is off the scale of {instrument.code} "
            f"({instrument.scale_min} to {instrument.scale_max})"
        )
    return value, ""


def long_rows(bundle: Any, base_url: str, instruments: Mapping[str, Instrument], known: Known) -> Read:
    """Read a Bundle of QuestionnaireResponses into long rows; every problem is an ``Issue`` naming where it is."""
    read = Read()
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        read.issues.append(Issue("the body is not a FHIR Bundle", expression="Bundle"))
        return read
    if bundle.get("type") not in IMPORT_TYPES:
        accepted = ", ".join(IMPORT_TYPES)
        read.issues.append(
            Issue(f"the Bundle's type is {bundle.get('type')!r}; accepted: {accepted}", expression="Bundle.type")
        )
        return read
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        read.issues.append(Issue("Bundle.entry is not a list", expression="Bundle.entry"))
        return read
    index = _Index(entries, base_url, known)
    seen: dict[tuple[str, ...], int] = {}
    for number, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            read.issues.append(Issue(f"entry {number} has no resource", expression=f"Bundle.entry[{number}]"))
            continue
        kind = resource.get("resourceType")
        if kind in CONTEXT_TYPES:
            continue
        if kind != "QuestionnaireResponse":
            read.issues.append(
                Issue(
                    f"{_where(number, resource)}: a {kind} is not imported; the bundle holds QuestionnaireResponses "
                    f"and their {', '.join(CONTEXT_TYPES[:3])}",
                    expression=f"Bundle.entry[{number}].resource",
                )
            )
            continue
        _response(read, number, resource, index, instruments, base_url, seen)
    if not read.forms and not read.issues:
        read.issues.append(Issue("the Bundle holds no QuestionnaireResponse", expression="Bundle.entry"))
    return read


def _response(
    read: Read,
    number: int,
    resource: Mapping,
    index: _Index,
    instruments: Mapping[str, Instrument],
    base_url: str,
    seen: dict[tuple[str, ...], int],
) -> None:
    """One QuestionnaireResponse entry as long rows (or its problems)."""
    where = _where(number, resource)
    at = f"Bundle.entry[{number}].resource"
    rid = resource.get("id") if isinstance(resource.get("id"), str) else None
    before = len(read.issues)

    def problem(text: str, path: str = "") -> None:
        read.issues.append(Issue(f"{where}: {text}", expression=f"{at}{path}"))

    instrument, why = _instrument(resource.get("questionnaire"), instruments, base_url)
    if instrument is None:
        problem(why, ".questionnaire")
    if resource.get("status") not in TAKEN_STATUSES:
        problem(f"status {resource.get('status')!r}: only answers given ({', '.join(TAKEN_STATUSES)}) are imported")
    member = index.member(resource.get("subject"))
    if member is None:
        problem("the subject is not a member of a family this account may write to", ".subject")
    session, encounter = index.session(resource.get("encounter"))
    if session is None:
        problem("the encounter is not a session of a family this account may write to", ".encounter")
    if member is not None and session is not None and member.family != session.family:
        problem("the subject is not a member of the family of the encounter", ".subject")
    if encounter is not None and session is not None:
        group_family, group = index.group_family(encounter.get("subject"))
        if group_family is not None and group_family != session.family:
            problem("the encounter's Group is another family than its session's", ".encounter")
        if group is not None and member is not None and group_family == member.family:
            members = {
                reference_key(m.get("entity", {}).get("reference", ""))[1]
                for m in group.get("member", []) or []
                if isinstance(m, Mapping)
            }
            patient = index.resource(resource.get("subject"), "Patient")
            if patient is not None and patient.get("id") not in members:
                problem("the subject is not a member of the encounter's Group", ".subject")
    informant = _extension(resource, extension_url(base_url, INFORMANT))
    if informant is None and instrument is not None:
        informant = instrument.informant
    target = _extension(resource, extension_url(base_url, TARGET)) or "therapist"
    mode = _extension(resource, extension_url(base_url, MODE)) or DEFAULT_MODE
    date = session.date if session is not None else None
    if date is None:
        date = _date(resource.get("authored"))
    if session is not None and date is None:
        problem("neither the encounter nor authored gives the session's date", ".encounter")
    answers: dict[str, int] = {}
    items = resource.get("item") or []
    if not isinstance(items, list):
        problem("item is not a list", ".item")
        items = []
    for item in items:
        link = item.get("linkId") if isinstance(item, Mapping) else None
        path = f".item.where(linkId='{link}')"
        if not isinstance(link, str):
            problem("an item has no linkId", ".item")
            continue
        if instrument is None:
            continue
        if link not in instrument.item_codes:
            problem(f"item {link}: not an item of {instrument.code}", path)
            continue
        if link in answers:
            problem(f"item {link}: answered twice", path)
            continue
        if item.get("item"):
            problem(f"item {link}: nested items are not taken", path)
            continue
        given = item.get("answer") or []
        if not isinstance(given, list) or len(given) != 1:
            problem(f"item {link}: needs exactly one answer (leave an unanswered item out)", path)
            continue
        value, why = _value(given[0], instrument, base_url)
        if value is None:
            problem(f"item {link}: {why}", path)
            continue
        answers[link] = value
    if len(read.issues) > before or instrument is None or member is None or session is None:
        return
    key = (member.family, member.member, str(session.number), str(informant), str(target), instrument.code)
    if key in seen:
        problem(f"the same form as entry {seen[key]} ({'/'.join(key)})")
        return
    seen[key] = number
    read.forms.append((number, rid, key))
    read.members.add((member.family, member.member))
    read.sessions.add((member.family, session.number))
    for item in instrument.items:
        value = answers.get(item.code)
        read.rows.append(
            dict(
                zip(
                    LONG_HEADER_WITH_MODE,
                    (
                        member.family,
                        member.member,
                        member.role,
                        str(session.number),
                        date.isoformat(),
                        str(informant),
                        str(target),
                        instrument.code,
                        item.code,
                        "" if value is None else str(value),
                        str(mode),
                    ),
                    strict=True,
                )
            )
        )
        read.origins.append(Origin(number, rid, item.code))
