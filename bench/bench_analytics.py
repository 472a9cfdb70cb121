"""Benchmark: analytics for one family and the concern ranking of a caseload of 2,000 families.

Usage: .venv/bin/python bench/bench_analytics.py [FAMILIES]   (default 2,000)
The input is the scores table (the scoring engine's output); figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import make_answers  # noqa: E402

from familyalliance.core import analytics, prompts
from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.scoring import score_frame


def best(fn, repeat=5) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    families = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    instruments = builtin_instruments()
    answers = make_answers(families * 1000)
    answers = answers[answers["family"].isin(sorted(answers["family"].unique())[:families])]
    scores = score_frame(answers, instruments)
    one = scores[scores["family"] == scores["family"].iloc[0]]
    print(
        f"caseload: {scores['family'].nunique():,} families, {len(scores):,} scored forms; "
        f"one family: {one['member'].nunique()} members, {one['session'].nunique()} sessions, {len(one)} forms"
    )
    one_analysis = analytics.analyse(one, instruments)
    caseload = analytics.analyse(scores, instruments)
    for name, fn in [
        ("family_metrics (one family)", lambda: analytics.family_metrics(one, instruments)),
        ("member_series (one family)", lambda: analytics.member_series(one, instruments)),
        ("analyse (one family)", lambda: analytics.analyse(one, instruments)),
        ("split_patterns (one family)", lambda: analytics.split_patterns(one_analysis.series)),
        ("conversation_prompts (one family)", lambda: prompts.conversation_prompts(one_analysis)),
        ("analyse (whole caseload)", lambda: analytics.analyse(scores, instruments)),
        ("concern (whole caseload, analysed)", lambda: analytics.concern(caseload)),
        ("family_metrics (whole caseload)", lambda: analytics.family_metrics(scores, instruments)),
    ]:
        print(f"{name:38s} best of 5: {best(fn) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
