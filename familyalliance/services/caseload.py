"""The caseload: the families a user may see, most concern first, filtered and in pages.

Reads the stored summaries (``store.summaries``), refreshing those whose family changed,
so one page takes the same handful of queries for ten families or two thousand.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_sqlalchemy.pagination import SelectPagination

from familyalliance import config
from familyalliance.core import prompts
from familyalliance.core.catalog import N_, translations
from familyalliance.core.charts import builders as charts
from familyalliance.services import pagecache, policy, requests
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


def version(visible: sa.Select, user: User) -> tuple[tuple, int, tuple]:
    """What the page cache keys on, in one statement that reads no family: (the version of the visible families,
    the page cache's shared epoch, (when the expected trajectory was stored, when it was last found up to date)).

    The version is the user's ``assigned_revision`` (raised when a family assigned to them changes, is assigned
    or taken away) and for a team lead the team's ``revision`` (raised when a family of the team changes, comes
    or goes: ``summaries.touch``, ``summaries.raise_teams``), with when the expected trajectory was stored (the
    reasons move with it). ``visible`` is ``policy.visible_families(user)``.
    """
    team_id = policy.visible_team(user)
    team_revision = (
        sa.select(Team.revision).where(Team.id == team_id).scalar_subquery() if team_id is not None else sa.null()
    )
    expected = sa.select(
        sa.func.max(ExpectedTrajectory.computed_at), sa.func.max(ExpectedTrajectory.checked_at)
    ).subquery()
    assigned, team, cache_epoch, expected_at, checked_at = db.session.execute(
        sa.select(User.assigned_revision, team_revision, pagecache.epoch(), expected.c[0], expected.c[1])
        .select_from(User)
        .join(expected, sa.true(), isouter=True)
        .where(User.id == user.id)
    ).one()
    return (user.id, assigned, team_id, team, expected_at), cache_epoch or 0, (expected_at, checked_at)


def refresh_summaries(visible: sa.Select, key: str) -> None:
    """Recompute the stored summaries of the visible families whose data changed, and commit them."""
    stale = summaries.stale_families(visible, key)
    if stale:
        begin_write()  # read the answers and store the summaries in one writing transaction
        summaries.refresh(stale, config.analytics_settings(current_app), key)
        db.session.commit()


def filter_choices(visible: sa.Select, user: User) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The teams and therapists of the visible families, as (id, name) pairs for the filters.

    For a team lead without reading the team's families: their team (when it has a family) and the teams of
    the families assigned to them; the accounts with a family of the team (one index probe each, stopping at
    the first) and those of the families assigned to them. Otherwise (a few assigned families) from those.
    """
    team_id = policy.visible_team(user)
    ids = visible.with_only_columns(Family.id).scalar_subquery()
    if team_id is None:
        team_ids = sa.select(Family.team_id).where(Family.id.in_(ids))
        therapist_ids = sa.select(family_therapist.c.user_id).where(family_therapist.c.family_id.in_(ids))
    else:
        assigned = policy.assigned_families(user)
        has_family = sa.select(Family.id).where(Family.team_id == team_id).exists()
        team_ids = sa.select(Team.id).where(
            sa.or_(
                sa.and_(Team.id == team_id, has_family),
                Team.id.in_(sa.select(Family.team_id).where(Family.id.in_(assigned))),
            )
        )
        of_team = (
            sa.select(family_therapist.c.family_id)
            .join(Family, Family.id == family_therapist.c.family_id)
            .where(family_therapist.c.user_id == User.id, Family.team_id == team_id)
        )
        with_assigned = sa.select(family_therapist.c.user_id).where(family_therapist.c.family_id.in_(assigned))
        therapist_ids = sa.select(User.id).where(sa.or_(of_team.exists(), User.id.in_(with_assigned)))
    teams = db.session.execute(sa.select(Team.id, Team.name).where(Team.id.in_(team_ids)).order_by(Team.name)).all()
    therapists = db.session.execute(
        sa.select(User.id, User.email).where(User.id.in_(therapist_ids)).order_by(User.email)
    ).all()
    return [tuple(t) for t in teams], [tuple(t) for t in therapists]


class _Page(SelectPagination):
    """A caseload page: the families' ids read in the order of ``ix_family_summary_rank_code`` (the index is
    walked and left after the page), then those families; the count as the caller gives it."""

    def _query_items(self) -> list[Family]:
        order = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        ids = list(db.session.scalars(order))
        families = {
            f.id: f
            for f in db.session.scalars(
                sa.select(Family)
                .where(Family.id.in_(ids))
                .options(
                    sa.orm.joinedload(Family.summary),
                    sa.orm.selectinload(Family.therapists),
                    sa.orm.selectinload(Family.team),
                )
            )
        }
        return [families[i] for i in ids if i in families]

    def _query_count(self) -> int:
        return db.session.scalar(self._query_args["counted"])


def page(visible: sa.Select, filters: Filters, language: str, user: User | None = None):
    """One page of the caseload: (the pagination, its rows, members/sessions/last date per family).

    Each row holds the family (with its summary, team and therapists), the concern reasons
    worded in ``language``, the balance sparkline and the balance points.

    The page is read in the caseload's order (concern descending, then code: ``ix_family_summary_rank_code``).
    For a whole team (``user`` a team lead: a team of any size) that index is walked, each family checked
    against what the user may see and the filters (a correlated EXISTS), until the page is full: the time does
    not grow with the team, where a join would sort all its families. A therapist's few assigned families are
    joined and sorted. Without filters the count is that of the visible families (every one has a summary:
    ``refresh_summaries`` ran first): for a team, the team's (on its index) and those assigned outside it.
    """
    team_id = policy.visible_team(user) if user is not None else None
    kept = visible
    if filters.team is not None:
        kept = kept.where(Family.team_id == filters.team)
    if filters.therapist is not None:
        kept = kept.where(Family.therapists.any(User.id == filters.therapist))
    if filters.status:
        kept = kept.where(Family.status == filters.status)
    if filters.flag == UNANSWERED:
        kept = kept.where(Family.id.in_(requests.families_past_reminder()))
    if team_id is not None:
        ordered = sa.select(FamilySummary.family_id).where(
            kept.with_only_columns(sa.literal(1)).where(Family.id == FamilySummary.family_id).exists()
        )
    else:
        ordered = kept.join(FamilySummary, FamilySummary.family_id == Family.id).with_only_columns(
            FamilySummary.family_id
        )
    if filters.flag and filters.flag != UNANSWERED:
        ordered = ordered.where(getattr(FamilySummary, f"flag_{filters.flag}").is_(True))
    if any(getattr(filters, name) for name in FILTERS):
        counted = sa.select(sa.func.count()).select_from(ordered.subquery())
    elif team_id is not None:
        outside = (
            sa.select(sa.func.count())
            .select_from(family_therapist)
            .join(Family, Family.id == family_therapist.c.family_id)
            .where(family_therapist.c.user_id == user.id, sa.or_(Family.team_id != team_id, Family.team_id.is_(None)))
        )
        counted = sa.select(
            sa.select(sa.func.count()).where(Family.team_id == team_id).scalar_subquery() + outside.scalar_subquery()
        )
    else:
        counted = visible.with_only_columns(sa.func.count())
    ordered = ordered.order_by(FamilySummary.rank, FamilySummary.code)
    pagination = _Page(
        select=ordered, counted=counted, page=filters.page, per_page=PAGE_SIZE, error_out=False, count=True
    )
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
