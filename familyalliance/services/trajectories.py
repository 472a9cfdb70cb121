"""The expected trajectory (metrics.md section 10) recomputed when the data changed, never in a member's request.

The stored table (``store.expected``) carries the fingerprint of the data it was learned from.
It is recomputed:

- by ``flask refresh-expected`` (for cron), by ``flask refresh-summaries`` and after an import,
  whenever the data changed since;
- on a staff member's caseload request, when the data changed since and the table is older than
  ``EXPECTED_REFRESH_MINUTES`` (so day-to-day answers cost nothing, the aggregate over every family runs
  at most once per interval, ``checked_at``, and a busy clinic recomputes at most every so many minutes).

After a recompute, the stored caseload summaries whose ``below_expected`` reasons moved with the
new table are stored again, so the caseload, the family page and the prompts keep saying the same.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import sqlalchemy as sa
from flask import current_app

from familyalliance import config
from familyalliance.core import analytics
from familyalliance.store import expected, summaries
from familyalliance.store.db import begin_write, db
from familyalliance.store.models import ExpectedTrajectory, Family, FamilySummary, utcnow
from familyalliance.store.registry import installed_instruments

log = logging.getLogger(__name__)


def is_stale() -> bool:
    """Whether the data (or the instruments) changed since the stored table was computed, or it never was."""
    stored, _ = expected.stored_state()
    return stored != expected.basis(installed_instruments())


def refresh(force: bool = False) -> bool:
    """Recompute and store the trajectory when the data changed (always with ``force``), in the caller's
    transaction; store again the summaries whose ``below_expected`` reasons moved. Returns whether it ran."""
    instruments = installed_instruments()
    fingerprint = expected.basis(instruments)
    stored, _ = expected.stored_state()
    if stored == fingerprint and not force:
        return False
    own = expected.own_totals()
    series = analytics.member_series(own, instruments)
    table = analytics.expected_trajectory(series)
    expected.store(table, fingerprint)
    moved = _summaries_to_refresh(series, table)
    if moved:
        settings = config.analytics_settings(current_app)
        summaries.refresh(moved, settings, summaries.settings_key(settings, instruments))
    log.info("expected trajectory recomputed; %d family summaries stored again", len(moved))
    return True


def refresh_if_due(
    computed: dt.datetime | str | None, now: dt.datetime | None = None, checked: dt.datetime | str | None = None
) -> bool:
    """On a staff member's request: recompute (and commit) when the table stored at ``computed`` (None: never) is
    older than ``EXPECTED_REFRESH_MINUTES`` and the data changed since. Returns whether it ran.

    When the data did not change, the table's ``checked_at`` records it (``checked``: as read with ``computed``),
    so that the fingerprint of every family (``expected.basis``) is read at most once per interval."""
    interval = dt.timedelta(minutes=current_app.config["EXPECTED_REFRESH_MINUTES"])
    now = now or utcnow()
    latest = [t for t in (_aware(computed), _aware(checked)) if t is not None]
    if latest and now - max(latest) < interval:
        return False
    if not is_stale():
        if computed is not None:
            begin_write()
            db.session.execute(sa.update(ExpectedTrajectory).values(checked_at=now))
            db.session.commit()
        return False
    begin_write()
    done = refresh()
    db.session.commit()
    return done


def _aware(moment: dt.datetime | str | None) -> dt.datetime | None:
    """A time as read from the database, timezone-aware (SQLite hands an aggregate's time over as text, naive)."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def stamp() -> str | None:
    """When the stored table was computed (ISO text), for the page caches' keys; None when never."""
    _, computed = expected.stored_state()
    return computed.isoformat() if computed is not None else None


def _summaries_to_refresh(series, table) -> list[tuple[int, int]]:
    """(id, revision) of the families whose stored ``below_expected`` reasons differ from the new table's."""
    stored = db.session.execute(
        sa.select(Family.id, Family.code, Family.revision, FamilySummary.latest_session, FamilySummary.reasons).join(
            FamilySummary, FamilySummary.family_id == Family.id
        )
    ).all()
    if not stored:
        return []
    latest = {code: session for _, code, _, session, _ in stored if session is not None}
    now = analytics.below_expected_reasons(series, table, pd.Series(latest, dtype="float64"), analytics.RECENT_SESSIONS)
    new: dict[str, set] = {}
    for r in now.itertuples(index=False):
        new.setdefault(r.family, set()).add((r.member, r.target, int(r.session), int(r.previous_session)))
    moved = []
    for fid, code, revision, _, reasons in stored:
        old = {
            (r["member"], r.get("target", "therapist"), int(r["session"]), int(r["previous_session"]))
            for r in reasons or []
            if r.get("kind") == "below_expected"
        }
        if old != new.get(code, set()):
            moved.append((fid, revision))
    return moved
