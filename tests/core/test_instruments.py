"""Instrument definitions: the built-ins, the schema's errors, and the documentation's examples.

The ``instruments`` commands are tested in ``cli/test_instruments.py``.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from familyalliance.core.instruments import DefinitionError, builtin_instruments, load_definition
from familyalliance.core.vocab import DIMENSIONS

ROOT = Path(__file__).resolve().parents[2]  # the checkout


def test_builtins_as_metrics_md_says():
    """Codes, informants, items, scales, reverse keys and minimums of metrics.md section 2."""
    inst = builtin_instruments()
    a16, c4, o4 = inst["alliance16"], inst["check4"], inst["observer4"]
    assert a16.item_codes == tuple(f"{d}_{i}" for d in DIMENSIONS for i in range(1, 5))
    assert (a16.informant, a16.scale_min, a16.scale_max, a16.min_answered) == ("self", 1, 5, 3)
    assert {i.code for i in a16.items if i.reverse} == {"safety_4", "shared_purpose_4"}
    assert c4.item_codes == DIMENSIONS and o4.item_codes == DIMENSIONS
    assert (c4.informant, c4.scale_min, c4.scale_max, c4.min_answered) == ("self", 0, 10, 1)
    assert (o4.informant, o4.scale_min, o4.scale_max, o4.min_answered) == ("therapist", -3, 3, 1)
    assert not any(i.reverse for i in c4.items + o4.items)
    assert all(i.dimension == i.code for i in c4.items + o4.items)
    assert [a16.scale_points, c4.scale_points, o4.scale_points] == [5, 11, 7]
    assert "child" in c4.audience and "child" not in a16.audience


def test_wording_in_both_languages_and_about_the_target():
    for inst in builtin_instruments().values():
        for item in inst.items:
            for language in ("nl", "en"):
                assert item.text[language].strip()
                assert "{target}" not in item.text_for(language, "team")
    bond = builtin_instruments()["check4"].item("bond")
    assert bond.text_for("en", "therapist") == "I feel that the therapist listens to me."
    assert bond.text_for("nl", "team") == "Ik merk dat het team naar mij luistert."


def test_check4_is_short_enough_for_children():
    """Plain words for a 10-year-old: short sentences, short words."""
    for item in builtin_instruments()["check4"].items:
        for language in ("nl", "en"):
            words = item.text_for(language, "therapist").split()
            assert len(words) <= 12, item.text[language]
            assert max(len(w.strip(".,")) for w in words) <= 10, item.text[language]


def definition() -> dict:
    """A valid custom definition to break in the tests below."""
    return copy.deepcopy(builtin_instruments()["check4"].definition) | {"code": "custom4", "version": "2.1"}


def breaks(mutate) -> list[str]:
    data = definition()
    mutate(data)
    with pytest.raises(DefinitionError) as info:
        load_definition(data)
    return info.value.problems


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("informant"), "'informant' is a required property"),
        (lambda d: d.update(informant="parent"), "informant: 'parent' is not one of"),
        (lambda d: d["scale"].update(min="0"), "scale/min: '0' is not of type 'integer'"),
        (lambda d: d["scale"].update(min=10, max=0), "scale: min (10) must be below max (0)"),
        (lambda d: d["items"][1].update(code="bond"), "items/1/code: item code 'bond' appears twice"),
        (lambda d: d["items"][2].update(dimension="safety_net"), "items/2/dimension: 'safety_net' is not one of"),
        (lambda d: d["items"][3].update(dimension="bond"), "no item for dimension 'shared_purpose'"),
        (lambda d: d.update(min_answered=2), "min_answered: 2 is more than the 1 item(s) of dimension 'bond'"),
        (lambda d: d["items"][0]["text"].pop("nl"), "items/0/text: 'nl' is a required property"),
        (lambda d: d["scale"]["anchors"][0].update(value=-1), "scale/anchors/0/value: -1 lies outside the scale 0..10"),
        (lambda d: d["scale"]["anchors"].pop(0), "the ends of the scale (0 and 10) need a label"),
        (lambda d: d.update(code="Has Space"), "code: 'Has Space' does not match"),
        (lambda d: d.update(extra=1), "Additional properties are not allowed ('extra' was unexpected)"),
        (lambda d: d["items"][0].update(reverse="yes"), "items/0/reverse: 'yes' is not of type 'boolean'"),
    ],
)
def test_malformed_definitions_name_the_problem(mutate, expected):
    problems = breaks(mutate)
    assert any(expected in p for p in problems), problems


def test_docs_show_the_builtin_wording():
    """docs/instruments.md shows every built-in item in Dutch and English, as the files have it."""
    doc = (ROOT / "docs/instruments.md").read_text(encoding="utf-8")
    for inst in builtin_instruments().values():
        for item in inst.items:
            assert item.text["nl"] in doc and item.text["en"] in doc, item.code


def test_docs_example_is_a_valid_definition():
    """The complete example in docs/instruments.md loads."""
    doc = (ROOT / "docs/instruments.md").read_text(encoding="utf-8")
    example = re.search(r"```json\n(.*?)\n```", doc, re.S).group(1)
    instrument = load_definition(json.loads(example))
    assert instrument.code == "wav_example"
