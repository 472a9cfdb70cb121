"""The questionnaire planned for a member at a session: alliance16 every few sessions for adults and youths."""

from __future__ import annotations

import pytest

from familyalliance.core.plan import default_instrument


@pytest.mark.parametrize(
    ("role", "number", "every", "expected"),
    [
        ("mother", 3, 3, "alliance16"),
        ("mother", 4, 3, "check4"),
        ("mother", 6, 3, "alliance16"),
        ("child", 6, 3, "check4"),
        ("father", 2, 2, "alliance16"),
        ("father", 6, 0, "check4"),
        ("youth", 1, 1, "alliance16"),
    ],
)
def test_default_instrument(role, number, every, expected):
    assert default_instrument(role, number, every) == expected
