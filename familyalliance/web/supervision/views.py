"""The alliance profile (metrics.md section 11): a therapist's own beside the team's, for reflection and supervision.

- ``/profile/``: a therapist's own profile; a team lead's overview of the team and each of its
  therapists (alphabetical, never ranked);
- ``/profile/<id>``: one account's profile with the supervision notes, for that account and its team lead;
  anyone else gets 404, as for an account that does not exist;
- ``/profile/<id>/notes``: keep a note.

Every view (refused ones included) is in the audit log, without clinical content.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from jinja2.utils import htmlsafe_json_dumps

from familyalliance.core import analytics, catalog
from familyalliance.core.catalog import N_
from familyalliance.core.charts import builders, render
from familyalliance.core.charts import profiles as profile_charts
from familyalliance.services import privacy, profiles
from familyalliance.store.db import db
from familyalliance.web import access, audit
from familyalliance.web.supervision.forms import NoteForm, PeriodForm

bp = Blueprint("supervision", __name__, url_prefix="/profile")

ROLES = ("therapist", "team_lead")

MEASURE_LABELS = {
    "families": N_("Families"),
    "sessions": N_("Family sessions"),
    "split_share": N_("Sessions with a split"),
    "mean_balance": N_("Mean balance (0-100)"),
    "mean_pomp": N_("Members' mean score (0-100)"),
    "ruptures": N_("Ruptures"),
    "repaired_share": N_("Ruptures repaired"),
    "mean_abs_gap": N_("Mean difference between your view and the members' (points)"),
}
GROUP_LABELS = {"all": N_("All members"), "caregiver": N_("Parents and carers"), "young": N_("Young members")}


def _period() -> tuple[PeriodForm, dt.date, dt.date, bool]:
    """The period asked for (default: the last 182 days up to today), and whether it is valid."""
    form = PeriodForm(request.args)
    today = dt.date.today()
    default_start, default_end = analytics.default_period(today)
    valid = form.validate() if request.args else True
    if not valid:
        return form, default_start, default_end, False
    end = form.end.data or today
    start = form.start.data or (end - (default_end - default_start))
    if form.start.data is None:
        form.start.data = start
    if form.end.data is None:
        form.end.data = end
    if start > end:
        form.end.errors = list(form.end.errors) + [_("The end of the period cannot be before its start.")]
        return form, default_start, default_end, False
    return form, start, end, True


def _history(profile: profiles.Profile, owner, team, language: str, own: bool = False) -> tuple[str | None, dict]:
    """The quarterly chart's spec (safe JSON) and its table (measure -> period -> (own, team))."""
    table = profile_charts.history_table(profile.quarters, owner, team)
    periods = list(dict.fromkeys(profile.quarters["period"].tolist()))
    rows: dict = {}
    for r in table.itertuples(index=False):
        rows.setdefault(r.measure, {}).setdefault(r.period, {})[r.whose] = r.value
    if table.empty:
        return None, {"periods": periods, "rows": rows}
    chart = profile_charts.profile_history(table, periods, profile_charts.history_texts(language, own))
    return htmlsafe_json_dumps(builders.spec(chart)), {"periods": periods, "rows": rows}


def _common(language: str) -> dict:
    gettext = catalog.translations(language).gettext
    texts = profile_charts.history_texts(language)
    return {
        "measures": {k: gettext(v) for k, v in MEASURE_LABELS.items()},
        "groups": {k: gettext(v) for k, v in GROUP_LABELS.items()},
        "history_measures": {m: texts[f"measure_{m}"] for m in profile_charts.HISTORY_MEASURES},
        "locale": render.embed_locale(language),
    }


@bp.get("/")
@access.roles(*ROLES)
def mine():
    """A therapist's own profile; for a team lead, the overview of the team's therapists."""
    if current_user.role == "team_lead":
        return _team_overview()
    return _show(current_user.id)


@bp.get("/<int:user_id>")
@access.roles(*ROLES)
def profile(user_id: int):
    """One account's profile with its notes (the account itself, or its team lead)."""
    return _show(user_id)


def _show(user_id: int):
    account = profiles.visible_account(current_user, user_id)
    if account is None:
        audit.record_now("profile.view", detail={"account": user_id}, status=404)
        abort(404)
    form, start, end, valid = _period()
    audit.record_now(
        "profile.view",
        detail={"account": user_id, "start": start.isoformat(), "end": end.isoformat()},
        status=200 if valid else 400,
    )
    account = profiles.visible_account(current_user, user_id)  # read again after the audit's commit
    return _render(account, form, start, end, valid, NoteForm(), 200 if valid else 400)


def _render(account, form: PeriodForm, start: dt.date, end: dt.date, valid: bool, note_form: NoteForm, status: int):
    """The profile page of ``account`` over the period, with its notes and the note form."""
    language = str(get_locale())
    team = profiles.TEAM if account.team_id is not None else None
    result = profiles.profiles([account], account.team_id, start, end, dt.date.today())
    spec, history = _history(result, account.id, team, language, own=account.id == current_user.id)
    return render_template(
        "supervision/profile.html",
        account=account,
        own=account.id == current_user.id,
        form=form,
        valid=valid,
        profile=result,
        mine=result.of(account.id),
        team=result.of(team) if team else None,
        empty=result.empty(account.id),
        spec=spec,
        history=history,
        notes=profiles.notes(account),
        note_form=note_form,
        **_common(language),
    ), status


def _team_overview():
    form, start, end, valid = _period()
    language = str(get_locale())
    audit.record_now(
        "profile.team_view", detail={"start": start.isoformat(), "end": end.isoformat()}, status=200 if valid else 400
    )
    lead = current_user
    therapists = profiles.team_therapists(lead)
    result = profiles.profiles(therapists, lead.team_id, start, end, dt.date.today())
    return render_template(
        "supervision/team.html",
        form=form,
        valid=valid,
        profile=result,
        therapists=therapists,
        team=result.of(profiles.TEAM) if lead.team_id is not None else None,
        **_common(language),
    ), (200 if valid else 400)


@bp.post("/<int:user_id>/notes")
@access.roles(*ROLES)
def add_note(user_id: int):
    """Keep a short dated reflection note on a profile (its therapist or their team lead)."""
    account = profiles.visible_account(current_user, user_id)
    if account is None:
        audit.record_now("profile.note", detail={"account": user_id}, status=404)
        abort(404)
    form = NoteForm()
    if form.validate_on_submit():
        profiles.add_note(account, current_user, form.text.data)
        audit.record("profile.note", detail={"account": user_id}, status=303)
        db.session.commit()
        flash(_("The note was kept."), "success")
        return redirect(url_for("supervision.profile", user_id=user_id, _anchor="notes"), 303)
    audit.record_now("profile.note", detail={"account": user_id}, status=422)
    account = profiles.visible_account(current_user, user_id)
    start, end = analytics.default_period(dt.date.today())
    return _render(account, PeriodForm(data={"start": start, "end": end}), start, end, True, form, 422)


@bp.post("/notes/erase")
@access.roles("team_lead", "admin")
def erase_notes():
    """Erase the supervision notes past the retention period (``RETENTION_YEARS``), from the retention page."""
    cutoff = privacy.retention_cutoff(current_app.config["RETENTION_YEARS"])
    count = privacy.erase_notes_past_retention(current_user, cutoff)
    audit.record("supervision_notes.erased", detail={"notes": count, "cutoff": cutoff.isoformat()})
    db.session.commit()
    flash(ngettext("%(num)d supervision note was erased.", "%(num)d supervision notes were erased.", count), "success")
    return redirect(url_for("admin.retention"), 303)
