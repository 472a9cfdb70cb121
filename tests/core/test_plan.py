"""The questionnaire planned for a member at a session: alliance16 at the intake and every few sessions after it."""

from __future__ import annotations

import pytest

from familyalliance.core.plan import DEFAULT_FULL_EVERY, default_instrument


@pytest.mark.parametrize(
    ("role", "number", "every", "expected"),
    [
        ("mother", 1, 3, "alliance16"),  # the intake
        ("mother", 2, 3, "check4"),
        ("mother", 3, 3, "check4"),
        ("mother", 4, 3, "alliance16"),
        ("mother", 6, 3, "check4"),
        ("mother", 7, 3, "alliance16"),
        ("child", 1, 3, "check4"),
        ("child", 4, 3, "check4"),
        ("father", 1, 2, "alliance16"),
        ("father", 2, 2, "check4"),
        ("father", 3, 2, "alliance16"),
        ("father", 1, 0, "check4"),
        ("father", 6, 0, "check4"),
        ("youth", 1, 1, "alliance16"),
        ("youth", 2, 1, "alliance16"),
    ],
)
def test_default_instrument(role, number, every, expected):
    assert default_instrument(role, number, every) == expected


def test_the_default_plan_asks_the_full_questionnaire_at_the_intake_and_every_third_session():
    full = [n for n in range(1, 11) if default_instrument("mother", n) == "alliance16"]
    assert DEFAULT_FULL_EVERY == 3 and full == [1, 4, 7, 10]
