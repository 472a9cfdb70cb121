"""Reading the response store into DataFrames for scoring, analytics and exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import pandas as pd
import sqlalchemy as sa

from familyalliance.core import analytics
from familyalliance.core.scoring import (
    POMP_COLUMNS,
    SCORE_COLUMNS,
    SCORE_KEY,
    SCORES_EXPORT_COLUMNS,
    empty_scores,
    scored,
)
from familyalliance.core.validation import LONG_HEADER, LONG_HEADER_WITH_MODE
from familyalliance.store import expected
from familyalliance.store.db import db
from familyalliance.store.models import (
    Family,
    FormScore,
    Member,
    QuestionnaireRequest,
    Response,
    RuptureFollowUp,
    TherapySession,
)
from familyalliance.store.registry import installed_instruments

#: The long table of metrics.md section 3, without and with how each form was given (``mode``).
LONG_COLUMNS = list(LONG_HEADER)
LONG_COLUMNS_WITH_MODE = list(LONG_HEADER_WITH_MODE)


def _long_query(family_ids: Sequence[int] | None, with_mode: bool = False) -> sa.Select:
    """The long table's rows, sorted as the long export wants them (metrics.md section 9).

    ``with_mode`` adds the ``mode`` column: how the answer's form was given, its questionnaire
    request's ``answered_mode`` (NULL when unknown, or when the form has no request).
    """
    columns = [
        Family.code,
        Member.code,
        Member.role,
        TherapySession.number,
        TherapySession.date,
        Response.informant,
        Response.target,
        Response.instrument,
        Response.item,
        Response.value,
    ]
    query = (
        sa.select(*columns)
        .join(Family, Family.id == Response.family_id)
        .join(Member, Member.id == Response.member_id)
        .join(TherapySession, TherapySession.id == Response.session_id)
        .order_by(
            Family.code,
            Member.code,
            TherapySession.number,
            Response.informant,
            Response.target,
            Response.instrument,
            Response.item,
        )
    )
    if with_mode:
        query = query.add_columns(QuestionnaireRequest.answered_mode).outerjoin(
            QuestionnaireRequest,
            (QuestionnaireRequest.session_id == Response.session_id)
            & (QuestionnaireRequest.member_id == Response.member_id)
            & (QuestionnaireRequest.instrument == Response.instrument)
            & (QuestionnaireRequest.target == Response.target),
        )
    if family_ids is not None:
        query = query.where(Response.family_id.in_(family_ids))
    return query


def iter_long_rows(
    family_ids: Sequence[int] | None = None, batch: int = 10_000, with_mode: bool = True
) -> Iterator[tuple]:
    """The long table as plain tuples (``LONG_COLUMNS_WITH_MODE``, or ``LONG_COLUMNS`` without ``with_mode``),
    fetched a batch at a time (memory stays flat)."""
    cursor = db.session.connection().execute(_long_query(family_ids, with_mode)).cursor
    while rows := cursor.fetchmany(batch):
        yield from rows


def responses_frame(family_ids: Sequence[int] | None = None, with_mode: bool = False) -> pd.DataFrame:
    """The long table of metrics.md section 3 for the given families (all when None), one row per answer.

    ``with_mode`` adds the ``mode`` column (None when unknown); scoring and analytics do without.
    Rows are fetched as plain tuples and turned into columns at once: building a million ORM
    rows would cost more than the query.
    """
    names = LONG_COLUMNS_WITH_MODE if with_mode else LONG_COLUMNS
    result = db.session.connection().execute(_long_query(family_ids, with_mode))
    columns = list(zip(*result.cursor.fetchall(), strict=True)) if result.returns_rows else []
    if not columns:
        columns = [[] for _ in names]
    frame = pd.DataFrame(dict(zip(names, columns, strict=True)))
    frame["value"] = pd.array(frame["value"], dtype="Int64")
    frame["session"] = frame["session"].astype("int64")
    frame["date"] = _dates(frame["date"])
    return frame


def _dates(column: pd.Series) -> pd.Series:
    """Session dates as ``datetime.date`` (SQLite hands them over as ISO text)."""
    if column.empty or isinstance(column.iloc[0], dt.date):
        return column
    lookup = {text: dt.date.fromisoformat(text) for text in column.unique()}
    return column.map(lookup)


#: The ``scores`` table's columns read from the stored scores, in order.
_STORED_SCORE_COLUMNS = [*SCORE_COLUMNS, *POMP_COLUMNS]


def scores(family_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Scores per form (metrics.md section 4) for the given families (all when None), as stored with the answers.

    Read from ``form_score`` (written with the answers, see ``store.scores``), never from the
    answers: the same table ``score_frame`` gives for the families' answers, column for column.
    """
    query = (
        sa.select(
            Family.code,
            Member.code,
            Member.role,
            TherapySession.number,
            TherapySession.date,
            FormScore.informant,
            FormScore.target,
            FormScore.instrument,
            *(getattr(FormScore, name) for name in _STORED_SCORE_COLUMNS),
        )
        .join(Family, Family.id == FormScore.family_id)
        .join(Member, Member.id == FormScore.member_id)
        .join(TherapySession, TherapySession.id == FormScore.session_id)
    )
    if family_ids is not None:
        query = query.where(FormScore.family_id.in_(family_ids))
    # Plain tuples from the driver: SQLAlchemy's per-value processing would cost more than the query.
    rows = db.session.connection().execute(query).cursor.fetchall()
    if not rows:
        return empty_scores()  # as for no answers at all
    names = [c for c in SCORES_EXPORT_COLUMNS if c not in _STORED_SCORE_COLUMNS] + _STORED_SCORE_COLUMNS
    frame = pd.DataFrame(dict(zip(names, zip(*rows, strict=True), strict=True)))
    frame[_STORED_SCORE_COLUMNS] = frame[_STORED_SCORE_COLUMNS].astype("float64")
    frame["session"] = frame["session"].astype("int64")
    frame["date"] = _dates(frame["date"]).astype(object)
    # The forms without any score are stored too (their items are counted); the table leaves them out.
    frame = frame.loc[scored(frame), SCORES_EXPORT_COLUMNS]
    return frame.sort_values(SCORE_KEY, kind="stable", ignore_index=True)


def followups(family_ids: Sequence[int]) -> pd.DataFrame:
    """The therapists' follow-ups of ruptures (``analytics.FOLLOWUP_COLUMNS``) of the given families."""
    query = (
        sa.select(
            Family.code,
            Member.code,
            TherapySession.number,
            RuptureFollowUp.informant,
            RuptureFollowUp.target,
            RuptureFollowUp.dimension,
            RuptureFollowUp.discussed_on,
            RuptureFollowUp.note,
        )
        .join(Family, Family.id == RuptureFollowUp.family_id)
        .join(Member, (Member.family_id == RuptureFollowUp.family_id) & (Member.id == RuptureFollowUp.member_id))
        .join(
            TherapySession,
            (TherapySession.family_id == RuptureFollowUp.family_id) & (TherapySession.id == RuptureFollowUp.session_id),
        )
        .where(RuptureFollowUp.family_id.in_(list(family_ids)))
    )
    frame = pd.DataFrame(db.session.execute(query).all(), columns=analytics.FOLLOWUP_COLUMNS)
    frame["discussed_on"] = _dates(frame["discussed_on"].dropna()).reindex(frame.index)
    return frame


def analysis(family_ids: Sequence[int], settings: analytics.Settings, up_to: int | None = None) -> analytics.Analysis:
    """The analysis of the given families (series, ruptures with their follow-ups, gaps, early alliance).

    ``up_to``: as the data stood at that session number (the session report of an earlier session).
    With the stored expected trajectory (``store.expected``), so the ``below_expected`` reason is the
    same fact on the family page, in the prompts and on the caseload.
    """
    scored = scores(family_ids)
    if up_to is not None:
        scored = scored[scored["session"] <= up_to]
    trajectory = expected.load()
    return analytics.analyse(scored, installed_instruments(), settings, followups(family_ids), trajectory)
