"""The caseload, the family page, and the forms for families, members and sessions.

Views stay thin: look the family up through the access policy, validate the form, call
an operation, commit, redirect.
"""

from __future__ import annotations

import datetime as dt

import segno
import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from . import access, charts, config, dashboard, links, operations, plan, prompts, reports, summaries, vega, vocab
from .extensions import begin_write, db
from .forms import STATUS_LABELS, CaseloadFilterForm, FamilyForm, MemberForm, SessionForm, role_label
from .models import (
    Family,
    FamilySummary,
    Member,
    MemberLink,
    Response,
    ResponseChange,
    Team,
    TherapySession,
    User,
    family_therapist,
)
from .registry import installed_instruments

bp = Blueprint("families", __name__, url_prefix="/families")


@access.roles(*access.ANY_ROLE)
def index():
    """The start page: the caseload, or for a researcher the exports and for an admin the accounts."""
    return redirect(url_for(access.home(current_user)))


@bp.app_context_processor
def labels() -> dict:
    """Translated names of member roles and family statuses, for templates."""
    return {"role_label": role_label, "status_label": lambda status: str(STATUS_LABELS[status])}


#: Families per caseload page.
PAGE_SIZE = 25


@bp.get("/")
@access.roles(*access.FAMILY_ROLES)
def caseload():
    """The families the user may see, most concern first, with the reasons, filters and pages.

    Reads the stored summaries (refreshing those whose family changed), so one page takes
    the same handful of queries for ten families or two thousand. The rendered list is kept
    per process while none of the visible families changed (their count, ids and revisions).
    """
    visible = access.visible_families(current_user)
    settings = config.analytics_settings(current_app)
    key = summaries.settings_key(settings, installed_instruments())
    language = str(get_locale())
    ids = visible.with_only_columns(Family.id).scalar_subquery()
    version = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(Family.revision), 0),
            sa.func.coalesce(sa.func.sum(Family.id), 0),
        ).where(Family.id.in_(ids))
    ).one()
    cache_key = (
        "caseload",
        current_user.id,
        current_user.role,
        current_user.team_id,
        language,
        key,
        tuple(version),
        tuple(sorted(request.args.items(multi=True))),
    )
    body = reports.page_cache().get(cache_key)
    if body is None:
        body, status = _caseload_body(visible, ids, settings, key, language)
        if status != 200:
            return render_template("families/caseload.html", body=body), status
        reports.page_cache().put(cache_key, body)
    return render_template("families/caseload.html", body=body)


def _caseload_body(visible, ids, settings, key: str, language: str) -> tuple[Markup, int]:
    """The caseload's filters, table and pages, rendered; with 400 when a filter value is not valid."""
    stale = summaries.stale_families(visible, key)
    if stale:
        begin_write()  # read the answers and store the summaries in one writing transaction
        summaries.refresh(stale, settings, key)
        db.session.commit()
    form = CaseloadFilterForm(request.args)
    form.set_choices(
        db.session.execute(
            sa.select(Team.id, Team.name).join(Family).where(Family.id.in_(ids)).distinct().order_by(Team.name)
        ).all(),
        db.session.execute(
            sa.select(User.id, User.email)
            .join(family_therapist)
            .where(family_therapist.c.family_id.in_(ids))
            .distinct()
            .order_by(User.email)
        ).all(),
    )
    if request.args and not form.validate():
        return Markup(render_template("families/_caseload_body.html", form=form, page=None)), 400
    query = (
        visible.join(FamilySummary, FamilySummary.family_id == Family.id)
        .options(
            sa.orm.contains_eager(Family.summary),
            sa.orm.selectinload(Family.therapists),
            sa.orm.selectinload(Family.team),
        )
        .order_by(FamilySummary.concern.desc(), Family.code)
    )
    if form.team.data is not None:
        query = query.where(Family.team_id == form.team.data)
    if form.therapist.data is not None:
        query = query.where(Family.therapists.any(User.id == form.therapist.data))
    if form.status.data:
        query = query.where(Family.status == form.status.data)
    if form.flag.data:
        query = query.where(getattr(FamilySummary, f"flag_{form.flag.data}").is_(True))
    page = db.paginate(query, page=form.page.data or 1, per_page=PAGE_SIZE, error_out=False, count=True)
    shown = [f.id for f in page.items]
    names: dict[int, dict[str, str]] = {}
    for family_id, member_code, name in db.session.execute(
        sa.select(Member.family_id, Member.code, Member.display_name).where(Member.family_id.in_(shown))
    ):
        names.setdefault(family_id, {})[member_code] = name
    rows = [
        {
            "family": f,
            "reasons": [prompts.render_reason(r, language, names.get(f.id, {})) for r in f.summary.reasons],
            "sparkline": charts.sparkline([b for _, b in f.summary.balance]),
            "balance": [(int(s), round(b)) for s, b in f.summary.balance],
        }
        for f in page.items
    ]
    html = render_template(
        "families/_caseload_body.html",
        form=form,
        page=page,
        rows=rows,
        stats=_family_counts(shown),
        filters={k: v for k, v in request.args.items() if k in ("team", "therapist", "status", "flag") and v},
    )
    return Markup(html), 200


def _family_counts(family_ids: list[int]) -> dict[int, dict]:
    """Members, sessions and latest session date per family, in two grouped queries."""
    stats = {fid: {"members": 0, "sessions": 0, "last_session": None} for fid in family_ids}
    if not family_ids:
        return stats
    for fid, n in db.session.execute(
        sa.select(Member.family_id, sa.func.count()).where(Member.family_id.in_(family_ids)).group_by(Member.family_id)
    ):
        stats[fid]["members"] = n
    for fid, n, last in db.session.execute(
        sa.select(TherapySession.family_id, sa.func.count(), sa.func.max(TherapySession.date))
        .where(TherapySession.family_id.in_(family_ids))
        .group_by(TherapySession.family_id)
    ):
        stats[fid]["sessions"] = n
        stats[fid]["last_session"] = last
    return stats


def _therapist_choices(team_id: int | None, assigned: list[User]) -> list[SelectChoice]:
    """Clinicians of the team, plus anyone already assigned, as checkbox choices."""
    query = sa.select(User).where(User.role.in_(access.CLINICAL_ROLES), User.active.is_(True))
    query = query.where(User.team_id == team_id) if team_id is not None else query.where(User.id == current_user.id)
    users = {u.id: u for u in db.session.scalars(query)}
    users.update({u.id: u for u in assigned})
    return [SelectChoice(u.id, u.email) for u in sorted(users.values(), key=lambda u: u.email)]


def _users(ids: list[int]) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.id.in_(ids)))) if ids else []


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
        family = operations.create_family(
            code=form.code.data,
            start_date=form.start_date.data,
            status=form.status.data,
            team=current_user.team,
            therapists=_users(form.therapists.data),
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
    return render_template(
        "families/family.html",
        family=family,
        target=target,
        dashboard=reports.dashboard_html(family, language, target),
        locale=vega.embed_locale(language),
    )


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
        operations.update_family(
            family,
            code=form.code.data,
            start_date=form.start_date.data,
            status=form.status.data,
            therapists=_users(form.therapists.data),
            full_every=form.full_every.data if form.full_every.data is not None else plan.DEFAULT_FULL_EVERY,
        )
        db.session.commit()
        flash(_("The family was saved."), "success")
        return redirect(url_for("families.show", code=family.code))
    return render_template("families/family_form.html", form=form, family=family)


MEMBER_FIELDS = ("code", "display_name", "role", "birth_year", "active_from", "active_to")


@bp.route("/<code>/members/new", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def new_member(code: str):
    """Add a member to the family."""
    family = access.family_or_404(code)
    form = MemberForm(family=family)
    if form.validate_on_submit():
        operations.add_member(family, **{name: form[name].data for name in MEMBER_FIELDS})
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
        operations.update_member(member, **{name: form[name].data for name in MEMBER_FIELDS})
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
        session = operations.record_session(
            family, form.number.data, form.date.data, form.attendance.data, target=form.target.data
        )
        db.session.commit()
        flash(_("Session %(number)s was saved.", number=session.number), "success")
        return redirect(url_for("families.show", code=family.code))
    return render_template("families/session_form.html", form=form, family=family, session=None)


@bp.route("/<code>/sessions/<int:number>/edit", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def edit_session(code: str, number: int):
    """Change a session's number, date or attendance."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    form = _session_form(family, session)
    if form.validate_on_submit():
        operations.record_session(
            family, form.number.data, form.date.data, form.attendance.data, session=session, target=form.target.data
        )
        db.session.commit()
        flash(_("Session %(number)s was saved.", number=session.number), "success")
        return redirect(url_for("families.show", code=family.code))
    return render_template("families/session_form.html", form=form, family=family, session=session)


@bp.get("/<code>/sessions/<int:number>")
@access.roles(*access.FAMILY_ROLES)
def show_session(code: str, number: int):
    """A session: who attended, which questionnaire each fills in, and their links."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    return render_template("families/session.html", family=family, session=session, **_session_links(session))


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
    present = [a.member.display_name for a in session.attendance if a.present]
    return render_template(
        "families/report.html",
        family=family,
        session=session,
        report=report,
        present=present,
        dimensions=dashboard.dimension_order(),
    )


@bp.get("/<code>/sessions/<int:number>/report/<any(lines, heat, views):chart>.svg")
@access.roles(*access.FAMILY_ROLES)
def session_report_chart(code: str, number: int, chart: str):
    """One chart of the session report, rendered to SVG on the server."""
    _family, _session, language, report = _report(code, number)
    spec = report["specs"].get(chart)
    if spec is None:
        abort(404)
    return _download(vega.to_svg(spec, language), "image/svg+xml")


@bp.get("/<code>/sessions/<int:number>/report.pdf")
@access.roles(*access.FAMILY_ROLES)
def session_report_pdf(code: str, number: int):
    """The session report's charts as one PDF, for supervision and the case file."""
    family, session, language, report = _report(code, number)
    if report["pdf_spec"] is None:
        abort(404)
    response = _download(vega.to_pdf(report["pdf_spec"], language), "application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{family.code}-session-{session.number}.pdf"'
    return response


@bp.post("/<code>/sessions/<int:number>/links")
@access.roles(*access.FAMILY_ROLES)
def create_links(code: str, number: int):
    """Make a personal link (and QR code) for each attendee; the links are shown this once."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    made = links.create_links(session, current_app.config["MEMBER_LINK_DAYS"])
    db.session.commit()
    fresh = []
    for link, token in made:
        url = url_for("questionnaire.answer", token=token, _external=True)
        fresh.append({"member_id": link.member_id, "url": url, "qr": segno.make(url, error="m").svg_inline(scale=3)})
    return render_template(
        "families/session.html", family=family, session=session, fresh=fresh, **_session_links(session)
    )


def _session_links(session: TherapySession) -> dict:
    """Each member's newest link state for the session page."""
    newest: dict[int, MemberLink] = {}
    for link in db.session.scalars(
        sa.select(MemberLink).where(MemberLink.session_id == session.id).order_by(MemberLink.created_at)
    ):
        newest[link.member_id] = link
    changes = db.session.scalars(
        sa.select(ResponseChange).where(ResponseChange.session_id == session.id).order_by(ResponseChange.changed_at)
    ).all()
    planned = sorted({a.instrument for a in session.attendance if a.present and a.instrument})
    return {"link_state": {m: links.state(link) for m, link in newest.items()}, "changes": changes, "planned": planned}


@bp.route("/<code>/sessions/<int:number>/grid/<instrument_code>", methods=["GET", "POST"])
@access.roles(*access.FAMILY_ROLES)
def grid(code: str, number: int, instrument_code: str):
    """One grid, members as rows and items as columns: paper forms typed in, or the therapist's view."""
    family = access.family_or_404(code)
    session = access.session_or_404(family, number)
    instruments = installed_instruments()
    instrument = instruments.get(instrument_code)
    if instrument is None:
        abort(404)
    names = {m.id: m.display_name for m in family.members}
    present = [a for a in session.attendance if a.present]
    if instrument.informant == "self":
        present = [a for a in present if a.instrument == instrument.code]
    rows = [(a.member_id, names[a.member_id]) for a in sorted(present, key=lambda a: names[a.member_id])]
    stored = _grid_answers(family, session, instrument)
    errors: dict = {}
    values = shown = stored
    status = 200
    if request.method == "POST":
        cells = [(m, item.code) for m, _ in rows for item in instrument.items]
        values = {(m, code): request.form.get(f"v-{m}-{code}", "").strip() for m, code in cells}
        shown = {(m, code): request.form.get(f"o-{m}-{code}", "").strip() for m, code in cells}
        try:
            added, corrected = operations.save_grid(session, instrument, values, current_user, instruments, shown)
        except operations.GridRejected as exc:
            db.session.rollback()
            errors, status = exc.errors, 422
        except (operations.GridConflict, sa.exc.IntegrityError) as exc:
            # Someone saved this grid at the same moment: show what is stored now beside what was typed.
            db.session.rollback()
            shown = _grid_answers(family, session, instrument)
            changed = (
                exc.conflicts
                if isinstance(exc, operations.GridConflict)
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
                _("Saved: %(added)s answers added, %(corrected)s corrected.", added=added, corrected=corrected),
                "success",
            )
            return redirect(url_for("families.show_session", code=family.code, number=session.number))
    language = str(get_locale())
    texts = {item.code: item.text_for(language, session.target) for item in instrument.items}
    return render_template(
        "families/grid.html",
        family=family,
        session=session,
        instrument=instrument,
        rows=rows,
        values=values,
        shown=shown,
        errors=errors,
        texts=texts,
    ), status


def _grid_answers(family: Family, session: TherapySession, instrument) -> dict[tuple[int, str], str]:
    """The answers stored for one grid: (member id, item code) -> text (empty: unanswered)."""
    return {
        (r.member_id, r.item): "" if r.value is None else str(r.value)
        for r in db.session.scalars(
            sa.select(Response).filter_by(
                family_id=family.id, session_id=session.id, instrument=instrument.code, target=session.target
            )
        )
    }
