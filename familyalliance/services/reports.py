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
from familyalliance.services import pagecache, trajectories
from familyalliance.store import queries, summaries
from familyalliance.store.db import db
from familyalliance.store.models import Attendance, Family, FormScore
from familyalliance.store.registry import installed_instruments

MARK_LABELS = {
    "rupture_open": N_("rupture, still open"),
    "rupture_unrepaired": N_("rupture, not repaired"),
    "rupture_repaired": N_("rupture, repaired later"),
    "repair": N_("repair"),
}
#: A rupture's status as the data says it (metrics.md section 7), beside the therapist's follow-up.
STATUS_LABELS = {
    "open": N_("open"),
    "repaired": N_("repaired"),
    "unrepaired": N_("not repaired"),
}


@dataclass
class FamilyCharts:
    """The charts of a family up to a session, with the tables that are their text alternatives."""

    lines: pd.DataFrame
    band: pd.DataFrame
    marks: pd.DataFrame
    views: pd.DataFrame
    balance: pd.DataFrame
    gaps: pd.DataFrame
    session: int | None
    members: list[str]
    texts: dict[str, str]
    prompts: list[str]
    #: Whom the family's members rated: ``therapist``, and ``team`` where sessions were about the team.
    targets: list[str]
    #: The members' ruptures (own view, about the chosen target), each with its status and follow-up.
    ruptures: list[dict]
    #: The safety signal, worded for the therapist (empty: none), and the safeguarding text beside it.
    safety: list[str]
    safeguarding_text: str
    threshold: float
    gap_threshold: float
    #: The expected trajectory at the family's sessions (metrics.md section 10), and the sessions without a band.
    expected: pd.DataFrame = None
    expected_hidden: list = None

    def builders(self, choose: bool = True) -> dict[str, tuple]:
        """Per chart, its builder and the builder's arguments: member lines, heat map, the session's views,
        balance and gap over time."""
        if self.lines.empty:
            return {}
        dims = chart_tables.dimension_order()
        out = {
            "lines": (
                charts.member_lines,
                (self.lines, self.band, self.marks, self.members, dims, self.texts),
                {"expected": self.expected} if self.expected is not None and not self.expected.empty else {},
            ),
            "heat": (charts.heatmap, (self.lines, self.members, dims, self.texts), {"choose": choose}),
        }
        if not self.views.empty:
            out["views"] = (charts.session_views, (self.views, self.members, dims, self.texts), {})
        if not self.balance.empty:
            out["balance"] = (charts.balance_lines, (self.balance, dims, self.texts, self.threshold), {})
        if not self.gaps.empty:
            out["gap"] = (charts.gap_lines, (self.gaps, self.members, ["total"], self.texts, self.gap_threshold), {})
        return out

    def build(self, choose: bool = True) -> dict:
        """The Altair charts."""
        return {name: builder(*args, **kwargs) for name, (builder, args, kwargs) in self.builders(choose).items()}

    def specs(self, choose: bool = True) -> dict[str, dict]:
        """The charts as Vega-Lite dicts, each from the spec kept for its structure, with this family's data
        (``charts.templated``: the same dict as ``charts.spec`` of the built chart)."""
        return {
            name: charts.templated(builder, *args, **kwargs)
            for name, (builder, args, kwargs) in self.builders(choose).items()
        }


def family_charts(
    family: Family,
    language: str,
    settings: analytics.Settings,
    target: str = "therapist",
    up_to: int | None = None,
    analysis: analytics.Analysis | None = None,
) -> FamilyCharts:
    """Build the tables and texts of a family's charts from its analysis (as of session ``up_to``; ``analysis``
    when the caller has it already, as for a dashboard in several languages)."""
    if analysis is None:
        analysis = queries.analysis([family.id], settings, up_to)
    names = {m.code: m.display_name for m in family.members}
    texts = chart_tables.chart_texts(language, settings)
    dimension_labels = {d: texts[f"dim_{d}"] for d in chart_tables.dimension_order()}
    lines = chart_tables.member_lines(analysis.series, target)
    scored = sorted(set(lines["session"])) if not lines.empty else []
    session = up_to if up_to is not None else (scored[-1] if scored else None)
    views = chart_tables.session_views(analysis.series, session, target) if session is not None else pd.DataFrame()
    texts["views_title"] = texts["views_title"] % {"session": session}
    band = chart_tables.family_band(lines, settings)
    expected, expected_hidden = chart_tables.expected_band(analysis.expected, target, scored)
    texts.update(_expected_texts(language))

    def label(frame: pd.DataFrame) -> pd.DataFrame:
        return chart_tables.labelled(frame, names, dimension_labels)

    members = [m.display_name for m in family.members]
    own_ruptures = analysis.ruptures[
        (analysis.ruptures["informant"] == "self") & (analysis.ruptures["target"] == target)
    ]
    return FamilyCharts(
        lines=label(lines),
        band=label(band),
        marks=label(chart_tables.rupture_marks(analysis.ruptures, target)),
        views=label(views) if not views.empty else views,
        balance=label(chart_tables.family_balance(band)),
        gaps=label(chart_tables.gap_lines(analysis.gaps, target)),
        session=session,
        members=members,
        texts=texts,
        prompts=[prompts.render(p, language, names) for p in prompts.conversation_prompts(analysis, settings)],
        targets=rated_targets(analysis),
        ruptures=_ruptures(own_ruptures, names, dimension_labels, language),
        safety=[
            prompts.render_safety(row, language, names)
            for row in analytics.safety_signals(analysis, settings).to_dict("records")
        ],
        safeguarding_text=prompts.safeguarding_text(language, config.safeguarding_text(current_app, language)),
        threshold=settings.split_threshold,
        gap_threshold=settings.gap_threshold,
        expected=label(expected),
        expected_hidden=expected_hidden,
    )


def rated_targets(analysis: analytics.Analysis) -> list[str]:
    """Whom a family's members rated, as the dashboard offers it: the therapist always, the team where rated."""
    rated = set(analysis.series["target"].astype(str)) if not analysis.series.empty else set()
    return [t for t in vocab.TARGETS if t == "therapist" or t in rated]


EXPECTED_TEXTS = {
    "expected_p10": N_("10th percentile in this clinic"),
    "expected_p25": N_("25th percentile in this clinic"),
    "expected_p50": N_("Median in this clinic"),
    "expected_p75": N_("75th percentile in this clinic"),
    "expected_p90": N_("90th percentile in this clinic"),
}


def _expected_texts(language: str) -> dict[str, str]:
    """The expected band's tooltip titles in ``language``."""
    return {key: catalog.gettext(text, language) for key, text in EXPECTED_TEXTS.items()}


def safety(family: Family, language: str, up_to: int | None = None) -> dict:
    """The safety signal of a family as of session ``up_to`` (the session page), with the safeguarding text."""
    settings = config.analytics_settings(current_app)
    analysis = queries.analysis([family.id], settings, up_to)
    names = {m.code: m.display_name for m in family.members}
    signals = analytics.safety_signals(analysis, settings).to_dict("records")
    return {
        "safety": [prompts.render_safety(row, language, names) for row in signals],
        "safeguarding_text": prompts.safeguarding_text(language, config.safeguarding_text(current_app, language)),
    }


def _ruptures(breaks: pd.DataFrame, names: dict, dimension_labels: dict, language: str) -> list[dict]:
    """The rupture table as the pages show it: latest first, with the data's status and the follow-up."""
    rows = []
    for r in breaks.sort_values(["session", "member", "dimension"], ascending=[False, True, True]).itertuples():
        rows.append(
            {
                "member": r.member,
                "member_name": names.get(r.member, r.member),
                "dimension": r.dimension,
                "dimension_label": dimension_labels[r.dimension],
                "informant": r.informant,
                "target": r.target,
                "session": int(r.session),
                "previous_session": int(r.previous_session),
                "before": float(r.previous_pomp),
                "after": float(r.pomp),
                "drop": float(r.drop_pomp),
                "status": r.status,
                "status_label": catalog.gettext(STATUS_LABELS[r.status], language),
                "repaired_session": None if pd.isna(r.repaired_session) else int(r.repaired_session),
                "instrument": r.instrument,
                "previous_instrument": r.previous_instrument,
                "discussed_on": r.discussed_on,
                "note": r.note,
            }
        )
    return rows


def cache_key(family: Family, *rest) -> tuple:
    """A page-cache key for what a family's pages show: its data, thresholds, safeguarding texts and ``rest``."""
    settings = config.analytics_settings(current_app)
    return (
        family.id,
        family.created_at,
        family.code,
        family.revision,
        *rest,
        summaries.settings_key(settings, installed_instruments()),
        trajectories.stamp(),  # the expected band and its reason move with the stored trajectory
        tuple(config.safeguarding_text(current_app, language) for language in ("nl", "en")),
    )


def analysis(family: Family) -> analytics.Analysis:
    """A family's analysis as the dashboard shows it (every session), to build it in several languages or targets."""
    return queries.analysis([family.id], config.analytics_settings(current_app))


def dashboard(family: Family, language: str, target: str, analysed: analytics.Analysis | None = None) -> dict:
    """What the family page shows below its header: charts (with their specs as safe JSON), tables, prompts."""
    settings = config.analytics_settings(current_app)
    built = family_charts(family, language, settings, target, analysis=analysed)
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
        "ruptures": built.ruptures,
        "safety": built.safety,
        "safeguarding_text": built.safeguarding_text,
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
    return {
        "dimensions": per_dimension,
        "band": built.band,
        "marks": built.marks,
        "views": views,
        "balance": _by_session(built.balance, "dimension_label", "balance", [built.texts[f"dim_{d}"] for d in dims]),
        "gaps": _by_session(built.gaps[built.gaps["dimension"] == "total"], "label", "gap", built.members),
    }


def _by_session(frame: pd.DataFrame, row: str, value: str, order: list[str]) -> dict | None:
    """``frame`` as rows (``row``, in ``order``) by sessions, for the ``sessions_table`` macro; None when empty."""
    if frame.empty:
        return None
    table = frame.pivot_table(index=row, columns="session", values=value, aggfunc="first")
    rows = [label for label in order if label in table.index]
    return {"sessions": [int(s) for s in table.columns], "rows": [(label, list(table.loc[label])) for label in rows]}


def _present_names(family: Family) -> dict[int, list[str]]:
    names = {m.id: m.display_name for m in family.members}
    present: dict[int, list[str]] = {}
    for a in db.session.scalars(
        sa.select(Attendance).where(Attendance.family_id == family.id, Attendance.present.is_(True))
    ):
        present.setdefault(a.session_id, []).append(names[a.member_id])
    return present


def _answered(family: Family) -> dict[int, int]:
    """Answers given per session: the items answered of its forms, from the stored scores (not the answers)."""
    return {
        session_id: int(count)
        for session_id, count in db.session.execute(
            sa.select(FormScore.session_id, sa.func.sum(FormScore.answered))
            .where(FormScore.family_id == family.id)
            .group_by(FormScore.session_id)
        )
    }


def session_report(family: Family, session, language: str) -> dict:
    """The session report: the charts up to the session (as specs for SVG and one for the PDF) and its texts."""
    key = cache_key(family, "report", session.number, language)
    cache = pagecache.page_cache()
    cached = cache.get(key)
    if cached is not None:
        return cached
    settings = config.analytics_settings(current_app)
    built = family_charts(family, language, settings, target=session.target, up_to=session.number)
    title = catalog.gettext(N_("Family %(code)s, session %(number)s"), language) % {
        "code": family.code,
        "number": session.number,
    }
    report = {
        "charts": built,
        "specs": built.specs(choose=False),
        "title": title,
        "tables": _tables(built),
        "ruptures": built.ruptures,
        "safety": built.safety,
        "safeguarding_text": built.safeguarding_text,
    }
    cache.put(key, report)
    return report
