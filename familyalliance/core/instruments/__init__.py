"""Instruments as data: definition files, their schema, and the ``Instrument`` they load into.

A definition is a JSON file (``schema.json`` beside this module; ``docs/instruments.md``
explains it with an example). The built-in instruments are the JSON files in this
folder; an organisation adds its own with ``flask --app familyalliance instruments load``.
Nothing here uses Flask or the database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from familyalliance.core import vocab

LANGUAGES = ("nl", "en")

#: How item texts name whom the rating is about (``{target}`` in an item text).
TARGET_WORDS = {
    "therapist": {"nl": "de therapeut", "en": "the therapist"},
    "team": {"nl": "het team", "en": "the team"},
}


class DefinitionError(ValueError):
    """A definition that cannot be used; ``problems`` lists every reason, each naming where."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Item:
    """One question of an instrument."""

    code: str
    dimension: str
    reverse: bool
    text: Mapping[str, str]

    def text_for(self, language: str, target: str) -> str:
        """The item's wording in ``language`` about ``target`` (``therapist`` or ``team``)."""
        return self.text[language].replace("{target}", TARGET_WORDS[target][language])


@dataclass(frozen=True)
class Instrument:
    """A loaded, validated instrument definition."""

    code: str
    version: str
    name: Mapping[str, str]
    description: Mapping[str, str]
    licence: str | None
    informant: str
    audience: tuple[str, ...]
    scale_min: int
    scale_max: int
    anchors: tuple[tuple[int, Mapping[str, str]], ...]
    min_answered: int
    items: tuple[Item, ...]
    #: The definition as loaded, kept to store and show it again.
    definition: Mapping[str, Any]

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)

    @property
    def scale_points(self) -> int:
        """The number of points on the scale (A in the rwg formula of metrics.md)."""
        return self.scale_max - self.scale_min + 1

    def item(self, code: str) -> Item | None:
        """The item with ``code``, or None."""
        return next((item for item in self.items if item.code == code), None)

    def items_of(self, dimension: str) -> tuple[Item, ...]:
        """The items of one dimension, in definition order."""
        return tuple(item for item in self.items if item.dimension == dimension)


@cache
def schema() -> dict:
    """The JSON Schema of definition files."""
    return json.loads(resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))


def _where(path) -> str:
    return "/".join(str(p) for p in path) or "(top level)"


def load_definition(data: Any) -> Instrument:
    """Validate a parsed definition and return the instrument; raise DefinitionError naming every problem."""
    validator = jsonschema.Draft202012Validator(schema())
    problems = [
        f"{_where(error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        raise DefinitionError(problems)

    lo, hi = data["scale"]["min"], data["scale"]["max"]
    if lo >= hi:
        problems.append(f"scale: min ({lo}) must be below max ({hi})")
    seen: set[str] = set()
    for i, item in enumerate(data["items"]):
        if item["code"] in seen:
            problems.append(f"items/{i}/code: item code {item['code']!r} appears twice")
        seen.add(item["code"])
    for dimension in vocab.DIMENSIONS:
        count = sum(1 for item in data["items"] if item["dimension"] == dimension)
        if count == 0:
            problems.append(f"items: no item for dimension {dimension!r} (every dimension needs at least one)")
        elif data["min_answered"] > count:
            problems.append(
                f"min_answered: {data['min_answered']} is more than the {count} item(s) of dimension {dimension!r}"
            )
    anchor_values = [a["value"] for a in data["scale"]["anchors"]]
    for i, value in enumerate(anchor_values):
        if not lo <= value <= hi:
            problems.append(f"scale/anchors/{i}/value: {value} lies outside the scale {lo}..{hi}")
    if len(set(anchor_values)) != len(anchor_values):
        problems.append("scale/anchors: two anchors have the same value")
    if lo < hi and not {lo, hi} <= set(anchor_values):
        problems.append(f"scale/anchors: the ends of the scale ({lo} and {hi}) need a label")
    if data["informant"] == "therapist" and data["audience"] != ["adult"]:
        problems.append('audience: a therapist-rated instrument is filled in by adults only (use ["adult"])')
    if problems:
        raise DefinitionError(problems)

    return Instrument(
        code=data["code"],
        version=data["version"],
        name=data["name"],
        description=data.get("description", data["name"]),
        licence=data.get("licence"),
        informant=data["informant"],
        audience=tuple(data["audience"]),
        scale_min=lo,
        scale_max=hi,
        anchors=tuple(sorted((a["value"], a["label"]) for a in data["scale"]["anchors"])),
        min_answered=data["min_answered"],
        items=tuple(
            Item(item["code"], item["dimension"], item.get("reverse", False), item["text"]) for item in data["items"]
        ),
        definition=data,
    )


def parse_definition(text: str) -> Instrument:
    """Parse JSON text and load it; JSON syntax errors are reported with their line."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError([f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"]) from None
    return load_definition(data)


BUILTIN_CODES = ("alliance16", "check4", "observer4")


@cache
def builtin_instruments() -> dict[str, Instrument]:
    """The instruments shipped with the package, by code."""
    folder = resources.files(__package__)
    return {
        code: parse_definition(folder.joinpath(f"{code}.json").read_text(encoding="utf-8")) for code in BUILTIN_CODES
    }
