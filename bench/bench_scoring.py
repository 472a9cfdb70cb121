"""Benchmark: score a million item answers with the vectorised engine, and compare with the one-form path.

Usage: .venv/bin/python bench/bench_scoring.py [ANSWERS]   (default 1,000,000)
Prints wall time and peak memory; figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.scoring import score_answers, score_frame


def make_answers(target: int, seed: int = 1) -> pd.DataFrame:
    """A long table of about ``target`` answers: families of 2..6 members, a mix of the three instruments.

    Each member has their own level (POMP) that drifts a little from session to session;
    answers scatter around it, so splits and ruptures happen about as often as in practice.
    """
    rng = np.random.default_rng(seed)
    instruments = builtin_instruments()
    frames, total, family = [], 0, 0
    while total < target:
        family += 1
        members = rng.integers(2, 7)
        levels = rng.uniform(35, 90, members)
        for session in range(1, 21):
            levels = np.clip(levels + rng.normal(0, 4, members), 0, 100)
            for member in range(members):
                for code in ("check4" if session % 3 else "alliance16", "observer4"):
                    inst = instruments[code]
                    n = len(inst.items)
                    raw = inst.scale_min + (inst.scale_max - inst.scale_min) * levels[member] / 100
                    values = np.clip(np.rint(raw + rng.normal(0, 0.5, n)), inst.scale_min, inst.scale_max)
                    values[rng.random(n) < 0.05] = np.nan
                    frames.append(
                        (
                            f"F{family:05d}",
                            f"M{member}",
                            session,
                            inst.informant,
                            "therapist",
                            code,
                            inst.item_codes,
                            values,
                        )
                    )
                    total += n
    rows = {
        "family": np.repeat([f[0] for f in frames], [len(f[6]) for f in frames]),
        "member": np.repeat([f[1] for f in frames], [len(f[6]) for f in frames]),
        "session": np.repeat([f[2] for f in frames], [len(f[6]) for f in frames]),
        "informant": np.repeat([f[3] for f in frames], [len(f[6]) for f in frames]),
        "target": np.repeat([f[4] for f in frames], [len(f[6]) for f in frames]),
        "instrument": np.repeat([f[5] for f in frames], [len(f[6]) for f in frames]),
        "item": np.concatenate([f[6] for f in frames]),
        "value": np.concatenate([f[7] for f in frames]),
    }
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype("Int64")
    return frame


def main() -> None:
    target = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    instruments = builtin_instruments()
    frame = make_answers(target)
    forms = frame.groupby(["family", "member", "session", "instrument"], sort=False).ngroups
    print(f"answers: {len(frame):,}  forms: {forms:,}  families: {frame['family'].nunique():,}")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = []
    for _ in range(3):
        start = time.perf_counter()
        scores = score_frame(frame, instruments)
        best.append(time.perf_counter() - start)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"vectorised score_frame: best {min(best):.2f} s of 3 ({len(frame) / min(best):,.0f} answers/s), "
        f"{len(scores):,} scores rows; peak RSS {rss_after / 1024:.0f} MiB (+{(rss_after - rss_before) / 1024:.0f})"
    )

    sample = frame.head(200_000)
    start = time.perf_counter()
    for (code,), group in sample.groupby(["instrument"], sort=False):
        for _, form in group.groupby(["family", "member", "session"], sort=False):
            answers = {i: (None if pd.isna(v) else int(v)) for i, v in zip(form["item"], form["value"], strict=True)}
            score_answers(instruments[code], answers)
    single = time.perf_counter() - start
    print(
        f"one-form score_answers: {single:.2f} s for {len(sample):,} answers "
        f"(~{single * len(frame) / len(sample):.0f} s for all)"
    )


if __name__ == "__main__":
    main()
