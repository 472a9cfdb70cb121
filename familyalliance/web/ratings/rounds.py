"""The tablet round: one device passed around; each attendee picks their name, answers, hands on.

While a round runs, the browser session shows only the round: no caseload, no family page,
nobody's earlier answers. Leaving the round needs the therapist's password. The browser
session (a signed, not encrypted, cookie) holds only the ids of the round's links: no
names and no tokens, so the cookie on the passed-around device opens nothing by itself.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from familyalliance.services import errors, links
from familyalliance.services.accounts import verify_password
from familyalliance.store.db import db
from familyalliance.store.models import MemberLink, TherapySession
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
    """Start a round for a session: a fresh link for every attendee, kept in this browser only."""
    family = access.family_or_404(code)
    therapy_session = access.session_or_404(family, number)
    made = links.make_links(therapy_session)
    db.session.commit()
    session["round"] = {
        "session_id": therapy_session.id,
        "links": {str(link.member_id): link.id for link, _token in made},
    }
    return redirect(url_for("ratings.round_pick"))


def _link(current: dict, member_id: str) -> MemberLink | None:
    """The round's link for a member, if it is still of this round's session."""
    link_id = current["links"].get(member_id)
    link = db.session.get(MemberLink, link_id) if isinstance(link_id, int) else None
    return link if link is not None and link.session_id == current["session_id"] else None


@bp.get("/round/")
@access.roles(*access.FAMILY_ROLES)
def round_pick():
    """Who is next? The names of the attendees who have not answered yet, nothing else."""
    current = _round()
    if current is None:
        return redirect(url_for("caseload.show"))
    waiting = []
    for member_id in current["links"]:
        link = _link(current, member_id)
        if link is not None and links.state(link) == "open":
            waiting.append((member_id, link.member.display_name))
    return render_template("rounds/pick.html", waiting=sorted(waiting, key=lambda w: w[1]))


@bp.route("/round/<member_id>", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def round_answer(member_id: str):
    """One attendee's questionnaire; after sending, back to the list of names."""
    current = _round()
    link = _link(current, member_id) if current else None
    if link is None:
        abort(404)
    name = link.member.display_name
    if links.state(link) != "open":
        return redirect(url_for("ratings.round_pick"))
    instruments = installed_instruments()
    instrument = instruments[link.instrument]
    values = questionnaire.posted_answers(instrument)
    problems: dict[str, str] = {}
    if request.method == "POST":
        try:
            problems = questionnaire.send(link, values, instruments)
        except errors.OperationError:
            return redirect(url_for("ratings.round_pick"))
        if not problems:
            flash(_("Thank you, %(name)s. Please hand the device on.", name=name), "success")
            return redirect(url_for("ratings.round_pick"))
    context = questionnaire.page_context(link, instrument, values, problems)
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
