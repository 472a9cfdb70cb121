"""The tablet round: one device passed around; each attendee picks their name, answers, hands on.

While a round runs, the browser session shows only the round: no caseload, no family page,
nobody's earlier answers. Leaving the round needs the therapist's password. The browser
session (a signed, not encrypted, cookie) holds only the ids of the round's requests: no
names and no tokens, so the cookie on the passed-around device opens nothing by itself.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from familyalliance.services import requests
from familyalliance.services.accounts import verify_password
from familyalliance.store.db import db
from familyalliance.store.models import QuestionnaireRequest, TherapySession
from familyalliance.store.registry import installed_instruments
from familyalliance.web import access
from familyalliance.web.questionnaire import views as questionnaire
from familyalliance.web.ratings.views import bp

#: What a browser in a round may still reach.
ROUND_ENDPOINTS = {"ratings.round_pick", "ratings.round_answer", "ratings.round_leave", "static", "health.healthz"}


def _round() -> dict | None:
    return session.get("round")


@bp.post("/round/start/<code>/<int:number>")
@access.roles(*access.FAMILY_ROLES)
def round_start(code: str, number: int):
    """Start a round for a session: the attendees' questionnaire requests, kept in this browser only."""
    family = access.family_or_404(code)
    therapy_session = access.session_or_404(family, number)
    requests.sync_session(therapy_session)
    db.session.commit()
    instruments = installed_instruments()
    session["round"] = {
        "session_id": therapy_session.id,
        "requests": {
            str(r.member_id): r.id
            for r in requests.for_session(therapy_session)
            if r.withdrawn_at is None and instruments[r.instrument].informant == "self"
        },
    }
    return redirect(url_for("ratings.round_pick"))


def _request(current: dict, member_id: str) -> QuestionnaireRequest | None:
    """The round's request of a member, if it is still of this round's session."""
    request_id = current.get("requests", {}).get(member_id)
    found = db.session.get(QuestionnaireRequest, request_id) if isinstance(request_id, int) else None
    return found if found is not None and found.session_id == current["session_id"] else None


@bp.get("/round/")
@access.roles(*access.FAMILY_ROLES)
def round_pick():
    """Who is next? The names of the attendees, those still to answer as buttons, the others marked done."""
    current = _round()
    if current is None:
        return redirect(url_for("caseload.show"))
    waiting, done = [], []
    for member_id in current.get("requests", {}):
        found = _request(current, member_id)
        if found is None:
            continue
        if requests.state(found) == "answered":
            done.append(found.member.display_name)
        elif requests.state(found) != "withdrawn":
            waiting.append((member_id, found.member.display_name))
    return render_template("rounds/pick.html", waiting=sorted(waiting, key=lambda w: w[1]), done=sorted(done))


@bp.route("/round/<member_id>", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def round_answer(member_id: str):
    """One attendee's questionnaire; after sending, back to the names. A send that cannot be stored says why."""
    current = _round()
    found = _request(current, member_id) if current else None
    if found is None:
        abort(404)
    name = found.member.display_name
    if requests.state(found) == "answered":
        flash(_("%(name)s, your answers are already in. Thank you!", name=name), "info")
        return redirect(url_for("ratings.round_pick"))
    if requests.state(found) == "withdrawn":
        flash(_("These questions are no longer asked of %(name)s for this session.", name=name), "info")
        return redirect(url_for("ratings.round_pick"))
    instruments = installed_instruments()
    instrument = instruments[found.instrument]
    values = questionnaire.posted_answers(instrument)
    problems: dict[str, str] = {}
    if request.method == "POST":
        try:
            problems = questionnaire.send(found, values, instruments, "round")
        except requests.RequestClosed as exc:
            if exc.reason == "answered":
                message = _("%(name)s, your answers were already in, so these were not stored. Thank you!", name=name)
            else:
                message = _("These questions are no longer asked of %(name)s for this session.", name=name)
            flash(message, "info")
            return redirect(url_for("ratings.round_pick"))
        if not problems:
            flash(_("Thank you, %(name)s. Please hand the device on.", name=name), "success")
            return redirect(url_for("ratings.round_pick"))
    elif not any(values.values()):
        values = {item.code: "" for item in instrument.items} | requests.draft_values(found)
    context = questionnaire.page_context(found, instrument, values, problems)
    return render_template("rounds/answer.html", name=name, **context), (422 if problems else 200)


@bp.route("/round/leave", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def round_leave():
    """End the round: only with the logged-in therapist's password."""
    if _round() is None:
        return redirect(url_for("caseload.show"))
    wrong = False
    if request.method == "POST":
        if verify_password(current_user.password_hash, request.form.get("password", "")):
            session_id = session.pop("round")["session_id"]
            therapy_session = db.session.get(TherapySession, session_id)
            return redirect(
                url_for("ratings.session_page", code=therapy_session.family.code, number=therapy_session.number)
            )
        wrong = True
    return render_template("rounds/leave.html", wrong=wrong), (403 if wrong else 200)


def keep_in_round():
    """While a round runs in this browser, every other page leads back to the round."""
    if _round() is not None and request.endpoint not in ROUND_ENDPOINTS:
        return redirect(url_for("ratings.round_pick"))
    return None
