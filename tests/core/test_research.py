"""Research statistics against published and independently computed values."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from familyalliance.core import research
from familyalliance.core.instruments import builtin_instruments

from ..analytics_data import frame, row

# Shrout & Fleiss (1979), Table 2: six targets rated by four judges.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_icc_matches_shrout_and_fleiss():
    """Published: BMS 11.24, WMS 6.26, ICC(1,1) = .17, ICC(1,4) = .44."""
    values = pd.Series([v for r in SHROUT_FLEISS for v in r])
    groups = pd.Series([i for i, r in enumerate(SHROUT_FLEISS) for _ in r])
    anova = research.one_way(values, groups)
    assert round(anova.msb, 2) == 11.24 and round(anova.msw, 2) == 6.26
    assert round(anova.icc1, 2) == 0.17 and round(anova.icc2, 2) == 0.44
    assert anova.k0 == 4 and anova.groups == 6 and anova.n == 24


def test_icc_with_unequal_groups_by_hand():
    """Groups [1, 2, 3], [4, 6], [8, 8, 9, 11]: computed with exact fractions."""
    data = [[1, 2, 3], [4, 6], [8, 8, 9, 11]]
    values = [Fraction(v) for g in data for v in g]
    n, j = len(values), len(data)
    grand = sum(values) / n
    means = [Fraction(sum(g), len(g)) for g in data]
    ssb = sum(len(g) * (m - grand) ** 2 for g, m in zip(data, means, strict=True))
    ssw = sum((v - m) ** 2 for g, m in zip(data, means, strict=True) for v in g)
    msb, msw = ssb / (j - 1), ssw / (n - j)
    k0 = (n - Fraction(sum(len(g) ** 2 for g in data), n)) / (j - 1)
    anova = research.one_way(
        pd.Series([float(v) for v in values]), pd.Series([i for i, g in enumerate(data) for _ in g])
    )
    assert anova.k0 == pytest.approx(float(k0), rel=1e-15)
    assert anova.icc1 == pytest.approx(float((msb - msw) / (msb + (k0 - 1) * msw)), rel=1e-12)
    assert anova.icc2 == pytest.approx(float((msb - msw) / msb), rel=1e-12)


def test_member_icc_per_session():
    """Two families at session 1 (each of 2+ members), one family alone at session 2: no ICC there."""
    scores = frame(
        *[
            row(m, 1, "check4", family="A", **dict.fromkeys(("bond", "goals_tasks", "safety", "shared_purpose"), v))
            for m, v in (("M1", 9), ("Y1", 8))
        ],
        *[
            row(m, 1, "check4", family="B", **dict.fromkeys(("bond", "goals_tasks", "safety", "shared_purpose"), v))
            for m, v in (("M1", 3), ("Y1", 4), ("C1", 2))
        ],
        *[
            row(m, 2, "check4", family="A", **dict.fromkeys(("bond", "goals_tasks", "safety", "shared_purpose"), v))
            for m, v in (("M1", 9), ("Y1", 8))
        ],
    )
    out = research.member_icc(scores)
    assert out["session"].tolist() == [1]
    expected = research.one_way(pd.Series([90.0, 80.0, 30.0, 40.0, 20.0]), pd.Series([0, 0, 1, 1, 1]))
    assert out.iloc[0]["icc1"] == pytest.approx(expected.icc1) and out.iloc[0]["icc1"] > 0.9


def alpha_by_hand(matrix):
    """Cronbach's alpha from the textbook formula with item and total variances."""
    m = np.asarray(matrix, dtype=float)
    k = m.shape[1]
    return k / (k - 1) * (1 - m.var(axis=0, ddof=1).sum() / m.sum(axis=1).var(ddof=1))


def test_alpha_listwise_and_pairwise():
    complete = [[4, 5, 4, 3], [2, 2, 3, 2], [5, 5, 4, 5], [3, 4, 3, 3], [1, 2, 2, 1]]
    items = pd.DataFrame(complete, columns=list("abcd"))
    alpha, n = research.cronbach_alpha(items, "listwise")
    assert alpha == pytest.approx(alpha_by_hand(complete), rel=1e-12) and n == 5
    assert research.cronbach_alpha(items, "pairwise")[0] == pytest.approx(alpha, rel=1e-12)
    with_gaps = pd.concat([items, pd.DataFrame([[5, None, 5, 4], [None, 1, 1, 2]], columns=list("abcd"))])
    listwise, n_list = research.cronbach_alpha(with_gaps, "listwise")
    pairwise, n_pair = research.cronbach_alpha(with_gaps, "pairwise")
    assert listwise == pytest.approx(alpha, rel=1e-12) and n_list == 5
    assert n_pair == 7
    cov = with_gaps.astype(float).cov().to_numpy()
    assert pairwise == pytest.approx(4 / 3 * (1 - np.trace(cov) / cov.sum()), rel=1e-12)


def test_alpha_of_identical_items_is_one():
    items = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 2, 3, 4]})
    assert research.cronbach_alpha(items)[0] == pytest.approx(1.0)


def test_alliance16_alpha_reverses_items_first():
    """safety_4 is reverse-keyed: answers that agree after reversal give an alpha of 1."""
    instruments = builtin_instruments()
    rows = []
    for form, level in enumerate([1, 2, 4, 5]):
        for item in instruments["alliance16"].items:
            value = 6 - level if item.reverse else level
            rows.append(
                {
                    "family": "F",
                    "member": f"M{form}",
                    "session": 1,
                    "target": "therapist",
                    "instrument": "alliance16",
                    "item": item.code,
                    "value": value,
                }
            )
    out = research.alliance16_alpha(pd.DataFrame(rows), instruments).set_index("dimension")
    assert out.loc["safety", "alpha_listwise"] == pytest.approx(1.0)
    assert out.loc["shared_purpose", "alpha_pairwise"] == pytest.approx(1.0)
    assert (out["n_listwise"] == 4).all() and (out["items"] == 4).all()


def test_icc_without_variance_is_empty_not_an_error():
    """Families whose means do not differ (or nobody differs at all) have no ICC: NaN, written empty."""
    no_difference = research.one_way(pd.Series([1.0, 3.0, 2.0, 2.0]), pd.Series(["a", "a", "b", "b"]))
    assert no_difference.msb == 0 and np.isnan(no_difference.icc2)
    assert no_difference.icc1 == pytest.approx(-1.0)  # all the variance lies within families
    flat = research.one_way(pd.Series([2.0, 2.0, 2.0, 2.0]), pd.Series(["a", "a", "b", "b"]))
    assert np.isnan(flat.icc1) and np.isnan(flat.icc2)
