"""A family's pages: the dashboard, the session report, and the forms for the family, its members and sessions.

Views stay thin: look the family up through the access policy, validate the form, call
a service, commit, redirect.
"""

from __future__ import annotations

import base64
import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from familyalliance.core import plan, vocab
from familyalliance.core.charts import render
from familyalliance.core.charts import tables as chart_tables
from familyalliance.services import casework, pagecache, pdf, reports, requests
from familyalliance.store.db import db
from familyalliance.store.models import (
    Family,
    TherapySession,
    User,
)
from familyalliance.store.registry import installed_instruments
from familyalliance.web import access
from familyalliance.web.families.forms import FamilyForm, MemberForm, SessionForm

bp = Blueprint("families", __name__, url_prefix="/families")


def _therapist_choices(team_id: int | None, assigned: list[User]) -> list[SelectChoice]:
    """Clinicians of the team (or oneself, without a team), plus anyone already assigned, as checkbox choices."""
    users = casework.assignable_therapists(team_id, current_user, assigned)
    return [SelectChoice(u.id, u.email) for u in users]


@bp.route("/new", methods=["GET", "POST"])
@access.roles(*access.CLINICAL_ROLES)
def new_family():
    """Open a new family; the creator is assigned to it."""
    form = FamilyForm()
    form.therapists.choices = _therapist_choices(current_user.team_id, [current_user])
    if not form.is_submitted():
        form.therapists.data = [current_user.id]
        form.start_date.data = dt.date.today()
    if form.validate_on_submit():
        family = casework.create_family(
            code=form.code.data,
            start_date=form.start_date.data,
            status=form.status.data,
            team=current_user.team,
            therapists=casework.accounts_by_id(form.therapists.data),
        )
        family.full_every = form.full_every.data if form.full_every.data is not None else plan.DEFAULT_FULL_EVERY
        db.session.commit()
        flash(_("Family %(code)s was opened.", code=family.code), "success")
        return redirect(url_for("families.show", code=family.code))
    return render_template("families/family_form.html", form=form, family=None)


@bp.get("/<code>")
@access.roles(*access.FAMILY_ROLES)
def show(code: str):
    """The family dashboard: charts of the alliance per member, prompts, members and sessions."""
    family = access.family_or_404(code)
    target = request.args.get("target", "therapist")
    if target not in vocab.TARGETS:
        abort(404)
    language = str(get_locale())
    latest, latest_requests = requests.latest_session_states(family.id)
    return render_template(
        "families/family.html",
        family=family,
        target=target,
        dashboard=_dashboard(family, language, target),
        locale=render.embed_locale(language),
        latest=latest,
        latest_requests=latest_requests,
    )


def _dashboard(family, language: str, target: str) -> Markup:
    """The family page below its header, from the page cache or rendered."""
    key = reports.cache_key(family, "dashboard", language, target)
    cache = pagecache.page_cache()
    html = cache.get(key)
    if html is None:
        html = Markup(render_template("families/_dashboard.html", **reports.dashboard(family, language, target)))
        cache.put(key, html)
    return html


def warm_dashboards(family_ids: list[int], url_root: str) -> None:
    """Render the dashboards of families that changed into the page cache, in every language and for every target
    their members rated, from one analysis per family (a task of ``services.refresher``, run after the commit)."""
    cache = pagecache.page_cache()
    for family_id in family_ids:
        family = db.session.get(Family, family_id)
        if family is None:  # erased since
            continue
        analysed = reports.analysis(family)  # read after the family's revision: never older than its key
        for target in reports.rated_targets(analysed):
            for language in current_app.config["LANGUAGES"]:
                key = reports.cache_key(family, "dashboard", language, target)
                if cache.get(key) is not None:
                    continue
                with current_app.test_request_context(base_url=url_root), force_locale(language):
                    shown = reports.dashboard(family, language, target, analysed)
                    cache.put(key, Markup(render_template("families/_dashboard.html", **shown)))


@bp.route("/<code>/edit", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def edit_family(code: str):
    """Change a family's case code, status, start date and therapists."""
    family = access.family_or_404(code)
    form = FamilyForm(obj=family, family=family)
    form.therapists.choices = _therapist_choices(family.team_id, family.therapists)
    if not form.is_submitted():
        form.therapists.data = [u.id for u in family.therapists]
    if form.validate_on_submit():
        casework.update_family(
            family,
            code=form.code.data,
            start_date=form.start_date.data,
            status=form.status.data,
            therapists=casework.accounts_by_id(form.therapists.data),
            full_every=form.full_every.data if form.full_every.data is not None else plan.DEFAULT_FULL_EVERY,
        )
        db.session.commit()
        flash(_("The family was saved."), "success")
        return redirect(url_for("families.show", code=family.code))
    return render_template("families/family_form.html", form=form, family=family)


MEMBER_FIELDS = ("code", "display_name", "role", "birth_year", "active_from", "active_to", "email", "language")


@bp.route("/<code>/members/new", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def new_member(code: str):
    """Add a member to the family."""
    family = access.family_or_404(code)
    form = MemberForm(family=family)
    if form.validate_on_submit():
        casework.add_member(family, **{name: form[name].data for name in MEMBER_FIELDS})
        db.session.commit()
        flash(_("The member was added."), "success")
        return redirect(url_for("families.show", code=family.code))
    return render_template("families/member_form.html", form=form, family=family, member=None)


@bp.route("/<code>/members/<member_code>/edit", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def edit_member(code: str, member_code: str):
    """Change a member's details."""
    family = access.family_or_404(code)
    member = next((m for m in family.members if m.code == member_code), None)
    if member is None:
        abort(404)
    form = MemberForm(obj=member, family=family, member=member)
    if form.validate_on_submit():
        casework.update_member(member, **{name: form[name].data for name in MEMBER_FIELDS})
        db.session.commit()
        flash(_("The member was saved."), "success")
        return redirect(url_for("families.show", code=family.code))
    return render_template("families/member_form.html", form=form, family=family, member=member)


def _session_form(family: Family, session: TherapySession | None) -> SessionForm:
    form = SessionForm(obj=session, family=family, session=session)
    form.attendance.choices = [SelectChoice(m.id, f"{m.display_name} ({m.code})") for m in family.members]
    if not form.is_submitted():
        if session is None:
            form.number.data = max((s.number for s in family.sessions), default=0) + 1
            form.date.data = dt.date.today()
            form.attendance.data = [m.id for m in family.members if _active_on(m, form.date.data)]
        else:
            form.attendance.data = [a.member_id for a in session.attendance if a.present]
    return form


def _active_on(member, day: dt.date) -> bool:
    return (member.active_from is None or member.active_from <= day) and (
        member.active_to is None or member.active_to >= day
    )


@bp.route("/<code>/sessions/new", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def new_session(code: str):
    """Record a session and who attended."""
    family = access.family_or_404(code)
    form = _session_form(family, None)
    if form.validate_on_submit():
        session = casework.record_session(
            family, form.number.data, form.date.data, form.attendance.data, target=form.target.data
        )
        db.session.commit()
        flash(_("Session %(number)s was saved.", number=session.number), "success")
        # On to the new session's page, where the links are made and the round starts.
        return redirect(url_for("ratings.session_page", code=family.code, number=session.number))
    return render_template("families/session_form.html", form=form, family=family, session=None)


@bp.route("/<code>/sessions/<int:number>/edit", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def edit_session(code: str, number: int):
    """Change a session's number, date or attendance."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    form = _session_form(family, session)
    if form.validate_on_submit():
        casework.record_session(
            family, form.number.data, form.date.data, form.attendance.data, session=session, target=form.target.data
        )
        db.session.commit()
        flash(_("Session %(number)s was saved.", number=session.number), "success")
        return redirect(url_for("families.show", code=family.code))
    return render_template("families/session_form.html", form=form, family=family, session=session)


def _report(code: str, number: int):
    """The family, session, language and session report behind the report's page and downloads."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    language = str(get_locale())
    return family, session, language, reports.session_report(family, session, language)


def _download(body, mimetype: str):
    """A rendered report file (personal data: ``security`` marks it ``no-store`` like every page)."""
    return current_app.response_class(body, mimetype=mimetype)


@bp.get("/<code>/sessions/<int:number>/report")
@access.roles(*access.FAMILY_ROLES)
def session_report(code: str, number: int):
    """A printable report of one session: the charts up to it (as SVG), the members' and your views, prompts."""
    family, session, _language, report = _report(code, number)
    return _render_report(family, session, report)


def _render_report(family, session, report, **extra) -> str:
    """The report page (``extra``: ``for_pdf`` and the charts' ``chart_uris`` for the PDF)."""
    return render_template(
        "families/report.html",
        family=family,
        session=session,
        report=report,
        present=[a.member.display_name for a in session.attendance if a.present],
        dimensions=chart_tables.dimension_order(),
        **extra,
    )


@bp.get("/<code>/sessions/<int:number>/report/<any(lines, heat, views, balance, gap):chart>.svg")
@access.roles(*access.FAMILY_ROLES)
def session_report_chart(code: str, number: int, chart: str):
    """One chart of the session report, rendered to SVG on the server."""
    _family, _session, language, report = _report(code, number)
    spec = report["specs"].get(chart)
    if spec is None:
        abort(404)
    return _download(render.to_svg(spec, language), "image/svg+xml")


@bp.get("/<code>/sessions/<int:number>/report.pdf")
@access.roles(*access.FAMILY_ROLES)
def session_report_pdf(code: str, number: int):
    """The session report as A4 pages, for supervision and the case file: the report page itself, for print.

    The same template as the page (one source of content), with the charts inline as SVG ``data:``
    URIs instead of links; the print stylesheet leaves the navigation out and ``services.pdf`` lays it out.
    """
    family, session, language, report = _report(code, number)
    chart_uris = {
        name: "data:image/svg+xml;base64," + base64.b64encode(render.to_svg(spec, language).encode()).decode("ascii")
        for name, spec in report["specs"].items()
    }
    html = _render_report(family, session, report, for_pdf=True, chart_uris=chart_uris)
    response = _download(pdf.html_to_pdf(html, request.url_root), "application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{family.code}-session-{session.number}.pdf"'
    return response


@bp.get("/<code>/sessions/<int:number>/paper.pdf")
@access.roles(*access.FAMILY_ROLES)
def paper_forms(code: str, number: int):
    """Paper forms for a session, as A4 pages: each attendee's questionnaire with their name, in their language.

    One form (a page, or more for a long questionnaire) per member with a questionnaire request at the
    session, in the order the paper grids list them (per questionnaire, members by name; items in the
    definition's order), so the therapist types them in one grid after the other.
    """
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    html = render_template(
        "families/paper_form.html",
        family=family,
        session=session,
        forms=_paper_forms(family, session, str(get_locale())),
        in_language=_in_language,
    )
    response = _download(pdf.html_to_pdf(html, request.url_root), "application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{family.code}-session-{session.number}-paper-forms.pdf"'
    )
    return response


def _paper_forms(family: Family, session: TherapySession, language: str) -> list[dict]:
    """What each paper form shows: the member, their language, the questionnaire, its anchors and questions.

    A member's own language (``Member.language``) wins over the page's; a request no longer asked
    (withdrawn) and the therapist's own ratings get no form.
    """
    instruments = installed_instruments()
    members = {m.id: m for m in family.members}
    forms = []
    for questionnaire in requests.for_session(session):
        instrument = instruments.get(questionnaire.instrument)
        if instrument is None or instrument.informant != "self" or requests.state(questionnaire) == "withdrawn":
            continue
        member = members[questionnaire.member_id]
        member_language = member.language or language
        forms.append(
            {
                "member": member,
                "language": member_language,
                "instrument": instrument,
                "name": instrument.name[member_language],
                "anchors": {value: label[member_language] for value, label in instrument.anchors},
                "questions": [
                    (item, item.text_for(member_language, questionnaire.target)) for item in instrument.items
                ],
            }
        )
    return sorted(forms, key=lambda f: (f["instrument"].code, f["member"].display_name))


def _in_language(language: str, macro, *args) -> Markup:
    """Call a template macro with ``language`` as the locale, so its texts and dates are in that language."""
    with force_locale(language):
        return Markup(macro(*args))
