"""Write the built-in instruments' wording into docs/instruments.md, from the definition files.

Usage: python scripts/instrument_docs.py   (rewrites the part between the two markers)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from familyalliance.core.instruments import builtin_instruments

DOC = Path(__file__).resolve().parent.parent / "docs/instruments.md"
BEGIN, END = "<!-- wording:begin -->", "<!-- wording:end -->"


def wording() -> str:
    """Markdown tables of every built-in instrument, English and Dutch side by side."""
    out = []
    for code, inst in builtin_instruments().items():
        anchors = "; ".join(f"{v} = {label['en']} / {label['nl']}" for v, label in inst.anchors)
        out += [
            f"### `{code}`: {inst.name['en']} / {inst.name['nl']}",
            "",
            inst.description["en"],
            "",
            f"Informant `{inst.informant}`; scale {inst.scale_min}..{inst.scale_max} ({anchors}); at least "
            f"{inst.min_answered} answered item(s) per dimension; audience {', '.join(inst.audience)}.",
            "",
            "| item | dimension | reversed | English | Nederlands |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| `{i.code}` | `{i.dimension}` | {'yes' if i.reverse else ''} | {i.text['en']} | {i.text['nl']} |"
            for i in inst.items
        ]
        out.append("")
    return "\n".join(out)


def main() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    DOC.write_text(f"{head}{BEGIN}\n{wording()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
