"""The caseload page: the families the user may see, most concern first, with reasons, filters and pages.

The rendered list is kept in the page cache while none of the visible families changed (the user's
and, for a team lead, the team's revision: ``caseload.version``), per user, language, thresholds and filters.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from familyalliance.services import caseload, pagecache, policy, trajectories
from familyalliance.web import access
from familyalliance.web.caseload.forms import CaseloadFilterForm

bp = Blueprint("caseload", __name__, url_prefix="/families")


@access.roles(*access.ANY_ROLE)
def index():
    """The start page: the caseload, or for a researcher the exports and for an admin the accounts."""
    return redirect(url_for(access.home(current_user)))


@bp.get("/")
@access.roles(*access.FAMILY_ROLES)
def show():
    """The caseload, from the page cache or rendered; 400 when a filter value is not valid.

    A staff request recomputes the expected trajectory first when it is due (``trajectories.refresh_if_due``;
    the version says when it was stored).
    """
    visible = policy.visible_families(current_user)
    key = caseload.settings_key()
    language = str(get_locale())
    families_version, cache_epoch, (expected_at, checked_at) = caseload.version(visible, current_user)
    if trajectories.refresh_if_due(expected_at, checked=checked_at):
        families_version, cache_epoch, _ = caseload.version(visible, current_user)
    cache_key = (
        "caseload",
        current_user.id,
        current_user.role,
        current_user.team_id,
        language,
        key,
        families_version,
        dt.datetime.now(dt.UTC).date().isoformat(),  # the reminder flag moves once a day (UTC)
        tuple(sorted(request.args.items(multi=True))),
    )
    cache = pagecache.page_cache(cache_epoch)
    body = cache.get(cache_key)
    if body is None:
        body, status = _body(visible, key, language)
        if status != 200:
            return render_template("families/caseload.html", body=body), status
        cache.put(cache_key, body)
    return render_template("families/caseload.html", body=body)


def _body(visible, key: str, language: str) -> tuple[Markup, int]:
    """The caseload's filters, table and pages, rendered."""
    caseload.refresh_summaries(visible, key)
    form = CaseloadFilterForm(request.args)
    form.set_choices(*caseload.filter_choices(visible, current_user))
    if request.args and not form.validate():
        return Markup(render_template("families/_caseload_body.html", form=form, page=None)), 400
    filters = caseload.Filters(
        team=form.team.data,
        therapist=form.therapist.data,
        status=form.status.data or None,
        flag=form.flag.data or None,
        page=form.page.data or 1,
    )
    page, rows, stats = caseload.page(visible, filters, language, current_user)
    html = render_template(
        "families/_caseload_body.html",
        form=form,
        page=page,
        rows=rows,
        stats=stats,
        filters={k: v for k, v in request.args.items() if k in caseload.FILTERS and v},
    )
    return Markup(html), 200
