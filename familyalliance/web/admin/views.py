"""Managing accounts and teams, the audit log, retention and erasure.

- Administrators manage every account and the teams, and read and export the audit log.
- A team lead manages the therapists of their own team (new accounts, passwords, lockouts,
  who may log in, a lost second factor), erases a family of the caseload, and sees the
  retention report.

None of these pages shows clinical data: accounts, teams, case codes and dates only.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from familyalliance.services import accounts, casework, pagecache, privacy, twofactor
from familyalliance.store.db import db
from familyalliance.store.models import User
from familyalliance.web import access, audit
from familyalliance.web.admin.forms import AuditFilterForm, EraseForm, LogInForm, TeamForm, UserForm
from familyalliance.web.forms import USER_ROLE_LABELS, EmptyForm

bp = Blueprint("admin", __name__)

#: Entries per page of the audit log.
AUDIT_PAGE_SIZE = 50


def _user_or_404(user_id: int) -> User:
    """An account the current user may manage (``policy.managed_users``), else 404."""
    user = accounts.managed_account(current_user, user_id)
    if user is None:
        abort(404)
    return user


def _user_form(user: User | None) -> UserForm:
    """The account form, limited to what the current user may set."""
    form = UserForm(obj=user, user=user)
    if user is not None and not form.is_submitted():
        form.team.data = user.team_id  # the form's field holds the id, the account's attribute the Team
    teams = accounts.teams()
    form.team.choices = [SelectChoice(None, _("No team")), *(SelectChoice(t.id, t.name) for t in teams)]
    if current_user.role != "admin":  # a team lead: therapists of their own team only
        form.role.choices = [SelectChoice("therapist", USER_ROLE_LABELS["therapist"])]
        form.team.choices = [SelectChoice(current_user.team_id, current_user.team.name)]
        if not form.is_submitted():
            form.role.data, form.team.data = "therapist", current_user.team_id
    return form


@bp.get("/admin/users")
@access.roles("admin", "team_lead")
def users():
    """The accounts the current user manages: all (admin) or the team's therapists (team lead)."""
    return _users_page(TeamForm(formdata=None))


def _users_page(team_form: TeamForm) -> str:
    """The accounts page: the managed accounts, and for an admin the teams with the form to add one."""
    listed = accounts.managed_accounts(current_user)
    teams = accounts.teams() if current_user.role == "admin" else []
    return render_template("admin/users.html", users=listed, teams=teams, team_form=team_form)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@access.roles("admin", "team_lead")
def new_user():
    """Open an account (a team lead: a therapist of the team)."""
    form = _user_form(None)
    if form.validate_on_submit():
        team = accounts.team(form.team.data)
        user = accounts.create_user(form.email.data, form.password.data, form.role.data, team.name if team else None)
        audit.record("user.created", detail={"account": user.email, "role": user.role})
        db.session.commit()
        flash(_("The account %(email)s was opened.", email=user.email), "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None), (422 if form.errors else 200)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@access.roles("admin", "team_lead")
def edit_user(user_id: int):
    """Change an account: role, team, may log in, a new password; or lift a lockout."""
    user = _user_or_404(user_id)
    form = _user_form(user)
    if request.method == "POST" and request.form.get("unlock"):
        accounts.unlock_user(user)
        audit.record("user.unlocked", detail={"account": user.email})
        db.session.commit()
        flash(_("The account %(email)s can log in again.", email=user.email), "success")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    if form.validate_on_submit():
        if user.id == current_user.id and form.role.data != user.role:
            form.role.errors = [*form.role.errors, _("You cannot take away your own role or log-in.")]
        else:
            team = accounts.team(form.team.data)
            before = {"role": user.role, "team": user.team.name if user.team else None, "active": user.active}
            user.email = form.email.data.strip().lower()
            accounts.update_user(user, form.role.data, team, user.active)
            if form.password.data:
                accounts.set_password(user, form.password.data)
            after = {"role": user.role, "team": team.name if team else None, "active": user.active}
            audit.record(
                "user.changed",
                detail={"account": user.email, "before": before, "after": after, "password": bool(form.password.data)},
            )
            db.session.commit()
            flash(_("The account %(email)s was saved.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    log_in = LogInForm(formdata=None, may_log_in="no" if user.active else "yes")
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        locked=user.locked(),
        log_in=log_in,
        reset_form=EmptyForm(formdata=None),
        two_factor_required=twofactor.required(user),
    ), (422 if form.errors else 200)


@bp.post("/admin/users/<int:user_id>/two-factor/reset")
@access.roles("admin", "team_lead")
def reset_two_factor(user_id: int):
    """Remove an account's second factor (a lost phone); it sets one up again at its next login. Not one's own."""
    user = _user_or_404(user_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        flash(_("Nothing was changed: the form was sent incomplete."), "error")
    elif user.id == current_user.id:
        flash(_("You cannot reset your own two-factor sign-in; ask another administrator."), "error")
    else:
        twofactor.reset(user)
        audit.record("user.two_factor_reset", detail={"account": user.email})
        db.session.commit()
        flash(
            _(
                "Two-factor sign-in of %(email)s was reset; they set it up again at their next login.",
                email=user.email,
            ),
            "success",
        )
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/log-in")
@access.roles("admin", "team_lead")
def set_log_in(user_id: int):
    """Let an account log in, or stop it (its sessions end at once); nobody stops their own."""
    user = _user_or_404(user_id)
    form = LogInForm()
    if not form.validate_on_submit():
        flash(_("Nothing was changed: the form was sent incomplete."), "error")
    elif user.id == current_user.id:
        flash(_("You cannot take away your own role or log-in."), "error")
    else:
        active = form.may_log_in.data == "yes"
        if active != user.active:
            accounts.update_user(user, user.role, user.team, active)
            audit.record(
                "user.changed",
                detail={"account": user.email, "before": {"active": not active}, "after": {"active": active}},
            )
            db.session.commit()
        if active:
            flash(_("The account %(email)s can log in again.", email=user.email), "success")
        else:
            flash(_("The account %(email)s can no longer log in.", email=user.email), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/admin/teams")
@access.roles("admin")
def new_team():
    """Add a team."""
    form = TeamForm()
    if form.validate_on_submit():
        team = accounts.get_or_create_team(form.name.data)
        audit.record("team.created", detail={"team": team.name})
        db.session.commit()
        flash(_("The team %(name)s was added.", name=team.name), "success")
        return redirect(url_for("admin.users"))
    return _users_page(form), 422


def _audit_query(form: AuditFilterForm) -> sa.Select:
    until = form.until.data + dt.timedelta(days=1) if form.until.data else None
    return audit.filtered(form.email.data, form.family.data, form.action.data, form.since.data, until)


#: The audit log's filters, as they travel in the query string (and into its entries and links).
AUDIT_FILTERS = ("email", "family", "action", "since", "until")


def _filter_args() -> dict[str, str]:
    """The filters given in the query string (without the page number or the language)."""
    return {k: v for k, v in request.args.items() if k in AUDIT_FILTERS and v}


def _audit_filters() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    form.action.choices = [SelectChoice("", _("Any")), *(SelectChoice(a, a) for a in audit.actions())]
    return form


@bp.get("/admin/audit")
@access.roles("admin")
def audit_log():
    """The audit log, newest first, with filters; reading it is logged too."""
    form = _audit_filters()
    if request.args and not form.validate():
        return render_template("admin/audit.html", form=form, page=None, filters={}), 400
    filters = _filter_args()
    audit.record_now("audit.viewed", detail=filters)  # first: its commit would expire the entries read below
    page = db.paginate(_audit_query(form), page=form.page.data or 1, per_page=AUDIT_PAGE_SIZE, error_out=False)
    return render_template("admin/audit.html", form=form, page=page, filters=filters)


@bp.get("/admin/audit.csv")
@access.roles("admin")
def audit_export():
    """The (filtered) audit log as CSV; the export itself is logged before it starts."""
    form = _audit_filters()
    if not form.validate():
        abort(400)
    filters = _filter_args()
    audit.record_now("audit.exported", detail=filters)
    query = _audit_query(form).execution_options(yield_per=1000)

    def lines():  # runs while the response streams, in a database session of its own
        result = db.session.scalars(query)
        try:
            yield from audit.csv_lines(result)
        finally:
            result.close()

    response = current_app.response_class(stream_with_context(lines()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="familyalliance-audit.csv"'
    return response


@bp.get("/retention")
@access.roles("admin", "team_lead")
def retention():
    """Closed families past the retention period, to erase (team leads: their team's)."""
    years = current_app.config["RETENTION_YEARS"]
    cutoff = privacy.retention_cutoff(years)
    audit.record_now("retention.viewed")  # first: its commit would expire the families read below
    rows = privacy.past_retention(current_user, cutoff)
    notes = privacy.notes_past_retention(current_user, cutoff)
    return render_template("admin/retention.html", rows=rows, cutoff=cutoff, years=years, notes=notes)


@bp.route("/families/<code>/erase", methods=["GET", "POST"])
@access.roles("team_lead")
def erase(code: str):
    """Erase a family of the team lead's caseload for good, after typing its case code."""
    family = access.family_or_404(code)
    form = EraseForm(code=family.code)
    if form.validate_on_submit():
        family_id = family.id
        counts = casework.erase_family(family)
        audit.record("family.erased", family_id=family_id, family_code=code, detail=counts)
        audit.skip_family_log()
        pagecache.clear_everywhere()
        db.session.commit()
        flash(_("Family %(code)s was erased.", code=code), "success")
        return redirect(url_for("caseload.show"))
    return render_template("admin/erase.html", family=family, form=form), (422 if form.errors else 200)
