"""The family dashboard and the session report: scores to tables, charts and prompts for one family.

The glue between the database and the pure modules (``core.charts.tables`` for the tables,
``core.charts.builders`` for the Altair charts, ``core.prompts`` for the words). A family's
pages depend only on its data (``Family.revision``), the thresholds and the language:
:func:`cache_key` names exactly that, so the rendered dashboard and the built report are kept
in the page cache (``services.pagecache``) and built again when any of those changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from flask import current_app
from jinja2.utils import htmlsafe_json_dumps

from familyalliance import config
from familyalliance.core import analytics, catalog, prompts, vocab
from familyalliance.core.catalog import N_
from familyalliance.core.charts import builders as charts
from familyalliance.core.charts import tables as chart_tables
from familyalliance.services import pagecache
from familyalliance.store import queries, summaries
from familyalliance.store.db import db
from familyalliance.store.models import Attendance, Family, Response
from familyalliance.store.registry import installed_instruments

MARK_LABELS = {
    "rupture_open": N_("rupture, still open"),
    "rupture_unrepaired": N_("rupture, not repaired"),
    "rupture_repaired": N_("rupture, repaired later"),
    "repair": N_("repair"),
}


@dataclass
class FamilyCharts:
    """The charts of a family up to a session, with the tables that are their text alternatives."""

    lines: pd.DataFrame
    band: pd.DataFrame
    marks: pd.DataFrame
    views: pd.DataFrame
    session: int | None
    members: list[str]
    texts: dict[str, str]
    prompts: list[str]
    #: Whom the family's members rated: ``therapist``, and ``team`` where sessions were about the team.
    targets: list[str]

    def build(self, choose: bool = True) -> dict:
        """The Altair charts: member lines, heat map and the session's views (when there are scores)."""
        if self.lines.empty:
            return {}
        dims = chart_tables.dimension_order()
        out = {
            "lines": charts.member_lines(self.lines, self.band, self.marks, self.members, dims, self.texts),
            "heat": charts.heatmap(self.lines, self.members, dims, self.texts, choose=choose),
        }
        if not self.views.empty:
            out["views"] = charts.session_views(self.views, self.members, dims, self.texts)
        return out

    def specs(self, choose: bool = True) -> dict[str, dict]:
        """The charts as Vega-Lite dicts."""
        return {name: charts.spec(chart) for name, chart in self.build(choose).items()}


def family_charts(
    family: Family, language: str, settings: analytics.Settings, target: str = "therapist", up_to: int | None = None
) -> FamilyCharts:
    """Build the tables and texts of a family's charts from its scores (up to session ``up_to``)."""
    scores = queries.scores([family.id])
    if up_to is not None:
        scores = scores[scores["session"] <= up_to]
    names = {m.code: m.display_name for m in family.members}
    texts = chart_tables.chart_texts(language, settings)
    dimension_labels = {d: texts[f"dim_{d}"] for d in chart_tables.dimension_order()}
    lines = chart_tables.member_lines(scores, target)
    scored = sorted(set(lines["session"])) if not lines.empty else []
    session = up_to if up_to is not None else (scored[-1] if scored else None)
    views = chart_tables.session_views(scores, session, target) if session is not None else pd.DataFrame()
    texts["views_title"] = texts["views_title"] % {"session": session}

    def label(frame: pd.DataFrame) -> pd.DataFrame:
        return chart_tables.labelled(frame, names, dimension_labels)

    members = [m.display_name for m in family.members]
    return FamilyCharts(
        lines=label(lines),
        band=label(chart_tables.family_band(lines, settings)),
        marks=label(chart_tables.rupture_marks(scores, settings, target)),
        views=label(views) if not views.empty else views,
        session=session,
        members=members,
        texts=texts,
        prompts=[prompts.render(p, language, names) for p in prompts.conversation_prompts(scores, settings)],
        targets=[t for t in vocab.TARGETS if t == "therapist" or (scores["target"] == t).any()],
    )


def cache_key(family: Family, *rest) -> tuple:
    """A page-cache key for what a family's pages show: its data, the thresholds and ``rest``."""
    settings = config.analytics_settings(current_app)
    return (
        family.id,
        family.created_at,
        family.code,
        family.revision,
        *rest,
        summaries.settings_key(settings, installed_instruments()),
    )


def dashboard(family: Family, language: str, target: str) -> dict:
    """What the family page shows below its header: charts (with their specs as safe JSON), tables, prompts."""
    settings = config.analytics_settings(current_app)
    built = family_charts(family, language, settings, target)
    return {
        "family": family,
        "target": target,
        "charts": built,
        # JSON safe inside <script type="application/json">: <, >, & and ' are escaped.
        "specs": {name: htmlsafe_json_dumps(spec) for name, spec in built.specs().items()},
        "tables": _tables(built),
        "present_names": _present_names(family),
        "answered": _answered(family),
        "threshold": settings.split_threshold,
        "dimensions": chart_tables.dimension_order(),
        "mark_label": lambda kind: catalog.gettext(MARK_LABELS[kind], language),
    }


def _tables(built: FamilyCharts) -> dict:
    """The text alternatives: per dimension, members by sessions; the range per session; the session's views."""
    if built.lines.empty:
        return {}
    dims = chart_tables.dimension_order()
    labels = dict(zip(built.lines["member"], built.lines["label"], strict=True))
    per_dimension = {}
    for d in dims:
        table = chart_tables.heat_table(built.lines, d)
        if not table.empty:
            per_dimension[d] = {
                "sessions": [int(s) for s in table.columns],
                "rows": [(labels[code], list(table.loc[code])) for code in table.index],
            }
    views = {}
    for row in built.views.itertuples(index=False):
        views.setdefault(row.label, {}).setdefault(row.dimension, {})[row.view] = row.pomp
    return {"dimensions": per_dimension, "band": built.band, "marks": built.marks, "views": views}


def _present_names(family: Family) -> dict[int, list[str]]:
    names = {m.id: m.display_name for m in family.members}
    present: dict[int, list[str]] = {}
    for a in db.session.scalars(
        sa.select(Attendance).where(Attendance.family_id == family.id, Attendance.present.is_(True))
    ):
        present.setdefault(a.session_id, []).append(names[a.member_id])
    return present


def _answered(family: Family) -> dict[int, int]:
    return dict(
        db.session.execute(
            sa.select(Response.session_id, sa.func.count())
            .where(Response.family_id == family.id, Response.value.is_not(None))
            .group_by(Response.session_id)
        ).all()
    )


def session_report(family: Family, session, language: str) -> dict:
    """The session report: the charts up to the session (as specs for SVG and one for the PDF) and its texts."""
    key = cache_key(family, "report", session.number, language)
    cache = pagecache.page_cache()
    cached = cache.get(key)
    if cached is not None:
        return cached
    settings = config.analytics_settings(current_app)
    built = family_charts(family, language, settings, target=session.target, up_to=session.number)
    parts = built.build(choose=False)
    title = catalog.gettext(N_("Family %(code)s, session %(number)s"), language) % {
        "code": family.code,
        "number": session.number,
    }
    report = {
        "charts": built,
        "specs": {name: charts.spec(chart) for name, chart in parts.items()},
        "pdf_spec": charts.spec(charts.report(list(parts.values()), title)) if parts else None,
        "title": title,
        "tables": _tables(built),
    }
    cache.put(key, report)
    return report
