"""Installing an organisation's own instrument definitions."""

from __future__ import annotations

import sqlalchemy as sa

from familyalliance.core.instruments import DefinitionError, Instrument, builtin_instruments, parse_definition
from familyalliance.store.db import db
from familyalliance.store.models import (
    InstrumentDefinition,
    Response,
)


def install_instrument(text: str, replace: bool = False) -> Instrument:
    """Validate a definition file's text and install it as a custom instrument.

    Refused, changing nothing: an invalid definition (DefinitionError), a built-in code,
    and a code already installed, unless ``replace`` is given and no response uses it yet.
    """
    instrument = parse_definition(text)
    if instrument.code in builtin_instruments():
        raise DefinitionError([f"code: {instrument.code!r} is a built-in instrument; choose another code"])
    existing = db.session.get(InstrumentDefinition, instrument.code)
    if existing is not None:
        if not replace:
            raise DefinitionError(
                [
                    f"code: {instrument.code!r} is already installed (version {existing.version}); "
                    "use --replace, or a new code for a changed instrument"
                ]
            )
        # Also what keeps stored scores (``form_score``) right: a definition in use never changes, so no form
        # is scored with an older one. A built-in definition changed by an upgrade is ``flask rescore``'s.
        used = db.session.scalar(sa.select(Response.family_id).where(Response.instrument == instrument.code).limit(1))
        if used is not None:
            raise DefinitionError(
                [
                    f"code: responses already use {instrument.code!r}; give the changed instrument a new code "
                    "so the old answers stay interpretable"
                ]
            )
        existing.version = instrument.version
        existing.definition = text
    else:
        db.session.add(InstrumentDefinition(code=instrument.code, version=instrument.version, definition=text))
    db.session.flush()
    return instrument
