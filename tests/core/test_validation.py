"""The answer checks shared by forms, member links and the importer."""

import pytest

from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.validation import Problem, check_answer, duplicate_keys, parse_value

INSTRUMENTS = builtin_instruments()


@pytest.mark.parametrize(
    ("raw", "value", "error"),
    [
        ("3", 3, None),
        (" -2 ", -2, None),
        ("+4", 4, None),
        (5, 5, None),
        (4.0, 4, None),
        ("", None, None),
        (None, None, None),
        ("  ", None, None),
        ("3.5", None, "'3.5' is not a whole number"),
        ("three", None, "'three' is not a whole number"),
        (2.5, None, "2.5 is not a whole number"),
        (True, None, "True is not a whole number"),
    ],
)
def test_parse_value(raw, value, error):
    assert parse_value(raw) == (value, error)


def check(informant="self", target="therapist", instrument="alliance16", item="bond_1", value="3", line=None):
    return check_answer(INSTRUMENTS, informant, target, instrument, item, value, line)


def test_valid_answers():
    assert check() == (3, [])
    assert check(value="") == (None, [])
    assert check(instrument="observer4", informant="therapist", item="safety", value="-3") == (-3, [])
    assert check(instrument="check4", item="shared_purpose", value="10", target="team") == (10, [])


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"value": "6"}, "value", "6 is outside the scale; alliance16 takes a whole number from 1 to 5"),
        ({"value": "0"}, "value", "0 is outside the scale"),
        ({"value": "2.5"}, "value", "'2.5' is not a whole number; alliance16 takes a whole number from 1 to 5"),
        ({"instrument": "check4", "item": "bond", "value": "11"}, "value", "check4 takes a whole number from 0 to 10"),
        ({"item": "bond_5"}, "item", "'bond_5' is not an item of alliance16; its items are bond_1, bond_2"),
        ({"instrument": "srs"}, "instrument", "unknown instrument 'srs'; installed: alliance16, check4, observer4"),
        ({"informant": "therapist"}, "informant", "alliance16 is filled in by informant 'self', not 'therapist'"),
        ({"informant": "mother"}, "informant", "'mother' is not allowed; use self or therapist"),
        ({"target": "family"}, "target", "'family' is not allowed; use therapist or team"),
    ],
)
def test_problems_name_the_field_and_what_is_allowed(kwargs, field, message):
    _, problems = check(line=7, **kwargs)
    assert [p.field for p in problems] == [field]
    assert message in problems[0].message
    assert str(problems[0]).startswith(f"line 7, {field}: ")


def test_several_problems_at_once():
    _, problems = check(informant="therapist", item="nope", value="9")
    assert {p.field for p in problems} == {"informant", "item", "value"}


def test_duplicate_keys_point_to_the_first():
    key = ("F1", "M1", 1, "self", "therapist", "check4", "bond")
    other = key[:-1] + ("safety",)
    problems = duplicate_keys([(key, 2), (other, 3), (key, 9)])
    assert problems == [Problem("item", "a second answer for F1/M1/1/self/therapist/check4/bond (first on line 2)", 9)]
