"""FHIR R4 bundles of what an account may see: one family with names, or families pseudonymised for research.

The answers are read as the exports read them (``exporting.export_table("long", ...)``) and the
scores as the app shows them (``queries.scores``, stored with the answers); a research bundle is
pseudonymised by the same ``Pseudonymiser`` as the research exports, so its family and member
codes and its dates are theirs. The resources themselves are built by ``core.fhir``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from familyalliance.core import analytics, fhir
from familyalliance.core.exports import Pseudonymiser
from familyalliance.core.scoring import SCORE_KEY
from familyalliance.services import exporting, policy
from familyalliance.services.errors import OperationError
from familyalliance.store.db import db
from familyalliance.store.models import (
    Family,
    Member,
    QuestionnaireRequest,
    TherapySession,
    User,
    family_therapist,
)
from familyalliance.store.queries import scores
from familyalliance.store.registry import installed_instruments

#: How a form was given, where its request's answer time is when the answers were given. A paper form
#: is typed in after the session and an import's time is the import's: for those the session's date stands.
_ANSWERED_WHEN_STORED = ("link", "round", "grid")


def questionnaires(base_url: str, language: str = "nl") -> list[dict]:
    """Every installed instrument (built-in and custom) as a Questionnaire."""
    return [fhir.questionnaire(instrument, base_url, language) for instrument in installed_instruments().values()]


def definitions_bundle(base_url: str, language: str = "nl") -> dict:
    """The installed instruments' Questionnaires and the app's CodeSystems, as a collection."""
    instruments = installed_instruments()
    return fhir.bundle(
        [
            *(fhir.questionnaire(instrument, base_url, language) for instrument in instruments.values()),
            *fhir.code_systems(base_url, instruments, language),
        ],
        base_url,
    )


def family_bundle(user: User, code: str, base_url: str, language: str = "nl", today: dt.date | None = None) -> dict:
    """One family the account may see, with its members' display names: the team lead's and therapist's view.

    Raises OperationError for a family that does not exist or that the account may not see alike.
    """
    family_id = db.session.scalar(policy.visible_families(user).where(Family.code == code).with_only_columns(Family.id))
    if family_id is None:
        raise OperationError(f"No family {code}.")
    return families_bundle([family_id], base_url, None, language, today)


def research_bundle(
    user: User,
    base_url: str,
    pseudonymiser: Pseudonymiser,
    codes: Sequence[str] = (),
    language: str = "nl",
    today: dt.date | None = None,
) -> dict:
    """The families the account may export (only those with ``codes``, when given), pseudonymised for research."""
    query = policy.exportable_families(user).with_only_columns(Family.id)
    if codes:
        query = query.where(Family.code.in_(codes))
    return families_bundle(list(db.session.scalars(query)), base_url, pseudonymiser, language, today)


def families_bundle(
    family_ids: Sequence[int],
    base_url: str,
    pseudonymiser: Pseudonymiser | None = None,
    language: str = "nl",
    today: dt.date | None = None,
) -> dict:
    """The given families as a collection: named (no ``pseudonymiser``) or pseudonymised.

    The Questionnaires of the instruments answered come first, then per family its Group,
    Patients, Practitioners (named bundles only) and Encounters, then each form's
    QuestionnaireResponse followed by its Observations.
    """
    return fhir.bundle(family_resources(family_ids, base_url, pseudonymiser, language, today), base_url)


def write_bundle(
    path: Path,
    family_ids: Sequence[int] | None,
    base_url: str,
    pseudonymiser: Pseudonymiser | None = None,
    language: str = "nl",
) -> tuple[int, list[Path]]:
    """Write the families' bundle as FHIR JSON (every family when None); returns (entries, files written).

    The shape of ``exporting.write_export``'s answer, which calls it for the ``fhir`` export kind.
    """
    if family_ids is None:
        family_ids = list(db.session.scalars(sa.select(Family.id)))
    made = families_bundle(family_ids, base_url, pseudonymiser, language)
    path.write_text(json.dumps(made, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(made.get("entry", [])), [path]


def family_resources(
    family_ids: Sequence[int],
    base_url: str,
    pseudonymiser: Pseudonymiser | None = None,
    language: str = "nl",
    today: dt.date | None = None,
) -> list[dict]:
    """The resources of :func:`families_bundle`, in its order."""
    family_ids = list(family_ids)
    instruments = installed_instruments()
    named = pseudonymiser is None
    codes = dict(db.session.execute(sa.select(Family.id, Family.code).where(Family.id.in_(family_ids))).all())
    # The long table does not read the analytics settings.
    long = exporting.export_table("long", family_ids, analytics.DEFAULTS, pseudonymiser, instruments)
    stored = scores(family_ids)
    if not named:
        stored = pseudonymiser.apply(stored)
    scored = {
        tuple(str(cell) for cell in key): row
        for key, row in zip(
            stored[SCORE_KEY].itertuples(index=False, name=None), stored.to_dict("records"), strict=True
        )
    }
    forms = fhir.forms(long.itertuples(index=False, name=None))
    members = _members(family_ids, pseudonymiser)
    sessions = _sessions(family_ids, pseudonymiser, today or dt.date.today())
    therapists = _therapists(family_ids) if named else {}
    if named:
        forms = _given(forms, family_ids, therapists)

    by_family: dict[str, list[fhir.Form]] = {}
    for form in forms:
        by_family.setdefault(form.family, []).append(form)

    # The bundle's families in the order of their (pseudonymised) codes, as the exports sort them.
    family_codes = sorted(codes.values() if named else (pseudonymiser.family(code) for code in codes.values()))
    used = sorted({form.instrument for form in forms})
    resources = [fhir.questionnaire(instruments[code], base_url, language) for code in used]
    named_once: set[str] = set()
    for family in family_codes:
        own, given = members.get(family, []), by_family.get(family, [])
        resources.append(fhir.group(family, own, base_url))
        resources += [fhir.patient(member, base_url) for member in own]
        # A therapist of several families comes once, with the first of them.
        raters = sorted((set(therapists.get(family, ())) | {form.rater for form in given if form.rater}) - named_once)
        named_once.update(raters)
        resources += [fhir.practitioner(fhir.Therapist(email, email), base_url) for email in raters]
        resources += [fhir.encounter(session, base_url) for session in sessions.get(family, [])]
        for form in given:
            instrument = instruments[form.instrument]
            resources.append(fhir.questionnaire_response(form, instrument, base_url, language))
            # A form without any score has no row in the scores table, and no Observation.
            resources += fhir.observations(form, instrument, base_url, scored.get(form.key, {}))
    return resources


def _members(family_ids: list[int], pseudonymiser: Pseudonymiser | None) -> dict[str, list[fhir.Member]]:
    """Each family's members by (pseudonymised) family code; names and birth years only when named."""
    rows = db.session.execute(
        sa.select(Family.code, Member.code, Member.role, Member.display_name, Member.birth_year)
        .join(Family, Family.id == Member.family_id)
        .where(Member.family_id.in_(family_ids))
        .order_by(Family.code, Member.code)
    ).all()
    if pseudonymiser is None:
        made = [fhir.Member(family, code, role, name, year) for family, code, role, name, year in rows]
    else:
        frame = pd.DataFrame([row[:3] for row in rows], columns=["family", "member", "role"])
        made = [fhir.Member(*row) for row in pseudonymiser.apply(frame).itertuples(index=False, name=None)]
    grouped: dict[str, list[fhir.Member]] = {}
    for member in made:
        grouped.setdefault(member.family, []).append(member)
    return grouped


def _sessions(
    family_ids: list[int], pseudonymiser: Pseudonymiser | None, today: dt.date
) -> dict[str, list[fhir.Session]]:
    """Each family's sessions; dates shifted or left out as the research exports do."""
    rows = db.session.execute(
        sa.select(Family.code, TherapySession.number, TherapySession.date)
        .join(Family, Family.id == TherapySession.family_id)
        .where(TherapySession.family_id.in_(family_ids))
        .order_by(Family.code, TherapySession.number)
    ).all()
    # Whether a session lies ahead is decided on its real date, before any shift.
    frame = pd.DataFrame(
        [(family, number, date, "planned" if date > today else "finished") for family, number, date in rows],
        columns=["family", "session", "date", "status"],
    )
    if pseudonymiser is not None:
        frame = pseudonymiser.apply(frame)
    grouped: dict[str, list[fhir.Session]] = {}
    for family, number, date, status in frame.itertuples(index=False, name=None):
        grouped.setdefault(family, []).append(fhir.Session(family, int(number), date, status))
    return grouped


def _therapists(family_ids: list[int]) -> dict[str, list[str]]:
    """The logins of each family's therapists, by family code."""
    rows = db.session.execute(
        sa.select(Family.code, User.email)
        .join(family_therapist, family_therapist.c.family_id == Family.id)
        .join(User, User.id == family_therapist.c.user_id)
        .where(Family.id.in_(family_ids))
        .order_by(Family.code, User.email)
    ).all()
    grouped: dict[str, list[str]] = {}
    for family, email in rows:
        grouped.setdefault(family, []).append(email)
    return grouped


def _given(forms: list[fhir.Form], family_ids: list[int], therapists: dict[str, list[str]]) -> list[fhir.Form]:
    """The forms with when they were answered and, for an observer form, by which therapist (named bundles only).

    The rater is the account that entered the observer form, else the family's one therapist;
    with several and none recorded, nobody is named.
    """
    request = QuestionnaireRequest
    rows = db.session.execute(
        sa.select(
            Family.code,
            Member.code,
            TherapySession.number,
            request.instrument,
            request.target,
            request.answered_at,
            User.email,
        )
        .join(Family, Family.id == request.family_id)
        .join(Member, (Member.family_id == request.family_id) & (Member.id == request.member_id))
        .join(
            TherapySession, (TherapySession.family_id == request.family_id) & (TherapySession.id == request.session_id)
        )
        .outerjoin(User, User.id == request.answered_by_id)
        .where(request.family_id.in_(family_ids), request.answered_at.is_not(None))
    ).all()
    answered = {(f, m, n, i, t): (at, email) for f, m, n, i, t, at, email in rows}
    given = []
    for form in forms:
        at, email = answered.get((form.family, form.member, form.session, form.instrument, form.target), (None, None))
        authored = at if form.mode in _ANSWERED_WHEN_STORED else None
        rater = None
        if form.informant == "therapist":
            own = therapists.get(form.family, [])
            rater = email or (own[0] if len(own) == 1 else None)
        given.append(dataclasses.replace(form, authored=authored, rater=rater))
    return given
