"""Split patterns, the concern ranking and the conversation prompts."""

from __future__ import annotations

import pandas as pd
import pytest

from familyalliance.core import analytics, prompts

from ..analytics_data import frame, row

ALL = ("bond", "goals_tasks", "safety", "shared_purpose")


def same(value):
    return dict.fromkeys(ALL, value)


def family_at(session, members, observed=None, family="F"):
    """check4 scores (0..10) per member {code: (role, value)}, and observer4 values per member."""
    rows = [row(code, session, "check4", family=family, role=role, **same(v)) for code, (role, v) in members.items()]
    rows += [
        row(code, session, "observer4", family=family, role=members[code][0], **same(v))
        for code, v in (observed or {}).items()
    ]
    return frame(*rows)


@pytest.mark.parametrize(
    ("members", "observed", "pattern"),
    [
        ({"M1": ("mother", 8), "Y1": ("youth", 7)}, {"M1": 2, "Y1": 1}, "balanced"),
        ({"M1": ("mother", 8), "F1": ("father", 4), "Y1": ("youth", 8)}, None, "split_members"),
        ({"M1": ("mother", 9), "F1": ("father", 8), "Y1": ("youth", 5), "C1": ("child", 6)}, None, "split_adult_young"),
        ({"M1": ("mother", 5), "Y1": ("youth", 5)}, {"M1": 3, "Y1": 3}, "split_family_therapist"),
        ({"M1": ("mother", 9), "Y1": ("youth", 4)}, {"M1": -3, "Y1": -3}, "split_both"),
    ],
)
def test_split_patterns(members, observed, pattern):
    out = analytics.split_patterns(family_at(1, members, observed))
    assert out["pattern"].tolist() == [pattern]


def test_split_pattern_names_the_parts():
    out = analytics.split_patterns(
        family_at(1, {"M1": ("mother", 9), "F1": ("father", 8), "Y1": ("youth", 5), "C1": ("child", 6)})
    ).iloc[0]
    assert out.widest_range_pomp == 40.0 and out.lowest_member == "Y1" and out.highest_member == "M1"
    assert out.youth_caregiver_gap == 85.0 - 55.0
    assert out.member_split and out.adult_young_split and not out.family_therapist_split


def test_concern_ranks_and_explains():
    """A severe split at the latest session outranks an open rupture; a calm family has no reasons."""
    split = pd.concat([family_at(s, {"M1": ("mother", 9), "F1": ("father", 3)}, family="A") for s in (1, 2)])
    rupture = pd.concat(
        [family_at(1, {"M1": ("mother", 8)}, family="B"), family_at(2, {"M1": ("mother", 5)}, family="B")]
    )
    calm = pd.concat([family_at(s, {"M1": ("mother", 8), "Y1": ("youth", 8)}, family="C") for s in (1, 2)])
    low_start = family_at(1, {"M1": ("mother", 3), "Y1": ("youth", 4)}, family="D")
    out = analytics.concern(analytics.analyse(pd.concat([calm, rupture, split, low_start], ignore_index=True)))
    out = out.set_index("family")
    assert list(out.index) == ["A", "D", "B", "C"]
    assert out.loc["A", "concern"] == 3 + 2  # severe split; F1's low early alliance (30)
    kinds = [r["kind"] for r in out.loc["A", "reasons"]]
    assert kinds[0] == "split_severe"
    split_reason = out.loc["A", "reasons"][0]
    assert split_reason == {
        "kind": "split_severe",
        "session": 2,
        "dimension": "bond",
        "size": 60.0,
        "member": "F1",
        "other_member": "M1",
        "points": 3,
    }
    assert out.loc["B", "reasons"] == [
        {
            "kind": "rupture_open",
            "session": 2,
            "dimension": "bond",
            "size": 30.0,
            "member": "M1",
            "target": "therapist",
            "points": 1,
        }
    ]
    assert out.loc["C", "concern"] == 0 and out.loc["C", "reasons"] == []
    assert out.loc["D", "concern"] == 4  # two members with a low early alliance
    assert all(r["points"] == analytics.CONCERN_POINTS[r["kind"]] for rs in out["reasons"] for r in rs)


def test_concern_widening_gap():
    first = family_at(1, {"M1": ("mother", 6)}, {"M1": 1})  # 60 against 66.7
    second = family_at(2, {"M1": ("mother", 5)}, {"M1": 2})  # 50 against 83.3: gap 33, wider
    out = analytics.concern(analytics.analyse(pd.concat([first, second], ignore_index=True))).iloc[0]
    gap = next(r for r in out.reasons if r["kind"].startswith("gap"))
    assert gap["kind"] == "gap_widening" and gap["session"] == 2
    assert gap["size"] == pytest.approx(50 - 500 / 6) and gap["previous_size"] == pytest.approx(60 - 400 / 6)


def test_prompts_name_who_what_since_and_how_much():
    sessions = [
        family_at(s, {"M1": ("mother", 9), "F1": ("father", f), "Y1": ("youth", 8)}, {"F1": 2})
        for s, f in ((1, 8), (2, 5), (3, 5), (4, 5))
    ]
    scores = pd.concat(sessions, ignore_index=True)
    found = prompts.conversation_prompts(analytics.analyse(scores))
    kinds = [p.kind for p in found]
    assert kinds[:2] == ["rupture", "split"]
    names = {"M1": "Sandra", "F1": "Mehmet", "Y1": "Noor"}
    english = [prompts.render(p, "en", names) for p in found]
    assert english[0] == (
        "In session 2, Mehmet's overall alliance fell 30 points (from 80 to 50 out of 100) and has "
        "not come back yet. You could ask Mehmet how the last sessions felt."
    )
    assert english[1].startswith(
        "Since session 2, Mehmet rates the bond with the therapist 40 points lower than "
        "Sandra (50 against 90 out of 100)."
    )
    dutch = [prompts.render(p, "nl", names) for p in found]
    assert dutch[1].startswith("Sinds sessie 2 beoordeelt Mehmet de band met de therapeut 40 punten lager dan Sandra")
    member_gap = next(p for p in found if p.kind == "member_lower")
    assert prompts.render(member_gap, "en", names).startswith("Mehmet rates the")


def test_prompts_are_invitations_not_diagnoses():
    """Every prompt and reason text suggests a conversation and uses no diagnostic words."""
    for text in list(prompts.TEMPLATES.values()):
        assert "You could" in text or "It may help" in text
    for text in list(prompts.TEMPLATES.values()) + list(prompts.REASONS.values()):
        for word in ("disorder", "patholog", "resistan", "non-complian", "fault"):
            assert word not in text.lower()


def test_no_prompts_for_a_calm_family():
    calm = pd.concat([family_at(s, {"M1": ("mother", 8), "Y1": ("youth", 8)}, {"M1": 2, "Y1": 2}) for s in (1, 2, 3)])
    assert prompts.conversation_prompts(analytics.analyse(calm)) == []


def test_every_reason_and_prompt_renders_in_both_languages():
    reason = {"session": 3, "dimension": "safety", "size": 31.2, "previous_size": 20.0, "member": "M1"}
    for kind in prompts.REASONS:
        for language in ("en", "nl"):
            text = prompts.render_reason(reason | {"kind": kind}, language, {"M1": "Sandra"})
            assert "%(" not in text and "%" not in text.replace("%%", "")
    for kind in prompts.DISCUSSED_REASONS:
        discussed = reason | {"kind": kind, "discussed_on": "2026-11-30"}
        assert "30 november 2026" in prompts.render_reason(discussed, "nl", {"M1": "Sandra"})
        assert "November 30, 2026" in prompts.render_reason(discussed, "en", {"M1": "Sandra"})
    for kind in prompts.SAFETY:
        signal = {"member": "M1", "session": 4, "kind": kind, "pomp": 20.0, "drop_pomp": 35.0}
        for language in ("en", "nl"):
            assert "%(" not in prompts.render_safety(signal, language, {"M1": "Sandra"})
    params = {
        "drop": 1,
        "session": 2,
        "before": 3,
        "after": 4,
        "since": 1,
        "size": 5,
        "low": 6,
        "high": 7,
        "value": 8,
        "previous_session": 1,
    }
    for kind in prompts.TEMPLATES:
        members = ("M1", "F1") if kind == "split" else ("M1",)
        for language in ("en", "nl"):
            text = prompts.render(prompts.Prompt(kind, params, members, "safety"), language, {"M1": "A", "F1": "B"})
            assert "%(" not in text
            if language == "nl":
                assert text != prompts.render(prompts.Prompt(kind, params, members, "safety"), "en", {"M1": "A"})


# --- Safety signal --------------------------------------------------------------------------------


def safety_course(member, role, values, family="F"):
    """A member's check4 course: ``values`` are the safety answers (0..10), the rest 9."""
    return [
        row(member, s, "check4", family=family, role=role, bond=9, goals_tasks=9, safety=v, shared_purpose=9)
        for s, v in enumerate(values, start=1)
    ]


def signals(*courses, **settings):
    scores = frame(*[r for course in courses for r in course])
    out = analytics.safety_signals(analytics.analyse(scores), analytics.Settings(**settings))
    return [(r.member, r.role, r.session, r.kind) for r in out.itertuples()]


def test_low_safety_reads_each_members_latest_point_at_or_below_the_threshold():
    assert signals(safety_course("M1", "mother", [8, 3])) == [("M1", "mother", 2, "low_safety")]  # 30: at it
    assert signals(safety_course("M1", "mother", [3, 8])) == []  # low before, safe now
    assert signals(safety_course("M1", "mother", [8, 4])) == []  # 40
    assert signals(safety_course("M1", "mother", [8, 4]), safety_threshold=40) == [("M1", "mother", 2, "low_safety")]


def test_a_young_members_safety_rupture_raises_the_signal_an_adults_does_not():
    """A drop of 50 to 40 (not low): the youth's open rupture raises it; the mother's and a repaired one do not."""
    youth = safety_course("Y1", "youth", [9, 4])
    mother = safety_course("M1", "mother", [9, 4])
    assert signals(youth, mother) == [("Y1", "youth", 2, "young_safety_rupture")]
    assert signals(safety_course("C1", "child", [9, 4, 9])) == []  # repaired at session 3
    assert signals(mother) == []  # an adult's rupture alone: the prompts and the caseload name it


def test_a_sessions_split_pattern_is_its_own_whatever_came_before():
    """The prompts read the latest session's pattern, computed for that session alone: the same row as over all."""
    sessions = [
        family_at(1, {"M1": ("mother", 8), "Y1": ("youth", 7)}, {"M1": 2, "Y1": 1}),
        family_at(2, {"M1": ("mother", 9), "F1": ("father", 8), "Y1": ("youth", 5), "C1": ("child", 6)}),
        family_at(3, {"M1": ("mother", 9), "Y1": ("youth", 4), "C1": ("child", 2)}, {"M1": -3, "Y1": -3}),
    ]
    scores = pd.concat(sessions, ignore_index=True)
    over_all = analytics.split_patterns(scores)
    for s, alone in enumerate(sessions, start=1):
        expected = over_all[over_all["session"] == s].reset_index(drop=True)
        # The same values; only the categories of the member columns differ (the members seen).
        pd.testing.assert_frame_equal(
            analytics.split_patterns(alone), expected, check_categorical=False, check_dtype=False
        )
