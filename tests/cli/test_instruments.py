"""The instruments commands: list the installed instruments, load a custom one (or refuse it, changing nothing)."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from familyalliance.store.db import db
from familyalliance.store.models import InstrumentDefinition

from ..core.test_instruments import definition
from ..factories import commit, gen_family, gen_member, gen_session, gen_user


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
