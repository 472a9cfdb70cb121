"""Ratings of a session: its page (who attends, which questionnaire, the links), member links with QR
codes, and the grids for paper forms and the therapist's view. The tablet round (``rounds``) is
part of this blueprint too.
"""

from __future__ import annotations

import segno
import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from familyalliance.core import catalog, validation
from familyalliance.core.codebook import DIMENSION_NAMES
from familyalliance.core.instruments import Instrument
from familyalliance.services import invitations, mail, reports, requests, responses
from familyalliance.services.errors import OperationError
from familyalliance.store.db import db
from familyalliance.store.registry import installed_instruments
from familyalliance.web import access, audit, i18n

bp = Blueprint("ratings", __name__)


@bp.get("/families/<code>/sessions/<int:number>")
@access.roles(*access.FAMILY_ROLES)
def session_page(code: str, number: int):
    """A session: who attended, which questionnaire each fills in, and where each request stands."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    return _render_session(family, session)


def _render_session(family, session, **extra):
    """The session page, with ``extra`` for the template (the links just made)."""
    return render_template(
        "families/session.html",
        family=family,
        session=session,
        mail_on=mail.mail_configured(),
        **requests.session_page(session),
        **reports.safety(family, str(get_locale()), up_to=session.number),
        **extra,
    )


@bp.post("/families/<code>/sessions/<int:number>/links")
@access.roles(*access.FAMILY_ROLES)
def create_links(code: str, number: int):
    """Make a personal link (and QR code) for each attendee; the links are shown this once."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    made = requests.make_links(session)
    db.session.commit()
    fresh = []
    for questionnaire, token in made:
        url = url_for("questionnaire.answer", token=token, _external=True)
        fresh.append(
            {"member_id": questionnaire.member_id, "url": url, "qr": segno.make(url, error="m").svg_inline(scale=3)}
        )
    return _render_session(family, session, fresh=fresh)


@bp.post("/families/<code>/sessions/<int:number>/invite")
@access.roles(*access.FAMILY_ROLES)
def invite(code: str, number: int):
    """E-mail each attendee who can still answer a fresh link, in their language; say who got one and who not."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    try:
        outcome = invitations.invite(
            session, lambda token: url_for("questionnaire.answer", token=token, _external=True)
        )
    except mail.MailError:
        flash(
            _("E-mail is not set up for this installation. Make personal links and give them by hand or QR code."),
            "error",
        )
        return redirect(url_for("ratings.session_page", code=family.code, number=session.number))
    audit.record_now(
        "links.emailed",
        family=family,
        detail={"session": session.number, "sent": len(outcome.sent), "failed": len(outcome.failed)},
    )
    if outcome.sent:
        flash(_("Sent by e-mail to %(names)s.", names=", ".join(outcome.sent)), "success")
    for name, kind in outcome.failed:
        flash(
            _(
                "Not sent to %(name)s: %(reason)s. A link they got earlier still works.",
                name=name,
                reason=mail_problems().get(kind, mail_problems()["refused"]),
            ),
            "error",
        )
    if outcome.no_address:
        flash(
            _("No e-mail address for %(names)s: make a personal link for them.", names=", ".join(outcome.no_address)),
            "info",
        )
    if not (outcome.sent or outcome.failed or outcome.no_address):
        flash(_("Nobody is waiting for a link: everyone has answered."), "info")
    return redirect(url_for("ratings.session_page", code=family.code, number=session.number))


def mail_problems() -> dict[str, str]:
    """The reasons a message was not sent, worded for the therapist."""
    return {
        "invalid_address": _("the address is not a valid e-mail address"),
        "refused": _("the mail server refused it"),
        "unreachable": _("the mail server could not be reached"),
        "tls": _("the mail server's secure connection failed"),
        "authentication": _("the mail server did not accept the app's login"),
        "lost": _("the connection to the mail server was lost"),
        "not_configured": _("e-mail is not set up"),
    }


@bp.post("/families/<code>/sessions/<int:number>/requests/<int:request_id>/reopen")
@access.roles(*access.FAMILY_ROLES)
def reopen(code: str, number: int, request_id: int):
    """Let a member answer again (the earlier answers stay in the history as corrections)."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    found = next((r for r in requests.for_session(session) if r.id == request_id), None)
    if found is None:
        abort(404)
    try:
        requests.reopen(found, current_user)
    except OperationError:
        flash(_("This questionnaire is not answered yet."), "info")
    else:
        detail = {"session": session.number, "member": found.member.code, "instrument": found.instrument}
        audit.record("answers.reopened", family=family, detail=detail)
        db.session.commit()
        flash(_("%(name)s may answer again: make a link or start a round.", name=found.member.display_name), "success")
    return redirect(url_for("ratings.session_page", code=family.code, number=session.number))


@bp.route("/families/<code>/sessions/<int:number>/grid/<instrument_code>", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def grid(code: str, number: int, instrument_code: str):
    """One grid, members as rows and items as columns: paper forms typed in, or the therapist's view."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    instruments = installed_instruments()
    instrument = instruments.get(instrument_code)
    if instrument is None:
        abort(404)
    language = str(get_locale())
    names = {m.id: m.display_name for m in family.members}
    present = [a for a in session.attendance if a.present]
    if instrument.informant == "self":
        present = [a for a in present if a.instrument == instrument.code]
    rows = [(a.member_id, names[a.member_id]) for a in sorted(present, key=lambda a: names[a.member_id])]
    stored = responses.grid_answers(session, instrument)
    errors: dict = {}
    values = shown = stored
    status = 200
    if request.method == "POST":
        cells = [(m, item.code) for m, _ in rows for item in instrument.items]
        values = {(m, code): request.form.get(f"v-{m}-{code}", "").strip() for m, code in cells}
        shown = {(m, code): request.form.get(f"o-{m}-{code}", "").strip() for m, code in cells}
        try:
            added, corrected = requests.save_grid(session, instrument, values, current_user, instruments, shown)
        except responses.GridRejected as exc:
            db.session.rollback()
            errors, status = exc.messages(language), 422
        except (responses.GridConflict, sa.exc.IntegrityError) as exc:
            # Someone saved this grid at the same moment: show what is stored now beside what was typed.
            db.session.rollback()
            shown = responses.grid_answers(session, instrument)
            changed = (
                exc.conflicts
                if isinstance(exc, responses.GridConflict)
                else {cell: text for cell, text in shown.items() if text != values.get(cell, "")}
            )
            errors = {
                cell: _(
                    "Saved by someone else meanwhile as “%(value)s”. Check and send again.",
                    value=text or _("unanswered"),
                )
                for cell, text in changed.items()
            }
            status = 409
        else:
            db.session.commit()
            flash(
                _(
                    "%(instrument)s saved: %(added)s answers added, %(corrected)s corrected.",
                    instrument=instrument.name[language],
                    added=added,
                    corrected=corrected,
                ),
                "success",
            )
            return redirect(url_for("ratings.session_page", code=family.code, number=session.number))
    columns = grid_columns(instrument, language, session.target)
    return render_template(
        "families/grid.html",
        family=family,
        session=session,
        instrument=instrument,
        instrument_name=instrument.name[language],
        rows=rows,
        values=values,
        shown=shown,
        errors=errors,
        columns=columns,
        labels={column["code"]: column["label"] for column in columns},
        legend=[(validation.scale_number(instrument, value), label[language]) for value, label in instrument.anchors],
        scale=validation.scale_values(instrument),
        typing_messages={
            "outside": catalog.gettext(validation.OUTSIDE, language)
            % {"value": "{value}", **validation.scale_values(instrument)},
            "not_whole": catalog.gettext(validation.NOT_WHOLE_TYPED, language) % validation.scale_values(instrument),
        },
    ), status


def grid_columns(instrument: Instrument, language: str, target: str) -> list[dict]:
    """The grid's columns, one per item in the definition's order (the order of the paper form's numbers).

    Each has the item's ``number``, its dimension's ``name`` from the catalog, its ``question`` in
    ``language`` (without a leading "Name:" that repeats the dimension), and a ``label`` for messages.
    """
    columns = []
    for number, item in enumerate(instrument.items, start=1):
        name = catalog.gettext(DIMENSION_NAMES[item.dimension], language)
        question = item.text_for(language, target)
        if question.casefold().startswith(f"{name.casefold()}:"):
            question = question[len(name) + 1 :].strip()
            question = question[:1].upper() + question[1:]
        label = i18n.item_label(instrument, item.code, language)
        columns.append({"code": item.code, "number": number, "name": name, "question": question, "label": label})
    return columns
