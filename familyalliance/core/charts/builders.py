"""Chart builders: DataFrames in, Altair charts out (pure: no Flask, no database).

The frames come from :mod:`familyalliance.dashboard` with ``label`` and ``dimension_label``
columns added; every text shown on a chart (titles, axis and legend names) comes in as a
``texts`` mapping already translated, so the builders know no language. The view turns
a chart into a Vega-Lite dict with :func:`spec`; the session report renders the same dicts
to SVG or PDF with vl-convert.

Members keep the same colour and point shape on every chart: both come from the
member's position in the family (:func:`member_scale`). The colours are the Okabe-Ito
hues, darkened where needed so that each has at least 3:1 contrast on white (WCAG 2.2,
1.4.11); the shapes make the lines tell apart without colour as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

#: Okabe-Ito hues (colour-blind safe), darkened to at least 3:1 on white where the original is lighter.
PALETTE = ("#0072B2", "#D55E00", "#007A5A", "#B3005E", "#8A6100", "#1F6F9F", "#5D3A9B", "#000000")
#: Point shapes, one fewer than the colours, so that colour and shape together stay unique for 56 members.
SHAPES = ("circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "triangle-right")
BAND_COLOURS = {"balanced": "#E8E8E8", "split": "#F3B27A"}
HEAT_SCHEME = "viridis"
#: How ruptures and repairs are marked on the lines (the subtitle names them).
GLYPHS = {"rupture": "▼", "repair": "▲"}
WIDTH = 520
FONT = "Liberation Sans, Arial, sans-serif"


def member_scale(labels: Sequence[str]) -> tuple[alt.Scale, alt.Scale]:
    """The colour and shape scales for a family's members, in the family's member order."""
    labels = list(labels)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    shapes = [SHAPES[i % len(SHAPES)] for i in range(len(labels))]
    return alt.Scale(domain=labels, range=colours), alt.Scale(domain=labels, range=shapes)


def _config(chart):
    return chart.configure(font=FONT).configure_view(stroke=None).configure_axis(labelFontSize=12, titleFontSize=12)


def member_lines(
    lines: pd.DataFrame,
    band: pd.DataFrame,
    marks: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    width: int = WIDTH,
) -> alt.FacetChart:
    """Per dimension, each member's POMP over the sessions as a line over the family's range.

    The band behind the lines runs from the lowest to the highest member; it is coloured
    where that range reaches the split threshold. Ruptures and repairs are marked on the
    lines (``marks``: rupture_open, rupture_unrepaired, rupture_repaired, repair).
    """
    colour, shape = member_scale(members)
    rows = pd.concat(
        [
            lines.assign(layer="line"),
            band.assign(layer="band", state=band["split"].map({True: texts["split"], False: texts["balanced"]})),
            marks.assign(
                layer="mark",
                event=marks["kind"].map(lambda k: texts["repair" if k == "repair" else "rupture"]),
                glyph=marks["kind"].map(lambda k: GLYPHS["repair" if k == "repair" else "rupture"]),
            ),
        ],
        ignore_index=True,
    )
    columns = (
        "layer",
        "member",
        "label",
        "session",
        "dimension",
        "dimension_label",
        "pomp",
        "low",
        "high",
        "range",
        "state",
        "event",
        "glyph",
    )
    rows = rows[[c for c in columns if c in rows.columns]]
    # Text columns are empty on the other layers' rows; NaN there would not be valid JSON.
    text = [c for c in ("member", "label", "dimension", "dimension_label", "state", "event", "glyph") if c in rows]
    rows[text] = rows[text].astype(object).where(rows[text].notna(), "")
    numbers = [c for c in ("pomp", "low", "high", "range") if c in rows]
    rows[numbers] = rows[numbers].astype("float64")  # float NaN becomes null in the spec
    x = alt.X("session:Q", title=texts["session"], axis=alt.Axis(tickMinStep=1, format="d"))
    y_scale = alt.Scale(domain=[0, 100])
    base = alt.Chart().encode(x=x)
    area = (
        base.transform_filter(alt.datum.layer == "band")
        .mark_area(color=BAND_COLOURS["balanced"])
        .encode(
            y=alt.Y("low:Q", scale=y_scale, title=texts["pomp"]),
            y2="high:Q",
        )
    )
    # A split session gets a bar across the whole range, so the threshold shows where it is crossed.
    splits = (
        base.transform_filter((alt.datum.layer == "band") & (alt.datum.state == texts["split"]))
        .mark_rule(strokeWidth=7, opacity=0.8, color=BAND_COLOURS["split"])
        .encode(
            y=alt.Y("low:Q", scale=y_scale),
            y2="high:Q",
            tooltip=[
                alt.Tooltip("session:Q", title=texts["session"]),
                alt.Tooltip("low:Q", format=".0f"),
                alt.Tooltip("high:Q", format=".0f"),
                alt.Tooltip("range:Q", format=".0f", title=texts["range"]),
            ],
        )
    )
    member = alt.Color("label:N", title=texts["member"], scale=colour, sort=list(members))
    line = (
        base.transform_filter(alt.datum.layer == "line")
        .mark_line(strokeWidth=2)
        .encode(y=alt.Y("pomp:Q", scale=y_scale), color=member, detail="member:N")
    )
    points = (
        base.transform_filter(alt.datum.layer == "line")
        .mark_point(filled=True, size=45, opacity=1)
        .encode(
            y=alt.Y("pomp:Q", scale=y_scale),
            color=member,
            shape=alt.Shape("label:N", title=texts["member"], scale=shape, sort=list(members)),
            tooltip=[
                alt.Tooltip("label:N", title=texts["member"]),
                alt.Tooltip("session:Q", title=texts["session"]),
                alt.Tooltip("pomp:Q", format=".0f", title=texts["pomp"]),
            ],
        )
    )
    # Ruptures and repairs as glyphs above the point (a shape legend would clash with the members' shapes).
    events = (
        base.transform_filter(alt.datum.layer == "mark")
        .mark_text(fontSize=20, dy=-14, color="#000000")
        .encode(
            y=alt.Y("pomp:Q", scale=y_scale),
            text=alt.Text("glyph:N"),
            tooltip=[
                alt.Tooltip("label:N", title=texts["member"]),
                alt.Tooltip("event:N", title=texts["events"]),
                alt.Tooltip("session:Q", title=texts["session"]),
                alt.Tooltip("pomp:Q", format=".0f"),
            ],
        )
    )
    layered = alt.layer(area, splits, line, points, events, data=rows).properties(width=width, height=150)
    chart = layered.facet(
        row=alt.Row(
            "dimension_label:N",
            sort=[texts[f"dim_{d}"] for d in dimensions],
            title=None,
            header=alt.Header(
                labelAngle=0,
                labelAlign="left",
                labelAnchor="start",
                labelOrient="top",
                labelFontSize=13,
                labelFontWeight="bold",
            ),
        ),
    )
    return chart.properties(title=alt.Title(texts["lines_title"], subtitle=texts["band_note"], anchor="start"))


def heatmap(
    lines: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    dimension: str = "total",
    choose: bool = True,
    width: int = WIDTH,
) -> alt.Chart:
    """Members by sessions, coloured by POMP, for the total or (with ``choose``) a dimension picked on the page."""
    if choose:
        pick = alt.param(
            name="dimension",
            value=dimension,
            bind=alt.binding_select(
                options=list(dimensions), labels=[texts[f"dim_{d}"] for d in dimensions], name=texts["choose"]
            ),
        )
        data = lines
        where = alt.datum.dimension == pick
    else:
        data = lines[lines["dimension"] == dimension]
        where = None
    base = alt.Chart(data).encode(
        x=alt.X("session:O", title=texts["session"], axis=alt.Axis(labelAngle=0)),
        y=alt.Y("label:N", title=None, sort=list(members)),
    )
    if where is not None:
        base = base.transform_filter(where)
    cells = base.mark_rect(stroke="#FFFFFF", strokeWidth=1).encode(
        color=alt.Color("pomp:Q", title=texts["pomp"], scale=alt.Scale(scheme=HEAT_SCHEME, domain=[0, 100])),
        tooltip=[
            alt.Tooltip("label:N", title=texts["member"]),
            alt.Tooltip("session:O", title=texts["session"]),
            alt.Tooltip("pomp:Q", format=".0f", title=texts["pomp"]),
        ],
    )
    values = base.mark_text(fontSize=11).encode(
        text=alt.Text("pomp:Q", format=".0f"),
        color=alt.condition(alt.datum.pomp < 55, alt.value("#FFFFFF"), alt.value("#000000")),
    )
    chart = alt.layer(cells, values).properties(
        width=width, height=alt.Step(28), title=alt.Title(texts["heat_title"], anchor="start")
    )
    if choose:
        chart = chart.add_params(pick)
    return chart


def session_views(
    views: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    width: int = WIDTH,
) -> alt.Chart:
    """One session: per dimension, each member's own view (filled) and the therapist's view of them (open).

    A grey rule runs from the lowest to the highest member's own view, so a split shows as a
    long rule and a perspective gap as a filled and an open mark of one colour far apart.
    """
    colour, _shape = member_scale(members)
    order = [texts[f"dim_{d}"] for d in dimensions]
    y = alt.Y("dimension_label:N", title=None, sort=order, scale=alt.Scale(type="band", paddingInner=0.3))
    x_scale = alt.Scale(domain=[0, 100])
    views = views.assign(view_label=views["view"].map({"member": texts["own"], "therapist": texts["therapist"]}))
    own = views[views["view"] == "member"]
    spread = own.groupby("dimension_label", as_index=False)["pomp"].agg(low="min", high="max")
    rule = (
        alt.Chart(spread)
        .mark_rule(color="#767676", strokeWidth=3)
        .encode(
            y=alt.Y("dimension_label:N", title=None, sort=order, bandPosition=0.5),
            x=alt.X("low:Q", scale=x_scale, title=texts["pomp"]),
            x2="high:Q",
        )
    )
    shape = alt.Shape(
        "view_label:N",
        title=texts["view"],
        scale=alt.Scale(domain=[texts["own"], texts["therapist"]], range=["circle", "diamond"]),
    )
    encoding = dict(
        y=y,
        x=alt.X("pomp:Q", scale=x_scale),
        shape=shape,
        color=alt.Color("label:N", title=texts["member"], scale=colour, sort=list(members)),
        tooltip=[
            alt.Tooltip("label:N", title=texts["member"]),
            alt.Tooltip("view_label:N", title=texts["view"]),
            alt.Tooltip("dimension_label:N", title=texts["dimension"]),
            alt.Tooltip("pomp:Q", format=".0f", title=texts["pomp"]),
        ],
    )
    filled = alt.Chart(own).mark_point(size=150, filled=True, opacity=1).encode(**encoding)
    therapist = views[views["view"] == "therapist"]
    hollow = alt.Chart(therapist).mark_point(size=150, strokeWidth=2.5, filled=False, opacity=1).encode(**encoding)
    dots = alt.layer(filled, hollow)
    return alt.layer(rule, dots).properties(
        width=width, height=alt.Step(44), title=alt.Title(texts["views_title"], anchor="start")
    )


def spec(chart) -> dict:
    """The chart, with the app's fonts and axes, as a Vega-Lite dict.

    Not validated against the Vega-Lite schema here (that costs more than building the
    chart); the tests validate every builder's output.
    """
    return _config(chart).to_dict(validate=False)


def report(parts: Sequence, title: str) -> alt.VConcatChart:
    """Several charts one below the other under a title: the session report as one page."""
    return alt.vconcat(*parts, spacing=36).properties(title=alt.Title(title, anchor="start", fontSize=16))


def sparkline(values: Sequence[float], width: int = 96, height: int = 24, low: float = 0.0, high: float = 100.0) -> str:
    """The ``points`` of an SVG polyline for ``values`` on a fixed scale from ``low`` to ``high``.

    Kept as plain SVG (not a chart): the caseload shows one per family, and 25 embedded
    charts per page would cost far more than the table they sit in.
    """
    values = list(values)
    if not values:
        return ""
    step = width / max(len(values) - 1, 1)
    span = high - low
    points = []
    for i, value in enumerate(values):
        clipped = min(max(value, low), high)
        y = height - (clipped - low) / span * height
        points.append(f"{i * step:.1f},{y:.1f}")
    return " ".join(points)
