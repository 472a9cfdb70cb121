"""The questionnaire a member opens with a personal link: no login, nothing of the family shown."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import get_locale

from . import links, operations
from .extensions import db
from .registry import installed_instruments

bp = Blueprint("questionnaire", __name__)


@bp.route("/r/<token>", methods=["GET", "POST"])
def answer(token: str):
    """Show the link's questionnaire; store the answers once, all or none."""
    link, state = links.find(token)
    if state != "open":
        return render_template("questionnaire/closed.html", state=state), 404 if state == "unknown" else 410
    instruments = installed_instruments()
    instrument = instruments[link.instrument]
    if request.method == "POST":
        values = {item.code: request.form.get(item.code, "") for item in instrument.items}
    else:
        values = {item.code: "" for item in instrument.items} | links.draft_values(link)
    problems: dict[str, str] = {}
    if request.method == "POST":
        try:
            links.submit(link, values, instruments)
        except operations.AnswersRejected as exc:
            db.session.rollback()
            problems = {instrument.items[p.line - 1].code: p.message for p in exc.problems if p.line}
        except operations.OperationError:
            db.session.rollback()
            return render_template("questionnaire/closed.html", state="used"), 410
        else:
            db.session.commit()
            return render_template("questionnaire/thanks.html")
    language = str(get_locale())
    return render_template(
        "questionnaire/form.html",
        instrument=instrument,
        questions=[(item, item.text_for(language, link.target)) for item in instrument.items],
        anchors={value: label[language] for value, label in instrument.anchors},
        values=values,
        problems=problems,
        faces=link.member.role == "child",
    ), (422 if problems else 200)


@bp.post("/r/<token>/draft")
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
