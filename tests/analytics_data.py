"""Build scores tables (the output of the scoring engine) by hand for the analytics tests."""

from __future__ import annotations

import pandas as pd

from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.scoring import SCORE_COLUMNS, SCORES_EXPORT_COLUMNS, pomp
from familyalliance.core.vocab import DIMENSIONS

INSTRUMENTS = builtin_instruments()


def row(member, session, instrument="alliance16", family="F", role="mother", target="therapist", **dims):
    """One scores row; dimensions given as scores on the instrument's scale, total derived as the engine does."""
    inst = INSTRUMENTS[instrument]
    out = {
        "family": family,
        "member": member,
        "role": role,
        "session": session,
        "date": None,
        "informant": inst.informant,
        "target": target,
        "instrument": instrument,
    }
    for d in DIMENSIONS:
        out[d] = dims.get(d)
    out["total"] = dims.get(
        "total", sum(out[d] for d in DIMENSIONS) / 4 if all(out[d] is not None for d in DIMENSIONS) else None
    )
    for c in SCORE_COLUMNS:
        out[f"{c}_pomp"] = pomp(out[c], inst.scale_min, inst.scale_max)
    return out


def frame(*rows) -> pd.DataFrame:
    """A scores DataFrame with the export's columns; missing scores as NaN."""
    data = pd.DataFrame(list(rows), columns=SCORES_EXPORT_COLUMNS)
    for c in SCORE_COLUMNS + [f"{c}_pomp" for c in SCORE_COLUMNS]:
        data[c] = data[c].astype("float64")
    return data


def series(values, instrument="check4", dimension="bond", member="M1", family="F", sessions=None):
    """One member's scores on one dimension over sessions (POMP given; other dimensions empty)."""
    inst = INSTRUMENTS[instrument]
    sessions = sessions or range(1, len(values) + 1)
    rows = []
    for session, value in zip(sessions, values, strict=True):
        score = inst.scale_min + value * (inst.scale_max - inst.scale_min) / 100
        rows.append(row(member, session, instrument, family=family, **{dimension: score}))
    return frame(*rows)
