"""FHIR R4 bundles of what an account may see: one family with names, or families pseudonymised for research.

The answers are read as the exports read them (``exporting.export_table("long", ...)``) and the
scores as the app shows them (``queries.scores``, stored with the answers); a research bundle is
pseudonymised by the same ``Pseudonymiser`` as the research exports, so its family and member
codes and its dates are theirs. The resources themselves are built by ``core.fhir``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from familyalliance.core import analytics, fhir
from familyalliance.core.exports import Pseudonymiser
from familyalliance.core.scoring import SCORE_KEY
from familyalliance.core.validation import LONG_HEADER_WITH_MODE, Problem
from familyalliance.services import exporting, importer, policy
from familyalliance.services.errors import OperationError
from familyalliance.store.db import db
from familyalliance.store.models import (
    Family,
    Member,
    QuestionnaireRequest,
    Team,
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


# --- The FHIR API (/fhir/R4): what a token's account may read, and bundles of responses it may import ---------


@dataclass(frozen=True)
class Scope:
    """What an account reads through the API: the families, named or pseudonymised (a researcher's, always).

    The families are the pages' and the exports': whoever may open a family page reads it with names
    (``policy.visible_families``); a researcher reads the families they may export
    (``policy.exportable_families``), pseudonymised as the research exports are.
    """

    user_id: int
    family_ids: tuple[int, ...]
    pseudonymiser: Pseudonymiser | None


def api_scope(user: User, pseudonymiser: Pseudonymiser) -> Scope:
    """The account's scope; ``pseudonymiser`` (the research exports') is used for a researcher only."""
    if user.role == "researcher":
        query, used = policy.exportable_families(user), pseudonymiser
    else:
        query, used = policy.visible_families(user), None
    ids = db.session.scalars(query.with_only_columns(Family.id).order_by(Family.code))
    return Scope(user.id, tuple(ids), used)


def _family_of_ids(scope: Scope, base_url: str) -> dict[str, int]:
    """Each Patient's, Encounter's and Group's id in the scope -> its family's id (to narrow a search)."""
    if not scope.family_ids:
        return {}
    pseudo = scope.pseudonymiser
    families = dict(db.session.execute(sa.select(Family.id, Family.code).where(Family.id.in_(scope.family_ids))).all())

    def family_code(family_id: int) -> str:
        code = families[family_id]
        return pseudo.family(code) if pseudo is not None else code

    found = {fhir.resource_id(base_url, "Group", family_code(fid)): fid for fid in families}
    members = db.session.execute(
        sa.select(Member.family_id, Member.code).where(Member.family_id.in_(scope.family_ids))
    ).all()
    for family_id, code in members:
        member = pseudo.member(families[family_id], code) if pseudo is not None else code
        found[fhir.resource_id(base_url, "Patient", family_code(family_id), member)] = family_id
    sessions = db.session.execute(
        sa.select(TherapySession.family_id, TherapySession.number).where(TherapySession.family_id.in_(scope.family_ids))
    ).all()
    for family_id, number in sessions:
        found[fhir.resource_id(base_url, "Encounter", family_code(family_id), str(number))] = family_id
    return found


def _narrowed(scope: Scope, search: fhir.Search, base_url: str) -> list[int]:
    """The scope's families a search can match: those of the Patients or Encounters it names, else all."""
    named = [values for name, values in search.criteria if name in ("subject", "patient", "encounter")]
    if not named:
        return list(scope.family_ids)
    index = _family_of_ids(scope, base_url)
    hits = set(scope.family_ids)
    for values in named:  # every parameter must be met; any of one parameter's values
        hits &= {index[rid] for rid in (fhir.reference_key(value)[1] for value in values) if rid in index}
    return [fid for fid in scope.family_ids if fid in hits]


def _family_resources(scope: Scope, family_id: int, base_url: str, language: str) -> list[dict]:
    return family_resources([family_id], base_url, scope.pseudonymiser, language)


def api_search(
    scope: Scope, resource_type: str, parameters: Sequence[tuple[str, str]], url: str, base_url: str, language: str
) -> tuple[dict, list[int]]:
    """A searchset page of ``resource_type`` in the scope, and the ids of the families on it (for the audit log).

    ``url`` is the search as asked (under ``base_url``); the page's links keep its parameters.
    Raises ``fhir.SearchError`` for a parameter the API does not know.
    """
    search = fhir.parse_search(resource_type, parameters)
    found: list[tuple[dict, int | None]] = []
    if resource_type == "Questionnaire":
        found = [(q, None) for q in questionnaires(base_url, language) if fhir.matches(q, search)]
    else:
        seen: set[str] = set()  # a therapist of several families is one Practitioner
        for family_id in _narrowed(scope, search, base_url):
            for resource in _family_resources(scope, family_id, base_url, language):
                kind, rid = resource["resourceType"], resource["id"]
                if kind == resource_type and rid not in seen and fhir.matches(resource, search):
                    seen.add(rid)
                    found.append((resource, None if kind == "Practitioner" else family_id))
    start = (search.page - 1) * search.count
    page = found[start : start + search.count]
    if search.count:
        links = fhir.paging_links(url, search.page, search.count, len(found))
    else:  # the total only
        links = [{"relation": "self", "url": url}]
    made = fhir.bundle(
        [resource for resource, _family in page],
        base_url,
        "searchset",
        total=len(found),
        links=links,
        matches={resource_type},
    )
    return made, sorted({family for _resource, family in page if family is not None})


def api_read(
    scope: Scope, resource_type: str, resource_id: str, base_url: str, language: str
) -> tuple[dict | None, int | None]:
    """One resource of the scope by its id, and its family's id; (None, None): none the account may read."""
    if resource_type == "Questionnaire":
        return next((q for q in questionnaires(base_url, language) if q["id"] == resource_id), None), None
    for family_id in scope.family_ids:
        for resource in _family_resources(scope, family_id, base_url, language):
            if resource["resourceType"] == resource_type and resource["id"] == resource_id:
                return resource, family_id
    return None, None


class BundleRejected(Exception):
    """A bundle was not imported; nothing was stored. ``issues`` name the entries and items; ``total`` counts all."""

    def __init__(self, issues: list[fhir.Issue], total: int | None = None):
        super().__init__(f"{total or len(issues)} problem(s)")
        self.issues = issues
        self.total = len(issues) if total is None else total


@dataclasses.dataclass
class BundleImport:
    """What the import of a bundle stored: the import's summary, the forms, and the answer bundle."""

    summary: importer.ImportSummary
    forms: int
    family_ids: list[int]
    answer: dict


def _known(family_ids: Sequence[int] | None, base_url: str) -> fhir.Known:
    """The stored members and sessions of the families (every family: None) by their resource ids."""
    known = fhir.Known()
    members = sa.select(Family.code, Member.code, Member.role).join(Family, Family.id == Member.family_id)
    sessions = sa.select(Family.code, TherapySession.number, TherapySession.date).join(
        Family, Family.id == TherapySession.family_id
    )
    if family_ids is not None:
        members = members.where(Family.id.in_(family_ids))
        sessions = sessions.where(Family.id.in_(family_ids))
    for family, member, role in db.session.execute(members):
        known.patients[fhir.resource_id(base_url, "Patient", family, member)] = fhir.KnownMember(family, member, role)
    for family, number, date in db.session.execute(sessions):
        known.encounters[fhir.resource_id(base_url, "Encounter", family, str(number))] = fhir.KnownSession(
            family, number, date
        )
    return known


def import_bundle(
    bundle: object,
    base_url: str,
    user: User | None = None,
    replace: bool = False,
    team: Team | None = None,
    therapists: Sequence[User] = (),
) -> BundleImport:
    """Import a Bundle of QuestionnaireResponses through the long CSV's import: every form or none.

    The bundle becomes the long table's rows (``fhir.long_rows``), which ``importer.import_long_csv``
    checks, stores, scores and summarises as it does a CSV file. With ``user`` (the API), every
    response must be about a member and a session already stored in a family the account may open
    (``policy.visible_families``: its therapists, the team lead); without (the command, the Import
    page), as the CSV: families, members and sessions the bundle names are created when new.
    Raises BundleRejected naming each problem's entry and item, having stored nothing.
    """
    instruments = installed_instruments()
    allowed = None
    if user is not None:
        allowed = (
            set()
            if user.role == "researcher"
            else set(db.session.scalars(policy.visible_families(user).with_only_columns(Family.id)))
        )
    known = _known(None if allowed is None else sorted(allowed), base_url)
    read = fhir.long_rows(bundle, base_url, instruments, known)
    issues = list(read.issues)
    if allowed is not None and not issues:
        stored_members = {(m.family, m.member) for m in known.patients.values()}
        stored_sessions = {(s.family, s.number) for s in known.encounters.values()}
        for number, rid, key in read.forms:
            where = f"entry {number}" + (f" (QuestionnaireResponse/{rid})" if rid else "")
            family, member, session = key[0], key[1], int(key[2])
            if (family, member) not in stored_members:
                issues.append(
                    fhir.Issue(
                        f"{where}: the subject is not a member of a family this account may write to",
                        expression=f"Bundle.entry[{number}].resource.subject",
                    )
                )
            elif (family, session) not in stored_sessions:
                issues.append(
                    fhir.Issue(
                        f"{where}: the encounter is not a session of a family this account may write to",
                        expression=f"Bundle.entry[{number}].resource.encounter",
                    )
                )
    if issues:
        db.session.rollback()
        raise BundleRejected(issues[: importer.MAX_REPORTED], len(issues))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bundle.csv"
        with path.open("w", encoding="utf-8", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=LONG_HEADER_WITH_MODE)
            writer.writeheader()
            writer.writerows(read.rows)
        try:
            summary = importer.import_long_csv(path, instruments, replace, team, therapists)
        except importer.ImportRejected as exc:
            raise BundleRejected([_located(problem, read) for problem in exc.problems], exc.total) from None
    codes = sorted({key[0] for _n, _r, key in read.forms})
    family_ids = list(db.session.scalars(sa.select(Family.id).where(Family.code.in_(codes))))
    made = {key: fhir.resource_id(base_url, "QuestionnaireResponse", *key) for _n, _r, key in read.forms}
    by_entry = {number: made[key] for number, _rid, key in read.forms}
    entries = (bundle.get("entry") or []) if isinstance(bundle, dict) else []
    answer_entries = []
    for number in range(len(entries)):
        if number in by_entry:
            response = {"status": "201 Created", "location": f"QuestionnaireResponse/{by_entry[number]}"}
        else:
            response = {"status": "200 OK"}
        answer_entries.append({"response": response})
    answer = {"resourceType": "Bundle", "type": fhir.IMPORT_TYPES[bundle["type"]], "entry": answer_entries}
    return BundleImport(summary, len(read.forms), family_ids, answer)


def _located(problem: Problem, read: fhir.Read) -> fhir.Issue:
    """An import problem (by line of the long rows) as an issue naming the bundle's entry and item."""
    row = (problem.line or 0) - 2  # line 1 is the header
    if 0 <= row < len(read.origins):
        origin = read.origins[row]
        return fhir.Issue(f"{origin.where()}: {problem.field}: {problem.message}", expression=origin.expression())
    return fhir.Issue(f"{problem.field}: {problem.message}")
