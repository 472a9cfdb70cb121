"""Instrument definitions: the built-ins, the schema's errors, and the instruments CLI."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from familyalliance.core.instruments import DefinitionError, builtin_instruments, load_definition
from familyalliance.core.vocab import DIMENSIONS
from familyalliance.store.db import db
from familyalliance.store.models import InstrumentDefinition

from .factories import commit, gen_family, gen_member, gen_session, gen_user

ROOT = Path(__file__).resolve().parent.parent


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


def write(tmp_path, data, name="custom.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return str(path)


def test_cli_lists_the_builtins(runner):
    result = runner.invoke(args=["instruments", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.match(r"code\s+version\s+informant\s+scale\s+items", lines[0])
    assert re.match(r"alliance16\s+1.0\s+self\s+1..5\s+16\s+3\s+adult,youth\s+built-in", lines[1])
    assert re.match(r"check4\s+1.0\s+self\s+0..10\s+4\s+1\s+adult,youth,child\s+built-in", lines[2])
    assert re.match(r"observer4\s+1.0\s+therapist\s+-3..3\s+4\s+1\s+adult\s+built-in", lines[3])


def test_cli_loads_a_custom_instrument(app, runner, tmp_path):
    result = runner.invoke(args=["instruments", "load", write(tmp_path, definition())])
    assert result.exit_code == 0, result.output
    assert "Installed custom4 version 2.1 (4 items)." in result.output
    listed = runner.invoke(args=["instruments", "list"]).output
    assert re.search(r"custom4\s+2.1\s+self\s+0..10\s+4\s+1\s+adult,youth,child\s+custom", listed)


def count_definitions(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(InstrumentDefinition))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"code": "x",', "not valid JSON: Expecting property name enclosed in double quotes at line 1"),
        ("[]", "(top level): [] is not of type 'object'"),
        (json.dumps(definition() | {"min_answered": 0}), "min_answered: 0 is less than the minimum of 1"),
        (json.dumps(definition() | {"code": "check4"}), "'check4' is a built-in instrument"),
    ],
)
def test_cli_refuses_malformed_and_changes_nothing(app, runner, tmp_path, content, expected):
    result = runner.invoke(args=["instruments", "load", write(tmp_path, content)])
    assert result.exit_code == 1
    assert "was not loaded; nothing changed" in result.output
    assert expected in result.output
    assert count_definitions(app) == 0


def test_cli_refuses_non_utf8(app, runner, tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps(definition()).replace("Ik", "Ík").encode("latin-1"))
    result = runner.invoke(args=["instruments", "load", str(path)])
    assert result.exit_code == 1 and "is not UTF-8" in result.output
    assert count_definitions(app) == 0


def test_cli_replace_only_while_unused(app, runner, tmp_path):
    """A second load needs --replace, and once responses use the code it is refused."""
    path = write(tmp_path, definition())
    assert runner.invoke(args=["instruments", "load", path]).exit_code == 0
    again = runner.invoke(args=["instruments", "load", path])
    assert again.exit_code == 1 and "already installed" in again.output
    changed = write(tmp_path, definition() | {"version": "2.2"}, "changed.json")
    assert runner.invoke(args=["instruments", "load", changed, "--replace"]).exit_code == 0
    with app.app_context():
        assert db.session.get(InstrumentDefinition, "custom4").version == "2.2"
        therapist = gen_user()
        family = gen_family(therapists=[therapist])
        member = gen_member(family)
        session = gen_session(family)
        from familyalliance.services import responses
        from familyalliance.store.registry import installed_instruments

        responses.store_answers(
            [
                {
                    "family_id": family.id,
                    "member_id": member.id,
                    "session_id": session.id,
                    "informant": "self",
                    "target": "therapist",
                    "instrument": "custom4",
                    "item": "bond",
                    "value": "4",
                }
            ],
            installed_instruments(),
        )
        commit()
    refused = runner.invoke(args=["instruments", "load", path, "--replace"])
    assert refused.exit_code == 1 and "responses already use 'custom4'" in refused.output
    with app.app_context():
        assert db.session.get(InstrumentDefinition, "custom4").version == "2.2"


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
