"""The follow-up of a rupture: the therapist marks it discussed (a date) and keeps a short note.

Attached to the families blueprint (``/families/<code>/ruptures/...``): a page of one family,
so the audit log records every visit and every change (``web.audit``), without the note.
The page shows what the data say of the rupture (open, repaired, unrepaired) beside the form.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from familyalliance import config
from familyalliance.core import catalog, vocab
from familyalliance.core.codebook import DIMENSION_NAMES
from familyalliance.services import followups, reports
from familyalliance.services.errors import OperationError
from familyalliance.store.db import db
from familyalliance.web import access
from familyalliance.web.families.forms import RuptureFollowUpForm
from familyalliance.web.families.views import bp


@bp.route(
    "/<code>/ruptures/<member_code>/<int:number>/<informant>/<target>/<dimension>/follow-up", methods=["GET", "POST"]
)
@access.roles(*access.FAMILY_ROLES)
def rupture_follow_up(code: str, member_code: str, number: int, informant: str, target: str, dimension: str):
    """Mark a rupture as discussed with the family and keep a short note (both empty: remove the follow-up)."""
    family = access.family_or_404(code)
    if informant not in vocab.INFORMANTS or target not in vocab.TARGETS or dimension not in followups.DIMENSIONS:
        abort(404)
    member = next((m for m in family.members if m.code == member_code), None)
    if member is None:
        abort(404)
    session = access.session_or_404(family, number)
    key = (informant, target, dimension)
    existing = followups.find(family, member, session, *key)
    form = RuptureFollowUpForm(obj=existing)
    if not form.is_submitted() and existing is None:
        form.discussed_on.data = dt.date.today()  # a suggestion: most are marked on the day they were discussed
    if form.validate_on_submit():
        try:
            saved = followups.save(family, member, session, *key, form.discussed_on.data, form.note.data, current_user)
        except OperationError as exc:  # the form checks the same; this only guards against a gap between them
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("The follow-up was saved.") if saved else _("The follow-up was removed."), "success")
            return redirect(url_for("families.show", code=family.code, _anchor="ruptures"))
    language = str(get_locale())
    status = followups.rupture_status(family, member, session, *key, settings=config.analytics_settings(current_app))
    return render_template(
        "families/followup_form.html",
        form=form,
        family=family,
        member=member,
        session=session,
        informant=informant,
        target=target,
        dimension_name=catalog.gettext(DIMENSION_NAMES[dimension], language),
        status_label=catalog.gettext(reports.MARK_LABELS[f"rupture_{status}"], language) if status else None,
        existing=existing,
        max_length=followups.NOTE_MAX_LENGTH,
    ), (422 if form.errors else 200)
