"""Stored forms as FHIR ``QuestionnaireResponse``s, and their scores as ``Observation``s that point back to them.

A form is one member's questionnaire at one session about one target (metrics.md section 3): the
long table's rows of one (family, member, session, informant, target, instrument). :func:`forms`
groups long rows into :class:`Form`s; the resources are built from a form alone, so the export of
one family, a research export and a later read API all build them the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from familyalliance.core.fhir.common import (
    DIMENSION_SYSTEM,
    INFORMANT,
    MODE,
    OBSERVATION_CATEGORY,
    SCORE_SYSTEM,
    TARGET,
    UCUM,
    code_extension,
    code_system,
    fhir_date,
    identifier,
    missing,
    ref,
    resource_id,
)
from familyalliance.core.fhir.definitions import DIMENSION_TEXTS, answer_coding, canonical_version
from familyalliance.core.instruments import Instrument
from familyalliance.core.scoring import SCORE_COLUMNS, score_answers
from familyalliance.core.validation import LONG_HEADER_WITH_MODE


@dataclass(frozen=True)
class Form:
    """One stored form: its key, its answers in the order of its rows (None: unanswered), how and when it was given.

    ``authored``: when the answers were given, where known (else the session's ``date`` stands for
    it); ``rater``: the ``Therapist.key`` of whoever gave an observer form, if known.
    """

    family: str
    member: str
    role: str
    session: int
    date: dt.date | None
    informant: str
    target: str
    instrument: str
    answers: tuple[tuple[str, int | None], ...]
    mode: str | None = None
    authored: dt.date | dt.datetime | None = None
    rater: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        """(family, member, session, informant, target, instrument): the form's key, as text."""
        return (self.family, self.member, str(self.session), self.informant, self.target, self.instrument)

    @property
    def values(self) -> dict[str, int | None]:
        """Item code -> value (None: unanswered)."""
        return dict(self.answers)


def _date(value: Any) -> dt.date | None:
    """A session date as the long table holds it: a date, ISO text (SQLite), or empty (dates left out)."""
    if missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def forms(rows: Iterable[Sequence | Mapping]) -> list[Form]:
    """Group long rows (metrics.md section 3, with ``mode``) into forms, in the order each form first appears.

    A row is a mapping with the long table's column names, or a sequence in their order
    (``LONG_HEADER_WITH_MODE``; without ``mode`` the form's mode is unknown).
    """
    found: dict[tuple, dict] = {}
    for row in rows:
        cells = row if isinstance(row, Mapping) else dict(zip(LONG_HEADER_WITH_MODE, row, strict=False))
        key = (
            str(cells["family"]),
            str(cells["member"]),
            int(cells["session"]),
            cells["informant"],
            cells["target"],
            cells["instrument"],
        )
        form = found.get(key)
        if form is None:
            mode = cells.get("mode")
            form = found[key] = {
                "role": cells["role"],
                "date": _date(cells["date"]),
                "mode": None if missing(mode) or mode == "" else mode,
                "answers": [],
            }
        value = cells["value"]
        form["answers"].append((cells["item"], None if missing(value) or value == "" else int(value)))
    return [
        Form(
            family=key[0],
            member=key[1],
            role=form["role"],
            session=key[2],
            date=form["date"],
            informant=key[3],
            target=key[4],
            instrument=key[5],
            answers=tuple(form["answers"]),
            mode=form["mode"],
        )
        for key, form in found.items()
    ]


def response_id(form: Form, base_url: str) -> str:
    """The QuestionnaireResponse's id, from the form's key."""
    return resource_id(base_url, "QuestionnaireResponse", *form.key)


def source(form: Form, base_url: str) -> dict:
    """Who gave the answers: the member (self-report), or the therapist (an observer form).

    An observer form whose therapist is not known (or not named: research) still says a
    practitioner gave it, without saying who.
    """
    if form.informant == "self":
        return ref(base_url, "Patient", form.family, form.member)
    if form.rater is not None:
        return ref(base_url, "Practitioner", form.rater)
    return {"type": "Practitioner", "display": "therapist"}


def _context(form: Form, base_url: str, with_mode: bool = True) -> list[dict]:
    """The extensions saying who rated and about whom (and how the form was given)."""
    extensions = [code_extension(base_url, INFORMANT, form.informant), code_extension(base_url, TARGET, form.target)]
    if with_mode and form.mode is not None:
        extensions.append(code_extension(base_url, MODE, form.mode))
    return extensions


def questionnaire_response(form: Form, instrument: Instrument, base_url: str, language: str = "nl") -> dict:
    """The form as a FHIR R4 QuestionnaireResponse: an item per answered item, in the instrument's order.

    Unanswered items are left out, as FHIR does. ``authored`` is when the answers were given
    (the session's date where that is not known; absent when dates are left out).
    """
    values = form.values
    if form.instrument != instrument.code:
        raise ValueError(f"form {'/'.join(form.key)} is not of {instrument.code}")
    unknown = sorted(set(values) - set(instrument.item_codes))
    if unknown:
        raise ValueError(f"form {'/'.join(form.key)} answers items not in {instrument.code}: {', '.join(unknown)}")
    resource: dict = {
        "resourceType": "QuestionnaireResponse",
        "id": response_id(form, base_url),
        "extension": _context(form, base_url),
        "identifier": identifier(base_url, "form", *form.key),
        "questionnaire": canonical_version(instrument, base_url),
        "status": "completed",
        "subject": ref(base_url, "Patient", form.family, form.member),
        "encounter": ref(base_url, "Encounter", form.family, str(form.session)),
    }
    authored = fhir_date(form.authored if form.authored is not None else form.date)
    if authored is not None:
        resource["authored"] = authored
    resource["source"] = source(form, base_url)
    resource["item"] = [
        {
            "linkId": item.code,
            "answer": [{"valueCoding": answer_coding(instrument, values[item.code], base_url, language)}],
        }
        for item in instrument.items
        if values.get(item.code) is not None
    ]
    if not resource["item"]:
        del resource["item"]  # a form of unanswered items only: FHIR has no empty lists
    return resource


def observations(
    form: Form, instrument: Instrument, base_url: str, scores: Mapping[str, Any] | None = None
) -> list[dict]:
    """The form's dimension scores and total as FHIR R4 Observations, each with its POMP, derived from the response.

    ``scores``: the form's scores as the app holds them (a row of the ``scores`` table); by
    default they are computed from the answers by the scoring engine (``scoring.score_answers``,
    metrics.md section 4). A dimension without a score has no Observation.
    """
    scores = score_answers(instrument, form.values) if scores is None else scores
    response = ref(base_url, "QuestionnaireResponse", *form.key)
    effective = fhir_date(form.date)
    made = []
    for column in SCORE_COLUMNS:
        score, pomp = scores.get(column), scores.get(f"{column}_pomp")
        if missing(score):
            continue
        resource: dict = {
            "resourceType": "Observation",
            "id": resource_id(base_url, "Observation", *form.key, column),
            "extension": _context(form, base_url, with_mode=False),
            "identifier": [identifier(base_url, "score", *form.key, column)],
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
            "code": {
                "coding": [
                    {
                        "system": code_system(base_url, DIMENSION_SYSTEM),
                        "code": column,
                        "display": DIMENSION_TEXTS[column][0],
                    }
                ],
                "text": f"{DIMENSION_TEXTS[column][0]} ({instrument.code})",
            },
            "subject": ref(base_url, "Patient", form.family, form.member),
            "encounter": ref(base_url, "Encounter", form.family, str(form.session)),
        }
        if effective is not None:
            resource["effectiveDateTime"] = effective
        resource["performer"] = [source(form, base_url)]
        resource["valueQuantity"] = {"value": float(score), "unit": "score", "system": UCUM, "code": "{score}"}
        resource["referenceRange"] = [
            {
                "low": {"value": instrument.scale_min},
                "high": {"value": instrument.scale_max},
                "text": f"the scale of {instrument.code}",
            }
        ]
        resource["derivedFrom"] = [response]
        resource["component"] = [
            {
                "code": {
                    "coding": [{"system": code_system(base_url, SCORE_SYSTEM), "code": "pomp", "display": "POMP"}]
                },
                "valueQuantity": {"value": float(pomp), "unit": "%", "system": UCUM, "code": "%"},
            }
        ]
        made.append(resource)
    return made
