"""Instruments as FHIR ``Questionnaire``s, and the app's own code systems as ``CodeSystem``s.

An instrument's definition (built-in or an organisation's own) is all a Questionnaire needs:
one item per question, ``linkId`` the item code, every point of the scale an ``answerOption``
with its ``ordinalValue``, the dimension as the item's ``code``, texts in one language with the
other as FHIR's translation extension.
"""

from __future__ import annotations

from collections.abc import Mapping

from familyalliance.core import vocab
from familyalliance.core.fhir.common import (
    DIMENSION_SYSTEM,
    INFORMANT,
    MIN_ANSWERED,
    ORDINAL_VALUE,
    REVERSE_KEYED,
    ROLE_SYSTEM,
    SCORE_SYSTEM,
    code_extension,
    code_system,
    extension_url,
    naming_system,
    put_text,
    resource_url,
)
from familyalliance.core.instruments import BUILTIN_CODES, Instrument, Item

#: The words of metrics.md sections 1 and 4, as the code systems' displays and definitions.
DIMENSION_TEXTS = {
    "bond": ("Bond", "Emotional connection with the therapist: trust, feeling heard and cared for."),
    "goals_tasks": (
        "Goals and tasks",
        "Engagement: actively agreeing on the goals of treatment and how to work on them.",
    ),
    "safety": (
        "Safety",
        "Feeling safe and hopeful within the therapeutic system, with the other family members present.",
    ),
    "shared_purpose": (
        "Shared purpose",
        "The family's sense of doing this together, wanting the same thing from treatment.",
    ),
    "total": ("Total", "The mean of the four dimension scores, only when all four are present."),
}
SCORE_TEXTS = {
    "pomp": (
        "POMP",
        "Percent of maximum possible: 100 * (score - scale_min) / (scale_max - scale_min); compares instruments.",
    ),
}


def questionnaire_id(instrument: Instrument | str) -> str:
    """The Questionnaire's id: the instrument code with ``_`` as ``-`` (codes never hold ``-``, so no two meet)."""
    code = instrument if isinstance(instrument, str) else instrument.code
    return code.replace("_", "-")


def canonical(instrument: Instrument | str, base_url: str) -> str:
    """The Questionnaire's canonical URL (without its version)."""
    return resource_url(base_url, "Questionnaire", questionnaire_id(instrument))


def canonical_version(instrument: Instrument, base_url: str) -> str:
    """``url|version``: how a QuestionnaireResponse names the exact definition it answers."""
    return f"{canonical(instrument, base_url)}|{instrument.version}"


def scale_system(instrument: Instrument | str, base_url: str) -> str:
    """The code system of an instrument's answers: the code is the stored whole number."""
    return code_system(base_url, f"scale-{questionnaire_id(instrument)}")


def answer_coding(instrument: Instrument, value: int, base_url: str, language: str = "nl") -> dict:
    """One point of the scale as a Coding: the value as code, its label as display, its ``ordinalValue``."""
    coding = {
        "extension": [{"url": ORDINAL_VALUE, "valueDecimal": value}],
        "system": scale_system(instrument, base_url),
        "code": str(value),
    }
    labels = dict(instrument.anchors).get(value)
    if labels is None:
        coding["display"] = str(value)
    else:
        put_text(coding, "display", labels, language)
    return coding


def _item(instrument: Instrument, item: Item, base_url: str, language: str) -> dict:
    # The wording names the target; the Questionnaire shows it about the therapist (the default target),
    # and a response about the team says so in its target extension.
    texts = {lang: item.text_for(lang, "therapist") for lang in item.text}
    entry: dict = {"linkId": item.code}
    if item.reverse:
        entry["extension"] = [{"url": extension_url(base_url, REVERSE_KEYED), "valueBoolean": True}]
    entry["code"] = [
        {
            "system": code_system(base_url, DIMENSION_SYSTEM),
            "code": item.dimension,
            "display": DIMENSION_TEXTS[item.dimension][0],
        }
    ]
    put_text(entry, "text", texts, language)
    entry["type"] = "choice"
    entry["required"] = False
    entry["answerOption"] = [
        {"valueCoding": answer_coding(instrument, value, base_url, language)}
        for value in range(instrument.scale_min, instrument.scale_max + 1)
    ]
    return entry


def questionnaire(instrument: Instrument, base_url: str, language: str = "nl") -> dict:
    """The instrument as a FHIR R4 Questionnaire (JSON-ready dict), texts in ``language`` with translations.

    ``version`` is the definition's own ``version``; the canonical URL is
    ``{base_url}/fhir/R4/Questionnaire/{id}``, the id being the instrument code (``_`` as ``-``).
    """
    resource: dict = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(instrument),
        "language": language,
        "extension": [
            code_extension(base_url, INFORMANT, instrument.informant),
            {"url": extension_url(base_url, MIN_ANSWERED), "valueInteger": instrument.min_answered},
        ],
        "url": canonical(instrument, base_url),
        "identifier": [{"system": naming_system(base_url, "instrument"), "value": instrument.code}],
        "version": instrument.version,
        # A computable name starts with a capital (FHIR's que-0).
        "name": instrument.code[0].upper() + instrument.code[1:],
    }
    put_text(resource, "title", instrument.name, language)
    resource["status"] = "active"
    resource["subjectType"] = ["Patient"]
    if instrument.code in BUILTIN_CODES:
        resource["publisher"] = "familyalliance"
    put_text(resource, "description", instrument.description, language)
    if instrument.licence:
        resource["copyright"] = instrument.licence
    resource["item"] = [_item(instrument, item, base_url, language) for item in instrument.items]
    return resource


def _code_system(base_url: str, name: str, title: str, concepts: list[dict], version: str | None = None) -> dict:
    """One of the app's code systems, every code listed."""
    return {
        "resourceType": "CodeSystem",
        "id": name,
        "url": code_system(base_url, name),
        **({"version": version} if version is not None else {}),
        "name": "".join(part.capitalize() for part in name.split("-")),
        "title": title,
        "status": "active",
        "publisher": "familyalliance",
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def _role_group(role: str) -> str:
    """Which group of the family metrics a role belongs to (metrics.md section 5)."""
    if role in vocab.CAREGIVER_ROLES:
        return "the caregiver group"
    return "the young group" if role in vocab.YOUNG_ROLES else "neither group"


def code_systems(
    base_url: str, instruments: Mapping[str, Instrument] | None = None, language: str = "nl"
) -> list[dict]:
    """The app's code systems: the dimensions (and total), the scores, the family roles, and each instrument's scale."""
    resources = [
        _code_system(
            base_url,
            DIMENSION_SYSTEM,
            "Family alliance dimensions",
            [
                {"code": code, "display": display, "definition": text}
                for code, (display, text) in DIMENSION_TEXTS.items()
            ],
        ),
        _code_system(
            base_url,
            SCORE_SYSTEM,
            "Family alliance scores",
            [{"code": code, "display": display, "definition": text} for code, (display, text) in SCORE_TEXTS.items()],
        ),
        _code_system(
            base_url,
            ROLE_SYSTEM,
            "Roles in the family",
            [
                {"code": role, "display": role.replace("_", " "), "definition": _role_group(role)}
                for role in vocab.ROLES
            ],
        ),
    ]
    for instrument in (instruments or {}).values():
        concepts = []
        for value in range(instrument.scale_min, instrument.scale_max + 1):
            coding = answer_coding(instrument, value, base_url, language)
            concepts.append({"code": coding["code"], "display": coding["display"]})
        resources.append(
            _code_system(
                base_url,
                f"scale-{questionnaire_id(instrument)}",
                f"{instrument.name[language]} (scale)",
                concepts,
                instrument.version,
            )
        )
    return resources
