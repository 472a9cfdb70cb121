"""What every FHIR resource of the app shares: its URLs, ids, references, extensions and translated texts.

Everything the app names in FHIR lives under the installation's ``base_url``: resources at
``{base_url}/fhir/R4/{type}/{id}``, the app's own code systems at ``{base_url}/fhir/CodeSystem/{id}``,
its extensions at ``{base_url}/fhir/StructureDefinition/{id}`` and its identifiers' systems at
``{base_url}/fhir/NamingSystem/{name}`` (docs/interoperability.md lists them).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from typing import Any

#: FHIR's own extensions and code systems the resources use.
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

#: The app's extensions (``{base_url}/fhir/StructureDefinition/...``).
INFORMANT = "alliance-informant"
TARGET = "alliance-target"
MODE = "form-mode"
FAMILY_ROLE = "family-role"
MIN_ANSWERED = "min-answered"
REVERSE_KEYED = "reverse-keyed"

#: The app's code systems (``{base_url}/fhir/CodeSystem/...``); each instrument's scale has its own.
DIMENSION_SYSTEM = "alliance-dimension"
SCORE_SYSTEM = "alliance-score"
ROLE_SYSTEM = "family-role"


def root(base_url: str) -> str:
    """The installation's address without a trailing slash."""
    return base_url.rstrip("/")


def resource_url(base_url: str, resource_type: str, resource_id: str) -> str:
    """Where a resource lives (a bundle entry's ``fullUrl``)."""
    return f"{root(base_url)}/fhir/R4/{resource_type}/{resource_id}"


def code_system(base_url: str, name: str) -> str:
    """The canonical URL of one of the app's code systems (not tied to a FHIR release, as codes are not)."""
    return f"{root(base_url)}/fhir/CodeSystem/{name}"


def extension_url(base_url: str, name: str) -> str:
    """The URL of one of the app's extensions."""
    return f"{root(base_url)}/fhir/StructureDefinition/{name}"


def naming_system(base_url: str, name: str) -> str:
    """The system of one of the app's identifiers (``family``, ``member``, ``session``, ``form``, ``account``)."""
    return f"{root(base_url)}/fhir/NamingSystem/{name}"


def resource_id(base_url: str, resource_type: str, *parts: str) -> str:
    """A stable id from the app's codes: a name-based UUID (version 5) of the resource's key.

    Case codes may hold ``_`` and be 64 characters long, which a FHIR id may not; a UUID of the
    key is always a valid id, the same in every export of one installation, and (in a research
    export, whose codes are pseudonyms already) tells nothing about the codes it came from.
    Codes never hold ``/``, so the joined key is unambiguous.
    """
    name = resource_url(base_url, resource_type, "/".join(str(part) for part in parts))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def reference(base_url: str, resource: Mapping[str, Any]) -> dict:
    """A reference to ``resource`` by its full URL."""
    return {"reference": resource_url(base_url, resource["resourceType"], resource["id"])}


def ref(base_url: str, resource_type: str, *parts: str) -> dict:
    """A reference to the resource of ``resource_type`` with the key ``parts`` (see :func:`resource_id`)."""
    return {"reference": resource_url(base_url, resource_type, resource_id(base_url, resource_type, *parts))}


def identifier(base_url: str, name: str, *parts: str) -> dict:
    """The app's identifier of a thing: its codes joined by ``/`` (as in the long table's key)."""
    return {"system": naming_system(base_url, name), "value": "/".join(str(part) for part in parts)}


def code_extension(base_url: str, name: str, code: str) -> dict:
    """One of the app's extensions holding a code (informant, target, mode)."""
    return {"url": extension_url(base_url, name), "valueCode": code}


def translated(texts: Mapping[str, str], language: str) -> tuple[str, dict | None]:
    """A text in ``language``, and the primitive's extension holding its other languages (None: there are none).

    FHIR's translation extension sits on the string itself (``_text``, ``_title``, ...).
    """
    others = [
        {
            "url": TRANSLATION,
            "extension": [{"url": "lang", "valueCode": other}, {"url": "content", "valueString": text}],
        }
        for other, text in texts.items()
        if other != language and text
    ]
    return texts[language], ({"extension": others} if others else None)


def put_text(resource: dict, field: str, texts: Mapping[str, str], language: str) -> None:
    """Set ``field`` to the text in ``language`` and ``_field`` to its translations."""
    text, extension = translated(texts, language)
    resource[field] = text
    if extension is not None:
        resource[f"_{field}"] = extension


def fhir_date(value: dt.date | dt.datetime | str | None) -> str | None:
    """A FHIR ``date``/``dateTime``: a date as ``YYYY-MM-DD``, a moment with its offset (UTC when naive)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # SQLite gives stored moments back naive
        return moment.isoformat(timespec="seconds")
    return value.isoformat()


def missing(value: Any) -> bool:
    """None, NaN and pandas' NA: an empty cell of the long table."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN; pandas' NA raises here
    except TypeError:
        return True
