"""The questionnaire a member opens with a personal link: no login, nothing of the family shown.

Every send is answered: a thank-you when the answers are stored, else the reason in the
member's language (already answered, a newer link was sent, too old, no longer asked).
"""

from __future__ import annotations

import itertools

from flask import Blueprint, current_app, g, render_template, request
from flask_babel import get_locale

from familyalliance.services import requests
from familyalliance.services.responses import AnswersRejected
from familyalliance.store.db import db
from familyalliance.store.registry import installed_instruments
from familyalliance.web import access, audit
from familyalliance.web.extensions import limiter

bp = Blueprint("questionnaire", __name__)


def posted_answers(instrument) -> dict[str, str]:
    """The answers sent with the form: item code -> text (empty: unanswered)."""
    return {item.code: request.form.get(item.code, "") for item in instrument.items}


def send(questionnaire, values: dict[str, str], instruments, mode: str) -> dict[str, str]:
    """Store a request's answers; returns {item: problem} (empty when stored).

    Raises requests.RequestClosed (nothing stored) with the reason the member is shown, when the
    request was answered meanwhile, withdrawn, or is past its link's date.
    """
    try:
        requests.submit(questionnaire, values, instruments, mode)
    except AnswersRejected as exc:
        db.session.rollback()
        items = instruments[questionnaire.instrument].items
        return {items[p.line - 1].code: p.text(str(get_locale())) for p in exc.problems if p.line}
    except requests.RequestClosed:
        db.session.rollback()
        raise
    detail = {
        "session": questionnaire.session.number,
        "member": questionnaire.member.code,
        "instrument": questionnaire.instrument,
        "mode": mode,
    }
    audit.record("answers.submitted", family=questionnaire.session.family, detail=detail)
    db.session.commit()
    return {}


#: A questionnaire of more questions than this is shown in parts, one dimension at a time.
PAGED_FROM = 4


def answer_steps(instrument, child: bool) -> list[int]:
    """The values a member can tap: every point of the scale; for a child, a longer scale in five steps.

    The five steps are the quarters of the scale, rounded half to even and mirrored so that they stay
    symmetric: 0..10 becomes 0, 2, 5, 8, 10 (docs/instruments.md, "A child's answer").
    """
    low, high = instrument.scale_min, instrument.scale_max
    if not child or instrument.scale_points <= 5:
        return list(range(low, high + 1))
    quarter = round((high - low) / 4)
    return sorted({low, low + quarter, round((low + high) / 2), high - quarter, high})


def page_context(questionnaire, instrument, values: dict[str, str], problems: dict[str, str]) -> dict:
    """What the questions partial needs, worded in the current language."""
    language = str(get_locale())
    child = questionnaire.member.role == "child"
    questions = [(item, item.text_for(language, questionnaire.target)) for item in instrument.items]
    numbered = [(number, item, text) for number, (item, text) in enumerate(questions, start=1)]
    return {
        "instrument": instrument,
        "questions": questions,
        # A long questionnaire in parts: its runs of questions on one dimension, in the definition's order
        # (the numbers stay those of the paper form).
        "parts": [
            (dimension, list(run))
            for dimension, run in itertools.groupby(numbered, key=lambda question: question[1].dimension)
        ]
        if len(questions) > PAGED_FROM
        else [],
        "anchors": {value: label[language] for value, label in instrument.anchors},
        "values": values,
        "problems": problems,
        "faces": child,
        "steps": answer_steps(instrument, child),
    }


def closed(reason: str):
    """The page that says why a link or a send cannot be used (404 for an unknown link, else 410)."""
    return render_template("questionnaire/closed.html", state=reason), 404 if reason == requests.UNKNOWN else 410


def _link_limit() -> str:
    return current_app.config["LINK_RATE_LIMIT"]


def _unknown(response) -> bool:
    """Only tries with an unknown token count towards the limit."""
    return response.status_code == 404


def _found(token: str):
    """``requests.find`` once per request: the limit's check and the view read the same link.

    Kept on ``g``, which also holds the objects: the session's identity map holds them only weakly,
    so a second ``find`` would read the link again.
    """
    found = g.get("link_found")
    if found is None or found[0] != token:
        found = g.link_found = (token, *requests.find(token))
    return found[1], found[2]


def _known_token() -> bool:
    """A link that exists (open, answered, expired, ...) is never refused by the limit: a family on one wifi shares
    an address, and one member's mistyped links must not lock the others out."""
    token = (request.view_args or {}).get("token", "")
    return _found(token)[1] != requests.UNKNOWN


#: One budget of unknown tokens per address for the questionnaire page and its drafts together.
_link_attempts = limiter.shared_limit(_link_limit, scope="member-links", deduct_when=_unknown, exempt_when=_known_token)


@bp.route("/r/<token>", methods=["GET", "POST"])
@access.public
@_link_attempts
def answer(token: str):
    """Show the link's questionnaire; store the answers once, all or none (public: the token is the key)."""
    questionnaire, state = _found(token)
    if state not in ("open", "in_progress"):
        return closed(state)
    instruments = installed_instruments()
    instrument = instruments[questionnaire.instrument]
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = posted_answers(instrument)
        try:
            problems = send(questionnaire, values, instruments, "link")
        except requests.RequestClosed as exc:
            return closed(exc.reason)
        if not problems:
            return render_template("questionnaire/thanks.html")
    else:
        values = {item.code: "" for item in instrument.items} | requests.draft_values(questionnaire)
    context = page_context(questionnaire, instrument, values, problems)
    return render_template("questionnaire/form.html", **context), (422 if problems else 200)


@bp.post("/r/<token>/draft")
@access.public
@_link_attempts
def save_draft(token: str):
    """Keep the answers given so far (JSON: item code -> value), so a closed tab loses nothing."""
    questionnaire, state = _found(token)
    if state not in ("open", "in_progress"):
        return {"saved": False, "state": state}, 404 if state == requests.UNKNOWN else 410
    answers = request.get_json(silent=True)
    if not isinstance(answers, dict):
        return {"saved": False, "error": "send a JSON object of item codes and values"}, 400
    problems = requests.save_draft(questionnaire, answers, installed_instruments())
    db.session.commit()
    return {"saved": not problems, "problems": problems}, (422 if problems else 200)
