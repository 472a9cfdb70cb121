"""Every text cell of every CSV export is neutralised: a code a spreadsheet would run as a formula gets its apostrophe.

Codes may start with "-" (``CODE_PATTERN``); a spreadsheet reads ``-2-3`` as the formula -2-3 = -5. The
family of this file has such codes for its family and members, with a split and a rupture, so every column
that carries a code (``family``, ``member``, ``lowest_member``, ...) has one in each export.
"""

from __future__ import annotations

import csv

import pytest

from familyalliance.core import exports

from .test_import import write

#: -2-3 rates high at session 1 and low at session 2 (a rupture); -M2 stays high (a split at session 2).
LEVELS = {"-2-3": (9, 2), "-M2": (9, 9)}


def course() -> list[str]:
    lines = []
    for member, levels in LEVELS.items():
        role = "mother" if member == "-2-3" else "youth"
        for session, level in enumerate(levels, start=1):
            date = f"2026-03-0{session}"
            for dimension in ("bond", "goals_tasks", "safety", "shared_purpose"):
                lines.append(f"-F1,{member},{role},{session},{date},self,therapist,check4,{dimension},{level}")
    return lines


def numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


#: The research export holds no codes and no text a member typed (alpha and ICC per instrument and dimension), and
#: the profiles export only pseudonyms it makes itself (therapist and team), quarters and numbers.
WITH_CODES = [kind for kind in exports.KINDS if kind not in ("research", "profiles")]


@pytest.mark.parametrize("kind", WITH_CODES)
def test_every_text_cell_of_every_csv_export_is_neutralised(runner, tmp_path, kind):
    imported = runner.invoke(args=["import-ratings", write(tmp_path, course())])
    assert imported.exit_code == 0, imported.output
    path = tmp_path / f"{kind}.csv"
    result = runner.invoke(args=["export", kind, "--format", "csv", "--output", str(path)])
    assert result.exit_code == 0, result.output
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows, kind
    seen = set()
    for row in rows:
        for column, cell in row.items():
            if cell.startswith(exports.RISKY) and not numeric(cell):
                pytest.fail(f"{kind}.{column} holds {cell!r}, which a spreadsheet would run")
            if cell.startswith("'-"):
                seen.add(column)
    # The columns that carry codes carry them neutralised (not left out).
    expected = {
        "long": {"family", "member"},
        "scores": {"family", "member"},
        "family": {"family", "lowest_member"},
        "ruptures": {"family", "member"},
    }[kind]
    assert expected <= seen, (kind, seen)
