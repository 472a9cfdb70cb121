"""The questionnaire a member opens with a personal link: no login, nothing of the family shown."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import get_locale

from familyalliance.services import errors, links, responses
from familyalliance.store.db import db
from familyalliance.store.registry import installed_instruments
from familyalliance.web import access, audit
from familyalliance.web.extensions import limiter

bp = Blueprint("questionnaire", __name__)


def posted_answers(instrument) -> dict[str, str]:
    """The answers sent with the form: item code -> text (empty: unanswered)."""
    return {item.code: request.form.get(item.code, "") for item in instrument.items}


def send(link, values: dict[str, str], instruments) -> dict[str, str]:
    """Store a questionnaire's answers and close its link; returns {item: problem} (empty when stored).

    Raises errors.OperationError when the link was used in the meantime, or its questionnaire
    was answered through another link (which closes this one).
    """
    try:
        links.submit(link, values, instruments)
    except responses.AnswersRejected as exc:
        db.session.rollback()
        items = instruments[link.instrument].items
        return {items[p.line - 1].code: p.message for p in exc.problems if p.line}
    except links.AlreadyAnswered:
        db.session.rollback()
        links.close(link)
        db.session.commit()
        raise
    except errors.OperationError:
        db.session.rollback()
        raise
    detail = {"session": link.session.number, "member": link.member.code, "instrument": link.instrument}
    audit.record("answers.submitted", family=link.session.family, detail=detail)
    db.session.commit()
    return {}


def page_context(link, instrument, values: dict[str, str], problems: dict[str, str]) -> dict:
    """What the questions partial needs, worded in the current language."""
    language = str(get_locale())
    return {
        "instrument": instrument,
        "questions": [(item, item.text_for(language, link.target)) for item in instrument.items],
        "anchors": {value: label[language] for value, label in instrument.anchors},
        "values": values,
        "problems": problems,
        "faces": link.member.role == "child",
    }


def _link_limit() -> str:
    return current_app.config["LINK_RATE_LIMIT"]


def _unknown(response) -> bool:
    """Only tries with an unknown token count towards the limit (a family on one wifi shares an address)."""
    return response.status_code == 404


#: One budget of unknown tokens per address for the questionnaire page and its drafts together.
_link_attempts = limiter.shared_limit(_link_limit, scope="member-links", deduct_when=_unknown)


@bp.route("/r/<token>", methods=["GET", "POST"])
@access.public
@_link_attempts
def answer(token: str):
    """Show the link's questionnaire; store the answers once, all or none (public: the token is the key)."""
    link, state = links.find(token)
    if state != "open":
        return render_template("questionnaire/closed.html", state=state), 404 if state == "unknown" else 410
    instruments = installed_instruments()
    instrument = instruments[link.instrument]
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = posted_answers(instrument)
        try:
            problems = send(link, values, instruments)
        except errors.OperationError:
            return render_template("questionnaire/closed.html", state="used"), 410
        if not problems:
            return render_template("questionnaire/thanks.html")
    else:
        values = {item.code: "" for item in instrument.items} | links.draft_values(link)
    context = page_context(link, instrument, values, problems)
    return render_template("questionnaire/form.html", **context), (422 if problems else 200)


@bp.post("/r/<token>/draft")
@access.public
@_link_attempts
def save_draft(token: str):
    """Keep the answers given so far (JSON: item code -> value), so a closed tab loses nothing."""
    link, state = links.find(token)
    if state != "open":
        return {"saved": False, "state": state}, 404 if state == "unknown" else 410
    answers = request.get_json(silent=True)
    if not isinstance(answers, dict):
        return {"saved": False, "error": "send a JSON object of item codes and values"}, 400
    problems = links.save_draft(link, answers, installed_instruments())
    db.session.commit()
    return {"saved": not problems, "problems": problems}, (422 if problems else 200)
