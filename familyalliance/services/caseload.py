"""The caseload: the families a user may see, most concern first, filtered and in pages.

Reads the stored summaries (``store.summaries``), refreshing those whose family changed,
so one page takes the same handful of queries for ten families or two thousand.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from familyalliance import config
from familyalliance.core import prompts
from familyalliance.core.catalog import N_, translations
from familyalliance.core.charts import builders as charts
from familyalliance.services import pagecache, requests
from familyalliance.store import summaries
from familyalliance.store.db import begin_write, db
from familyalliance.store.models import (
    ExpectedTrajectory,
    Family,
    FamilySummary,
    Member,
    QuestionnaireRequest,
    Team,
    TherapySession,
    User,
    family_therapist,
)
from familyalliance.store.registry import installed_instruments

#: Families per caseload page.
PAGE_SIZE = 25
#: The flag of families with a questionnaire still open after its reminder (read live: it moves with the days).
UNANSWERED = "unanswered"
#: The filters a caseload page takes, as named in its URL.
FILTERS = ("team", "therapist", "status", "flag")
#: At most this many lines of reasons per family; the rest behind "and N more".
REASON_LINES = 3
UNANSWERED_TEXT = N_("Questionnaires still open after their reminder")


@dataclass(frozen=True)
class Filters:
    """What the user asked to see: a team, a therapist, a status, a flag (None: any), and a page."""

    team: int | None = None
    therapist: int | None = None
    status: str | None = None
    flag: str | None = None
    page: int = 1


def settings_key() -> str:
    """The fingerprint of the thresholds and instruments behind the stored summaries."""
    return summaries.settings_key(config.analytics_settings(current_app), installed_instruments())


def version(visible: sa.Select) -> tuple[tuple, int]:
    """One aggregate that changes whenever any visible family changes (count, sum of revisions, sum of ids, and
    when the expected trajectory was stored: its reasons move with it), and the page cache's shared epoch, read in
    the same statement."""
    ids = visible.with_only_columns(Family.id).scalar_subquery()
    count, revisions, id_sum, cache_epoch, expected_at = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(Family.revision), 0),
            sa.func.coalesce(sa.func.sum(Family.id), 0),
            pagecache.epoch(),
            sa.select(sa.func.max(ExpectedTrajectory.computed_at)).scalar_subquery(),
        ).where(Family.id.in_(ids))
    ).one()
    return (count, revisions, id_sum, expected_at), cache_epoch or 0


def refresh_summaries(visible: sa.Select, key: str) -> None:
    """Recompute the stored summaries of the visible families whose data changed, and commit them."""
    stale = summaries.stale_families(visible, key)
    if stale:
        begin_write()  # read the answers and store the summaries in one writing transaction
        summaries.refresh(stale, config.analytics_settings(current_app), key)
        db.session.commit()


def filter_choices(visible: sa.Select) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The teams and therapists of the visible families, as (id, name) pairs for the filters."""
    ids = visible.with_only_columns(Family.id).scalar_subquery()
    teams = db.session.execute(
        sa.select(Team.id, Team.name).join(Family).where(Family.id.in_(ids)).distinct().order_by(Team.name)
    ).all()
    therapists = db.session.execute(
        sa.select(User.id, User.email)
        .join(family_therapist)
        .where(family_therapist.c.family_id.in_(ids))
        .distinct()
        .order_by(User.email)
    ).all()
    return [tuple(t) for t in teams], [tuple(t) for t in therapists]


def page(visible: sa.Select, filters: Filters, language: str):
    """One page of the caseload: (the pagination, its rows, members/sessions/last date per family).

    Each row holds the family (with its summary, team and therapists), the concern reasons
    worded in ``language``, the balance sparkline and the balance points.
    """
    query = (
        visible.join(FamilySummary, FamilySummary.family_id == Family.id)
        .options(
            sa.orm.contains_eager(Family.summary),
            sa.orm.selectinload(Family.therapists),
            sa.orm.selectinload(Family.team),
        )
        .order_by(FamilySummary.concern.desc(), Family.code)
    )
    if filters.team is not None:
        query = query.where(Family.team_id == filters.team)
    if filters.therapist is not None:
        query = query.where(Family.therapists.any(User.id == filters.therapist))
    if filters.status:
        query = query.where(Family.status == filters.status)
    if filters.flag == UNANSWERED:
        query = query.where(Family.id.in_(requests.families_past_reminder()))
    elif filters.flag:
        query = query.where(getattr(FamilySummary, f"flag_{filters.flag}").is_(True))
    pagination = db.paginate(query, page=filters.page, per_page=PAGE_SIZE, error_out=False, count=True)
    shown = [f.id for f in pagination.items]
    stats = family_counts(shown)
    names: dict[int, dict[str, str]] = {}
    for family_id, member_code, name in db.session.execute(
        sa.select(Member.family_id, Member.code, Member.display_name).where(Member.family_id.in_(shown))
    ):
        names.setdefault(family_id, {})[member_code] = name
    rows = []
    for f in pagination.items:
        lines = prompts.reason_lines(f.summary.reasons, language, names.get(f.id, {}))
        if stats[f.id]["past_reminder"]:
            lines.append(translations(language).gettext(UNANSWERED_TEXT))
        rows.append(
            {
                "family": f,
                "reasons": lines[:REASON_LINES],
                "more": lines[REASON_LINES:],
                "sparkline": charts.sparkline([b for _, b in f.summary.balance]),
                "balance": [(int(s), round(b)) for s, b in f.summary.balance],
            }
        )
    return pagination, rows, stats


def family_counts(family_ids: list[int]) -> dict[int, dict]:
    """Members, sessions, latest session date and the reminder flag per family, in two grouped queries.

    The flag (a questionnaire still open after its reminder) is read live, as it moves with the days, and
    for these families only: their requests are an index range each, where all the families' open
    requests would grow with the caseload.
    """
    stats = {fid: {"members": 0, "sessions": 0, "last_session": None, "past_reminder": False} for fid in family_ids}
    if not family_ids:
        return stats
    for fid, n in db.session.execute(
        sa.select(Member.family_id, sa.func.count()).where(Member.family_id.in_(family_ids)).group_by(Member.family_id)
    ):
        stats[fid]["members"] = n
    reminded = requests.families_past_reminder().where(QuestionnaireRequest.family_id.in_(family_ids))
    for fid, n, last, past_reminder in db.session.execute(
        sa.select(
            TherapySession.family_id,
            sa.func.count(),
            sa.func.max(TherapySession.date),
            TherapySession.family_id.in_(reminded),  # a request belongs to a session: no family without one
        )
        .where(TherapySession.family_id.in_(family_ids))
        .group_by(TherapySession.family_id)
    ):
        stats[fid]["sessions"] = n
        stats[fid]["last_session"] = last
        stats[fid]["past_reminder"] = bool(past_reminder)
    return stats
