"""Merge a dict of Dutch translations (English msgid -> Dutch) into the nl catalog.

Usage: python scripts/fill_nl.py TRANSLATIONS.py   (a file defining NL = {...})
Entries already translated are kept unless the file gives a new text.
"""

import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "familyalliance/translations/nl/LC_MESSAGES/messages.po"

translations = runpy.run_path(sys.argv[1])["NL"]
with PO.open("rb") as f:
    catalog = read_po(f, locale="nl")
for message in catalog:
    if message.id and message.id in translations:
        message.string = translations[message.id]
        message.flags.discard("fuzzy")
with PO.open("wb") as f:
    write_po(f, catalog, width=100)
missing = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)]
print(f"{len(missing)} untranslated", *missing, sep="\n  ")
