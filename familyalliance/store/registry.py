"""The installed instruments: the built-in definition files plus the custom ones in the database."""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa

from familyalliance.core.instruments import Instrument, builtin_instruments, parse_definition
from familyalliance.store.db import db
from familyalliance.store.models import InstrumentDefinition


@lru_cache(maxsize=64)
def _parse(text: str) -> Instrument:
    # Stored definitions were validated when loaded; parsing them again is cached by their text.
    return parse_definition(text)


def installed_instruments() -> dict[str, Instrument]:
    """Every instrument this installation knows, by code: built-in first, then custom."""
    instruments = dict(builtin_instruments())
    for text in db.session.scalars(sa.select(InstrumentDefinition.definition).order_by(InstrumentDefinition.code)):
        instrument = _parse(text)
        instruments[instrument.code] = instrument
    return instruments
