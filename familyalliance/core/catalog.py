"""The app's message catalog outside Flask: texts worded in Dutch or English by pure modules."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


@cache
def translations(language: str) -> NullTranslations:
    """The catalog for ``language`` (English is the source language)."""
    if language == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [language])


def gettext(message: str, language: str) -> str:
    """``message`` in ``language``."""
    return translations(language).gettext(message)
