"""Stored scores and summaries computed again for every family: after an instrument's definition or a threshold changed.

Pages and the caseload read what is stored (``store.scores``, ``store.summaries``) and a request
computes only the few families that changed since; what an upgrade or a changed setting makes
stale for every family is computed here, by ``flask rescore`` and ``flask refresh-summaries``, a
batch of families per transaction so that requests keep being answered in between.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sqlalchemy as sa
from flask import current_app

from familyalliance import config
from familyalliance.services import trajectories
from familyalliance.store import scores, summaries
from familyalliance.store.db import begin_write, db
from familyalliance.store.models import Family
from familyalliance.store.registry import installed_instruments

#: Families per transaction.
BATCH = 100


def _batches(batch: int) -> Iterator[list[int]]:
    ids = list(db.session.scalars(sa.select(Family.id).order_by(Family.id)))
    db.session.rollback()
    for start in range(0, len(ids), batch):
        yield ids[start : start + batch]


def store_summaries(family_ids: list[int], batch: int = BATCH) -> int:
    """Store the summaries of these families at the revisions they have now, a batch at a time (memory stays
    bounded), in the caller's transaction, which holds them or wrote them; returns how many."""
    settings = config.analytics_settings(current_app)
    key = summaries.settings_key(settings, installed_instruments())
    done = 0
    for start in range(0, len(family_ids), batch):
        ids = family_ids[start : start + batch]
        revisions = db.session.execute(sa.select(Family.id, Family.revision).where(Family.id.in_(ids)))
        done += summaries.refresh([tuple(r) for r in revisions], settings, key)
    return done


def rescore(batch: int = BATCH, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Score every family's forms again from its answers; returns (families, families whose scores changed).

    A family whose scores changed has its revision raised (its pages are built again) and its
    summary stored anew, in the same transaction as its scores.
    """
    families = changed = 0
    instruments = installed_instruments()
    for ids in _batches(batch):
        moved = sorted(scores.rescore_families(ids, instruments))
        if moved:
            summaries.touch(moved)
            store_summaries(moved)
        db.session.commit()
        families += len(ids)
        changed += len(moved)
        if progress:
            progress(families)
    return families, changed


def refresh_summaries(batch: int = BATCH, progress: Callable[[int], None] | None = None) -> int:
    """Compute and store every family's summary with the thresholds and instruments of now (and the expected
    trajectory first, when the data changed since); returns how many."""
    begin_write()
    trajectories.refresh()
    db.session.commit()
    done = 0
    for ids in _batches(batch):
        summaries.hold(ids)
        done += store_summaries(ids)
        db.session.commit()
        if progress:
            progress(done)
    return done
