"""Stored family summaries: the caseload reads concern, reasons and balance without scoring anything.

Every change to a family's members, sessions or answers calls :func:`touch`, which raises
the family's ``revision`` in the same transaction. A summary remembers the revision (and
the thresholds and instruments) it was computed from; :func:`stale_families` finds those of
a set of families whose data changed since and :func:`refresh` recomputes them, from the
stored scores, in a fixed number of queries however many they are. The import stores the
summaries of the families it wrote; ``flask refresh-summaries`` all of them (after an upgrade
or a changed threshold), so a request computes only the few families that changed since.

Under concurrent writers this stays right without locks: the revision is read before the
answers, so a summary computed while new answers arrive carries the older revision and
is recomputed on the next read; it is never taken as fresh with data missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from familyalliance.core import analytics
from familyalliance.core.charts import tables as chart_tables
from familyalliance.core.instruments import Instrument
from familyalliance.store import queries
from familyalliance.store.db import db
from familyalliance.store.models import Family, FamilySummary, Team, User, family_therapist, utcnow

log = logging.getLogger(__name__)

#: Where :func:`touch` records, in the session's ``info``, the families a transaction changed; at its commit
#: they move to ``COMMITTED``, for what follows the commit (``services.refresher``).
TOUCHED = "familyalliance.touched_families"
COMMITTED = "familyalliance.committed_families"
#: Sessions in the caseload's balance sparkline.
SPARKLINE_SESSIONS = 10
#: The caseload's flag filters: each names the concern reasons it covers.
FLAGS = {
    "split": ("split_severe", "split_moderate"),
    "rupture": ("rupture_unrepaired", "rupture_open"),
    "low_early": ("low_early", "low_early_team"),
    "gap": ("gap_widening", "gap_large"),
    "below_expected": ("below_expected",),
}


def touch(family_ids: Iterable[int]) -> None:
    """Mark the families' stored summaries stale (their data changed in this transaction)."""
    ids = sorted({int(i) for i in family_ids})
    if ids:
        db.session.info.setdefault(TOUCHED, set()).update(ids)  # the teams' and therapists' revisions at the commit
        db.session.execute(
            sa.update(Family).where(Family.id.in_(ids)).values(revision=Family.revision + 1, summary_due=True)
        )


@sa.event.listens_for(sa.orm.Session, "before_commit")
def _raise_at_commit(session: sa.orm.Session) -> None:
    """Raise the revisions of the teams and therapists of the families the transaction touched, last thing before
    its commit: their rows are shared by every family of a team, so they are held for the commit only (on
    PostgreSQL, two writers to one team's families wait for each other that long, never longer, and nothing is
    awaited after them: no deadlock). The families are then handed on (``COMMITTED``, ``services.refresher``)."""
    family_ids = session.info.pop(TOUCHED, None)
    if family_ids:
        raise_teams(family_ids, session)
        raise_therapists(family_ids, session=session)
        session.info[COMMITTED] = family_ids


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget_at_rollback(session: sa.orm.Session) -> None:
    session.info.pop(TOUCHED, None)
    session.info.pop(COMMITTED, None)


def raise_teams(family_ids: Iterable[int], session: sa.orm.Session | None = None) -> None:
    """Raise the revision of the teams of these families: a family of theirs changed, came or is about to go.

    A team lead's caseload version reads the team's revision (``services.caseload.version``) instead of
    every family; besides :func:`touch`, opening a family and erasing one call this.
    """
    ids = sorted({int(i) for i in family_ids})
    if ids:
        teams = sa.select(Family.team_id).where(Family.id.in_(ids), Family.team_id.is_not(None))
        (session or db.session).execute(sa.update(Team).where(Team.id.in_(teams)).values(revision=Team.revision + 1))


def raise_therapists(
    family_ids: Iterable[int], users: Iterable[int] = (), session: sa.orm.Session | None = None
) -> None:
    """Raise ``assigned_revision`` of the accounts assigned to these families (and of ``users``, e.g. those a
    family was just taken from): what they see changed (``services.caseload.version``)."""
    ids = sorted({int(i) for i in family_ids})
    assigned = sa.select(family_therapist.c.user_id).where(family_therapist.c.family_id.in_(ids))
    condition = sa.or_(User.id.in_(assigned), User.id.in_(sorted({int(u) for u in users})))
    if ids or users:
        (session or db.session).execute(
            sa.update(User).where(condition).values(assigned_revision=User.assigned_revision + 1)
        )


def hold(family_ids: Iterable[int]) -> None:
    """Hold the families for this transaction before reading their data to store what follows from it.

    A write that changes nothing (the revision stays): PostgreSQL locks the families' rows, so a
    request changing one of them waits until this transaction ends (and its own scores and summary
    come after); SQLite takes its write lock now, so no write can slip in between the reading and
    the writing (at the first write it would otherwise fail on a stale snapshot).
    """
    ids = sorted({int(i) for i in family_ids})
    if ids:
        db.session.execute(sa.update(Family).where(Family.id.in_(ids)).values(revision=Family.revision))


def settings_key(settings: analytics.Settings, instruments: Mapping[str, Instrument]) -> str:
    """A fingerprint of what a summary depends on besides the data: thresholds and instrument versions."""
    basis = {
        "settings": settings.as_config(),
        "points": analytics.CONCERN_POINTS,
        "recent": analytics.RECENT_SESSIONS,
        "sparkline": SPARKLINE_SESSIONS,
        "instruments": sorted((code, i.version) for code, i in instruments.items()),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def stale_families(family_query: sa.Select, key: str) -> list[tuple[int, int]]:
    """(id, revision) of the families in ``family_query`` whose data changed since their summary, or without one.

    What a request computes: the few families that changed since, read from the partial index of the
    families whose summary is due (``ix_family_summary_due``), never from all of them. A
    summary computed with other thresholds or instruments (``key``) is not recomputed here, for every
    family at once, in a request someone waits for: ``flask refresh-summaries`` does that after an upgrade
    or a changed setting (they are counted in the log, once per key and process, until it ran).
    """
    _warn_outdated(key)
    due = sa.orm.aliased(Family, name="due")
    shown = family_query.with_only_columns(sa.literal(1)).where(Family.id == due.id).exists()
    query = sa.select(due.id, due.revision).where(due.summary_due == sa.true(), shown)
    return [(fid, rev) for fid, rev in db.session.execute(query)]


def _warn_outdated(key: str) -> None:
    """Log how many summaries were computed with other thresholds or instruments: once per key in this process."""
    checked = current_app.extensions.setdefault("familyalliance.summary_keys_checked", set())
    if key in checked:
        return
    checked.add(key)
    outdated = db.session.scalar(
        sa.select(sa.func.count()).select_from(FamilySummary).where(FamilySummary.settings_key != key)
    )
    if outdated:
        log.warning("%d summaries computed with other thresholds or instruments: run flask refresh-summaries", outdated)


def compute(analysis: analytics.Analysis, settings: analytics.Settings) -> dict[str, dict]:
    """Per family code, the summary's values (pure apart from taking the families' analysis)."""
    ranking = analytics.concern(analysis, settings)
    balance = chart_tables.balance_series(analysis.series, SPARKLINE_SESSIONS)
    series: dict[str, list] = {}
    for family, session, value in balance.itertuples(index=False):
        series.setdefault(family, []).append([int(session), round(float(value), 2)])
    out = {}
    for row in ranking.itertuples(index=False):
        kinds = {r["kind"] for r in row.reasons}
        out[row.family] = {
            "concern": int(row.concern),
            "reasons": [_plain(r) for r in row.reasons],
            "balance": series.get(row.family, []),
            "latest_session": int(row.latest_session),
            **{f"flag_{flag}": bool(kinds & set(covered)) for flag, covered in FLAGS.items()},
        }
    return out


def refresh(stale: list[tuple[int, int]], settings: analytics.Settings, key: str) -> int:
    """Recompute and store the summaries of ``stale`` (id, revision) families; return how many."""
    if not stale:
        return 0
    revisions = dict(stale)
    codes = dict(db.session.execute(sa.select(Family.id, Family.code).where(Family.id.in_(revisions))).all())
    values = compute(queries.analysis(list(revisions), settings), settings)
    now = utcnow()
    empty = {
        "concern": 0,
        "reasons": [],
        "balance": [],
        "latest_session": None,
        **{f"flag_{flag}": False for flag in FLAGS},
    }
    rows = [
        {
            "family_id": fid,
            "revision": revisions[fid],
            "settings_key": key,
            "code": codes[fid],
            "computed_at": now,
            **values.get(codes[fid], empty),
            "rank": -values.get(codes[fid], empty)["concern"],
        }
        for fid in revisions
    ]
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(FamilySummary)
    updated = {c: insert.excluded[c] for c in rows[0] if c != "family_id"}
    db.session.execute(insert.on_conflict_do_update(index_elements=["family_id"], set_=updated), rows)
    # The families leave the index of the stale ones (unless changed since the revision read above).
    family = Family.__table__
    stored = sa.select(FamilySummary.revision).where(FamilySummary.family_id == family.c.id).scalar_subquery()
    db.session.execute(
        sa.update(family).where(family.c.id.in_(list(revisions))).values(summary_due=family.c.revision != stored)
    )
    return len(rows)


def _plain(reason: Mapping) -> dict:
    """A reason with JSON-safe values (numpy numbers become Python numbers)."""
    out = {}
    for k, v in reason.items():
        out[k] = v.item() if hasattr(v, "item") else v
    return out
