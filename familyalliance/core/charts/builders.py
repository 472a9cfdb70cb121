"""Chart builders: DataFrames in, Altair charts out (pure: no Flask, no database).

The frames come from :mod:`familyalliance.dashboard` with ``label`` and ``dimension_label``
columns added; every text shown on a chart (titles, axis and legend names) comes in as a
``texts`` mapping already translated, so the builders know no language. :func:`spec` turns
a chart into a Vega-Lite dict; the pages take the same dict from :func:`templated`, which
builds each chart's spec once per structure (members, sessions, texts, ...) with Altair and
per family only puts its data in. The session report renders the same dicts to SVG with
vl-convert (also for its PDF).

Members keep the same colour and point shape on every chart: both come from the
member's position in the family (:func:`member_scale`). The colours are the Okabe-Ito
hues, darkened where needed so that each has at least 3:1 contrast on white (WCAG 2.2,
1.4.11); the shapes make the lines tell apart without colour as well. Where a chart shows
whose view a score is, fill tells: the member's own view is a filled marker, the
therapist's view of that member an open one of the same shape and colour, with a legend
of its own.

Every scale a chart draws has an explicit domain (sessions from the data, scores fixed
with a little room beyond 0 and 100), so a layer whose data happens to be empty (no
splits, no ruptures) computes no extent and Vega has nothing to warn about; the session
axis labels whole sessions, each once. Each chart carries its text alternative as the
Vega-Lite ``description`` (Vega sets it as the chart's ``aria-label``).
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd
from altair.vegalite.v6.api import _dataset_name

#: Okabe-Ito hues (colour-blind safe), darkened to at least 3:1 on white where the original is lighter.
PALETTE = ("#0072B2", "#D55E00", "#007A5A", "#B3005E", "#8A6100", "#1F6F9F", "#5D3A9B", "#000000")
#: Point shapes, one fewer than the colours, so that colour and shape together stay unique for 56 members.
SHAPES = ("circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "triangle-right")
BAND_COLOURS = {"balanced": "#E8E8E8", "split": "#F3B27A", "split_line": "#A34500"}
HEAT_SCHEME = "viridis"
#: How ruptures and repairs are marked on the lines (the subtitle names them).
GLYPHS = {"rupture": "▼", "repair": "▲"}
WIDTH = 520
#: Point size (area in square pixels) of the members' markers.
MARKER = 60
#: Point size of the markers on the session views (one session: room for larger marks).
VIEW_MARKER = 80
#: Neutral colour of what is not a member (the view legend, the balance line, reference lines).
NEUTRAL = "#333333"
#: Padding of the score scales beyond 0 and 100 (a fraction of the range), so markers there stay in the plot.
PAD = 0.04
POMP_TICKS = [0, 25, 50, 75, 100]
GAP_TICKS = [-100, -50, 0, 50, 100]
#: Narrowest heat-map cell (pixels) that still shows its score as text.
CELL_TEXT = 26
#: Fewest pixels between two session labels before the axis labels only a regular few.
TICK_SPACING = 28
#: Height of one dimension's panel on the line charts, and on the balance chart (one line each).
LINES_HEIGHT = 150
BALANCE_HEIGHT = 110
#: Height of a member's row within a dimension on the session views.
STEP = 22
FONT = "Liberation Sans, Arial, sans-serif"

# The charts carry every point of a family (12 members over 100 sessions are 6,000 rows on the lines
# chart), not Altair's default of at most 5,000 rows a chart.
alt.data_transformers.enable("default", max_rows=None)


def member_scale(labels: Sequence[str]) -> tuple[alt.Scale, alt.Scale]:
    """The colour and shape scales for a family's members, in the family's member order."""
    labels = list(labels)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    shapes = [SHAPES[i % len(SHAPES)] for i in range(len(labels))]
    return alt.Scale(domain=labels, range=colours), alt.Scale(domain=labels, range=shapes)


def _config(chart):
    return chart.configure(font=FONT).configure_view(stroke=None).configure_axis(labelFontSize=12, titleFontSize=12)


def sessions_of(*frames: pd.DataFrame) -> list[int]:
    """The session numbers in the frames' ``session`` columns, sorted, each once."""
    found = {int(s) for frame in frames if "session" in frame for s in frame["session"].dropna()}
    return sorted(found)


def session_ticks(sessions: Sequence[int], width: int = WIDTH) -> list[int]:
    """The session numbers to label on the axis: each session, or for many a regular few with the first and last.

    Whole numbers, each once. When the sessions would stand closer than :data:`TICK_SPACING`
    pixels, the labels are the first and last session and the multiples of a round step
    (2, 5, 10, 20, 50, ...) between them, leaving out a multiple that would crowd the
    first or the last label.
    """
    sessions = sorted({int(s) for s in sessions})
    if len(sessions) <= 1:
        return sessions
    low, high = sessions[0], sessions[-1]
    pixels = width / (high - low + 1)  # one session's width on the padded domain
    closest = min(b - a for a, b in zip(sessions, sessions[1:], strict=False))
    if closest * pixels >= TICK_SPACING:
        return sessions
    step = next(s for s in _round_steps() if s * pixels >= TICK_SPACING)
    middle = [
        s
        for s in range((low // step + 1) * step, high, step)
        if (s - low) * pixels >= TICK_SPACING and (high - s) * pixels >= TICK_SPACING
    ]
    return [low, *middle, high]


def _round_steps():
    """1, 2, 5, 10, 20, 50, 100, ..."""
    scale = 1
    while True:
        for base in (1, 2, 5):
            yield base * scale
        scale *= 10


def session_x(sessions: Sequence[int], title: str, width: int = WIDTH) -> alt.X:
    """The session axis: an explicit domain half a session beyond the first and last, whole-number labels.

    The explicit domain means no layer computes an extent from its data, so layers that
    happen to be empty (no splits, no ruptures) draw nothing instead of warning.
    """
    sessions = sorted({int(s) for s in sessions}) or [1]
    return alt.X(
        "session:Q",
        title=title,
        scale=alt.Scale(domain=[sessions[0] - 0.5, sessions[-1] + 0.5], nice=False, zero=False),
        # Whole-number labels come from the values; ".1~f" (not "d") keeps the axis's own aria
        # description true to the domain ("from 0.5 to 3.5", where "d" would round it to 1 to 4).
        axis=value_axis(session_ticks(sessions, width), format=".1~f"),
    )


def value_axis(values: Sequence[float], **kwargs) -> alt.Axis:
    """An axis with exactly these tick values (a tick count as large, or Vega thins them to its default count)."""
    return alt.Axis(values=list(values), tickCount=max(len(values), 1), **kwargs)


def _bar_width(sessions: Sequence[int], width: int) -> float:
    """The width of a bar across a session's range: 7 pixels, narrower where the sessions stand close."""
    span = (sessions[-1] - sessions[0] + 1) if sessions else 1
    return max(2.0, min(7.0, width / span / 2))


def pomp_scale(low: float = 0, high: float = 100) -> alt.Scale:
    """A fixed score scale with a little room beyond ``low`` and ``high``, so markers there stay in the plot."""
    pad = (high - low) * PAD
    return alt.Scale(domain=[low - pad, high + pad], nice=False, zero=False)


def chart_title(title: str, subtitle: str | None, width: int = WIDTH) -> alt.Title:
    """A title at the start, its subtitle broken into lines about as wide as the plot."""
    lines = textwrap.wrap(subtitle, width=max(40, int(width / 6))) if subtitle else None
    return alt.Title(title, subtitle=lines or alt.Undefined, anchor="start")


def axis_title(text: str, length: int) -> str | list[str]:
    """An axis title broken into lines that fit along an axis ``length`` pixels long."""
    lines = textwrap.wrap(text, width=max(12, int(length / 7)))
    return lines if len(lines) > 1 else text


def _text_columns(rows: pd.DataFrame, text: Sequence[str], numbers: Sequence[str]) -> pd.DataFrame:
    """Empty text where a layer has no value (NaN is not valid JSON); numbers as floats (NaN becomes null)."""
    rows = rows.copy()
    text = [c for c in text if c in rows]
    rows[text] = rows[text].astype(object).where(rows[text].notna(), "")
    numbers = [c for c in numbers if c in rows]
    rows[numbers] = rows[numbers].astype("float64")
    return rows


def _row_facet(order: Sequence[str]) -> alt.Row:
    return alt.Row(
        "dimension_label:N",
        sort=list(order),
        title=None,
        header=alt.Header(
            labelAngle=0,
            labelAlign="left",
            labelAnchor="start",
            labelOrient="top",
            labelFontSize=13,
            labelFontWeight="bold",
        ),
    )


def _member_encodings(members: Sequence[str], texts: Mapping[str, str]) -> tuple[alt.Color, alt.Shape]:
    """Colour and shape by member, one legend for both (same field, title and domain)."""
    colour, shape = member_scale(members)
    return (
        alt.Color("label:N", title=texts["member"], scale=colour, sort=list(members)),
        alt.Shape("label:N", title=texts["member"], scale=shape, sort=list(members)),
    )


def _member_course(base, field: str, y_scale, member, shape, texts: Mapping[str, str], values: list) -> tuple:
    """Each member's ``field`` over the sessions: a line in their colour, and filled points in their shape.

    ``values``: the tooltip's lines after the member and the session.
    """
    rows = base.transform_filter(alt.datum.layer == "line")
    line = rows.mark_line(strokeWidth=2).encode(y=alt.Y(f"{field}:Q", scale=y_scale), color=member, detail="member:N")
    tooltip = [alt.Tooltip("label:N", title=texts["member"]), alt.Tooltip("session:Q", title=texts["session"])]
    points = rows.mark_point(filled=True, size=MARKER, opacity=1).encode(
        y=alt.Y(f"{field}:Q", scale=y_scale), color=member, shape=shape, tooltip=tooltip + values
    )
    return line, points


def member_lines(
    lines: pd.DataFrame,
    band: pd.DataFrame,
    marks: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    width: int = WIDTH,
    expected: pd.DataFrame | None = None,
) -> alt.FacetChart:
    """Per dimension, each member's POMP over the sessions as a line over the family's range.

    The band behind the lines runs from the lowest to the highest member; it is coloured
    where that range reaches the split threshold. Ruptures and repairs are marked on the
    lines (``marks``: rupture_open, rupture_unrepaired, rupture_repaired, repair). The
    points are filled: they are the members' own view.
    """
    frames, structure = _member_lines_parts(lines, band, marks, members, dimensions, texts, width, expected)
    return _member_lines_chart(frames, *structure)


def _member_lines_parts(
    lines: pd.DataFrame,
    band: pd.DataFrame,
    marks: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    width: int = WIDTH,
    expected: pd.DataFrame | None = None,
) -> tuple[dict[str, pd.DataFrame], tuple]:
    """:func:`member_lines`' data, and what its spec depends on besides the data (see :func:`templated`)."""
    rows = pd.concat(
        [
            *expected_rows(expected),
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
        *EXPECTED_BAND_COLUMNS,
    )
    rows = rows[[c for c in columns if c in rows.columns]]
    rows = _text_columns(
        rows,
        ("member", "label", "dimension", "dimension_label", "state", "event", "glyph"),
        ("pomp", "low", "high", "range", *EXPECTED_BAND_COLUMNS),
    )
    sessions = sessions_of(lines, band, marks)
    with_expected = expected is not None and not expected.empty
    return {"rows": rows}, (tuple(members), tuple(dimensions), _frozen(texts), tuple(sessions), width, with_expected)


def _member_lines_chart(
    data: Mapping[str, pd.DataFrame],
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    sessions: Sequence[int],
    width: int,
    with_expected: bool = False,
) -> alt.FacetChart:
    texts = dict(texts)
    member, shape = _member_encodings(members, texts)
    y_scale = pomp_scale()
    y_axis = value_axis(POMP_TICKS)
    base = alt.Chart().encode(x=session_x(sessions, texts["session"], width))
    # One session has no width for an area: the range is a grey bar there, like a split's orange one.
    bar = _bar_width(sessions, width)
    in_band = base.transform_filter(alt.datum.layer == "band")
    if len(sessions) > 1:
        in_band = in_band.mark_area(color=BAND_COLOURS["balanced"])
    else:
        in_band = in_band.mark_rule(strokeWidth=bar, color=BAND_COLOURS["balanced"])
    area = in_band.encode(
        y=alt.Y("low:Q", scale=y_scale, axis=y_axis, title=axis_title(texts["pomp"], LINES_HEIGHT)),
        y2="high:Q",
    )
    # A split session gets a bar across the whole range, so the threshold shows where it is crossed.
    splits = (
        base.transform_filter((alt.datum.layer == "band") & (alt.datum.state == texts["split"]))
        .mark_rule(strokeWidth=bar, opacity=0.8, color=BAND_COLOURS["split"])
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
    line, points = _member_course(
        base, "pomp", y_scale, member, shape, texts, [alt.Tooltip("pomp:Q", format=".0f", title=texts["pomp"])]
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
    behind = expected_layers(base, y_scale, texts, sessions, width) if with_expected else []
    layered = alt.layer(area, splits, *behind, line, points, events, data=data["rows"]).properties(
        width=width, height=LINES_HEIGHT
    )
    chart = layered.facet(row=_row_facet([texts[f"dim_{d}"] for d in dimensions]))
    return chart.properties(
        title=chart_title(texts["lines_title"], texts["band_note"], width),
        description=texts["lines_alt"],
    )


# --- The expected trajectory (metrics.md section 10) behind the total's lines ----------------------------

#: The band's columns in the member lines' rows.
EXPECTED_BAND_COLUMNS = ("p10", "p25", "p50", "p75", "p90")
#: p10..p90 lighter, p25..p75 darker: one blue, drawn translucent behind the members' lines.
EXPECTED_COLOUR = "#4A90C8"
EXPECTED_OPACITY = {"outer": 0.22, "inner": 0.4}


def expected_rows(expected: pd.DataFrame | None) -> list[pd.DataFrame]:
    """The expected band's rows for the member lines' data (``layer`` ``expected``); none without a band."""
    if expected is None or expected.empty:
        return []
    return [expected.assign(layer="expected")]


def expected_layers(base, y_scale, texts: Mapping[str, str], sessions: Sequence[int], width: int) -> list:
    """The expected band behind the lines: p10 to p90 lighter, p25 to p75 darker (a bar at a single session).

    Where a session number has no band (fewer than 30 points) its values are empty and nothing is drawn.
    """
    rows = base.transform_filter(alt.datum.layer == "expected")
    tooltip = [
        alt.Tooltip("session:Q", title=texts["session"]),
        *(alt.Tooltip(f"{p}:Q", format=".0f", title=texts[f"expected_{p}"]) for p in EXPECTED_BAND_COLUMNS),
    ]
    layers = []
    for (low, high), part in ((("p10", "p90"), "outer"), (("p25", "p75"), "inner")):
        opacity = EXPECTED_OPACITY[part]
        if len(sessions) > 1:
            mark = rows.mark_area(color=EXPECTED_COLOUR, opacity=opacity)
        else:
            mark = rows.mark_rule(strokeWidth=2 * _bar_width(sessions, width), color=EXPECTED_COLOUR, opacity=opacity)
        layers.append(mark.encode(y=alt.Y(f"{low}:Q", scale=y_scale), y2=f"{high}:Q", tooltip=tooltip))
    return layers


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
    frames, structure = _heatmap_parts(lines, members, dimensions, texts, dimension, choose, width)
    return _heatmap_chart(frames, *structure)


def _heatmap_parts(
    lines: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    dimension: str = "total",
    choose: bool = True,
    width: int = WIDTH,
) -> tuple[dict[str, pd.DataFrame], tuple]:
    """:func:`heatmap`'s data, and what its spec depends on besides the data (see :func:`templated`)."""
    data = lines if choose else lines[lines["dimension"] == dimension]
    structure = (tuple(members), tuple(dimensions), _frozen(texts), dimension, choose, tuple(sessions_of(lines)), width)
    return {"cells": data}, structure


def _heatmap_chart(
    frames: Mapping[str, pd.DataFrame],
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    dimension: str,
    choose: bool,
    sessions: Sequence[int],
    width: int,
) -> alt.Chart:
    texts = dict(texts)
    data = frames["cells"]
    if choose:
        pick = alt.param(
            name="dimension",
            value=dimension,
            bind=alt.binding_select(
                options=list(dimensions), labels=[texts[f"dim_{d}"] for d in dimensions], name=texts["choose"]
            ),
        )
        where = alt.datum.dimension == pick
    else:
        where = None
    base = alt.Chart(data).encode(
        x=alt.X(
            "session:O",
            title=texts["session"],
            scale=alt.Scale(domain=sessions),
            axis=value_axis(session_ticks(sessions, width), labelAngle=0),
        ),
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
    # The scores in the cells where they fit (many sessions: colour only; the values are in the table).
    layers = [cells, values] if width / max(len(sessions), 1) >= CELL_TEXT else [cells]
    chart = alt.layer(*layers).properties(
        width=width,
        height=alt.Step(28),
        title=alt.Title(texts["heat_title"], anchor="start"),
        description=texts["heat_alt"],
    )
    if choose:
        chart = chart.add_params(pick)
    return chart


def view_legend(texts: Mapping[str, str]) -> alt.Chart:
    """A layer that draws nothing but the view's legend: a filled and an open marker in a neutral colour.

    Its own channel (``fill``), so it never merges with the members' colour and shape legend;
    Vega-Lite draws no legend for ``fillOpacity``, which would otherwise say the same.
    """
    labels = [texts["own"], texts["therapist"]]
    return (
        alt.Chart(pd.DataFrame({"view_label": labels}))
        .mark_point(shape="circle", filled=True, stroke=NEUTRAL, strokeWidth=2, opacity=0, size=0)
        .encode(
            fill=alt.Fill(
                "view_label:N",
                title=texts["view"],
                sort=labels,
                scale=alt.Scale(domain=labels, range=[NEUTRAL, "#FFFFFF"]),
                legend=alt.Legend(
                    symbolOpacity=1, symbolSize=VIEW_MARKER, symbolStrokeColor=NEUTRAL, symbolStrokeWidth=2
                ),
            )
        )
    )


def session_views(
    views: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    width: int = WIDTH,
) -> alt.LayerChart:
    """One session: per dimension, each member's own view (filled) and the therapist's view of them (open).

    Each member has a row of their own within a dimension, so members with the same score
    stay apart. A grey band runs from the lowest to the highest member's own view (a split
    shows as a wide band) and a thin line in the member's colour joins their own view and
    the therapist's (a perspective gap shows as a long line).
    """
    frames, structure = _session_views_parts(views, members, dimensions, texts, width)
    return _session_views_chart(frames, *structure)


def _session_views_parts(
    views: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    width: int = WIDTH,
) -> tuple[dict[str, pd.DataFrame], tuple]:
    """:func:`session_views`' data, and what its spec depends on besides the data (see :func:`templated`)."""
    views = views.assign(view_label=views["view"].map({"member": texts["own"], "therapist": texts["therapist"]}))
    own = views[views["view"] == "member"]
    spread = own.groupby("dimension_label", as_index=False)["pomp"].agg(low="min", high="max")
    pairs = (
        views.pivot_table(index=["label", "dimension_label"], columns="view", values="pomp", aggfunc="first")
        .reindex(columns=["member", "therapist"])
        .dropna()
        .reset_index()
        .rename(columns={"member": "own_pomp", "therapist": "therapist_pomp"})
    )
    data = {"spread": spread, "pairs": pairs, "own": own, "therapist": views[views["view"] == "therapist"]}
    return data, (tuple(members), tuple(dimensions), _frozen(texts), width)


def _session_views_chart(
    data: Mapping[str, pd.DataFrame],
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    width: int,
) -> alt.LayerChart:
    texts = dict(texts)
    member, shape = _member_encodings(members, texts)
    order = [texts[f"dim_{d}"] for d in dimensions]
    y = alt.Y(
        "dimension_label:N",
        title=None,
        sort=order,
        scale=alt.Scale(domain=order, paddingInner=0.25, paddingOuter=0.1),
        axis=alt.Axis(labelFontWeight="bold", ticks=False, domain=False),
    )
    y_offset = alt.YOffset("label:N", sort=list(members), scale=alt.Scale(domain=list(members), paddingOuter=0.3))
    x_scale = pomp_scale()
    x_axis = value_axis(POMP_TICKS)
    band = (
        alt.Chart(data["spread"])
        .mark_bar(color=BAND_COLOURS["balanced"])
        .encode(y=y, x=alt.X("low:Q", scale=x_scale, axis=x_axis, title=texts["pomp"]), x2="high:Q")
    )
    # The line joining the two views says nothing its two points do not (a screen reader would hear column names).
    gap = (
        alt.Chart(data["pairs"])
        .mark_rule(strokeWidth=1.5, aria=False)
        .encode(y=y, yOffset=y_offset, x=alt.X("own_pomp:Q", scale=x_scale), x2="therapist_pomp:Q", color=member)
    )
    encoding = dict(
        y=y,
        yOffset=y_offset,
        x=alt.X("pomp:Q", scale=x_scale),
        color=member,
        shape=shape,
        tooltip=[
            alt.Tooltip("label:N", title=texts["member"]),
            alt.Tooltip("view_label:N", title=texts["view"]),
            alt.Tooltip("dimension_label:N", title=texts["dimension"]),
            alt.Tooltip("pomp:Q", format=".0f", title=texts["pomp"]),
        ],
    )
    filled = alt.Chart(data["own"]).mark_point(size=VIEW_MARKER, filled=True, opacity=1).encode(**encoding)
    # The open marks on top and larger: where both views agree, a ring shows round the filled mark.
    hollow = (
        alt.Chart(data["therapist"])
        .mark_point(size=VIEW_MARKER * 2.5, filled=False, strokeWidth=2, opacity=1)
        .encode(**encoding)
    )
    return alt.layer(band, gap, filled, hollow, view_legend(texts)).properties(
        width=width,
        # A number, not a step: the band layer has no member offset, and two steps would conflict.
        height=len(order) * (len(members) + 1) * STEP,
        title=alt.Title(texts["views_title"], anchor="start"),
        description=texts["views_alt"],
    )


def _rules(frame: pd.DataFrame, lines: Mapping[str, float]) -> pd.DataFrame:
    """Reference-line rows for a layered facet: one per dimension label in ``frame`` and per named value."""
    labels = list(dict.fromkeys(frame["dimension_label"])) if "dimension_label" in frame else []
    return pd.DataFrame(
        [
            {"layer": "rule", "rule": name, "value": value, "dimension_label": d}
            for d in labels
            for name, value in lines.items()
        ],
        columns=["layer", "rule", "value", "dimension_label"],
    )


def balance_lines(
    balance: pd.DataFrame,
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    threshold: float,
    width: int = WIDTH,
) -> alt.FacetChart:
    """The family's balance (100 minus the range between the members) per dimension over the sessions.

    ``balance``: session, dimension, dimension_label, balance, split (``n`` may be there; it is
    not drawn). One row per dimension
    in ``dimensions`` order, each with a dashed line at ``100 - threshold``: below it the
    family is split. Rows rather than one panel of five lines: no colour has to tell the
    dimensions apart, and the rows line up with the members' lines.
    """
    frames, structure = _balance_lines_parts(balance, dimensions, texts, threshold, width)
    return _balance_lines_chart(frames, *structure)


def _balance_lines_parts(
    balance: pd.DataFrame,
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    threshold: float,
    width: int = WIDTH,
) -> tuple[dict[str, pd.DataFrame], tuple]:
    """:func:`balance_lines`' data, and what its spec depends on besides the data (see :func:`templated`)."""
    data = balance[balance["dimension"].isin(list(dimensions))] if "dimension" in balance else balance
    data = data.assign(
        layer="line",
        range=100 - data["balance"],
        state=data["split"].map(lambda s: texts["split"] if s else texts["balanced"]) if "split" in data else "",
    )
    rows = pd.concat([data, _rules(data, {"split": 100 - threshold})], ignore_index=True)
    columns = ("layer", "rule", "value", "session", "dimension", "dimension_label", "balance", "range", "state")
    rows = _text_columns(
        rows[[c for c in columns if c in rows]],
        ("layer", "rule", "dimension", "dimension_label", "state"),
        ("value", "balance", "range"),
    )
    return {"rows": rows}, (tuple(dimensions), _frozen(texts), tuple(sessions_of(balance)), width)


def _balance_lines_chart(
    data: Mapping[str, pd.DataFrame],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    sessions: Sequence[int],
    width: int,
) -> alt.FacetChart:
    texts = dict(texts)
    order = [texts[f"dim_{d}"] for d in dimensions]
    y_scale = pomp_scale()
    base = alt.Chart().encode(x=session_x(sessions, texts["session"], width))
    rule = (
        alt.Chart()
        .transform_filter(alt.datum.layer == "rule")
        .mark_rule(color=BAND_COLOURS["split_line"], strokeDash=[6, 4], strokeWidth=1.5)
        .encode(
            y=alt.Y(
                "value:Q",
                scale=y_scale,
                axis=value_axis(POMP_TICKS),
                title=axis_title(texts["balance"], BALANCE_HEIGHT),
            )
        )
    )
    # The line says nothing a screen reader needs beyond its points; each point says itself in the catalog's words
    # (Vega's own description would name the data's columns: "balance: 75; state: ...").
    line = (
        base.transform_filter(alt.datum.layer == "line")
        .mark_line(color=NEUTRAL, strokeWidth=2, aria=False)
        .encode(y=alt.Y("balance:Q", scale=y_scale))
    )
    spoken = (
        alt.datum.dimension_label
        + ", "
        + f"{texts['session']} "
        + alt.datum.session
        + ": "
        + f"{texts['balance']} "
        + alt.expr.format(alt.datum.balance, ".0f")
        + " ("
        + alt.datum.state
        + ")"
    )
    points = (
        base.transform_filter(alt.datum.layer == "line")
        .transform_calculate(spoken=spoken)
        .mark_point(filled=True, size=MARKER, opacity=1)
        .encode(
            y=alt.Y("balance:Q", scale=y_scale),
            description=alt.Description("spoken:N"),
            # A split session's point in the dashed line's colour (it also lies below that line).
            color=alt.Color(
                "state:N",
                scale=alt.Scale(
                    domain=[texts["balanced"], texts["split"]], range=[NEUTRAL, BAND_COLOURS["split_line"]]
                ),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("dimension_label:N", title=texts["dimension"]),
                alt.Tooltip("session:Q", title=texts["session"]),
                alt.Tooltip("balance:Q", format=".0f", title=texts["balance"]),
                alt.Tooltip("range:Q", format=".0f", title=texts["range"]),
            ],
        )
    )
    layered = alt.layer(rule, line, points, data=data["rows"]).properties(width=width, height=BALANCE_HEIGHT)
    chart = layered.facet(row=_row_facet(order))
    return chart.properties(
        title=chart_title(texts["balance_title"], texts["balance_note"], width),
        description=texts["balance_alt"],
    )


def gap_lines(
    gaps: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    threshold: float,
    width: int = WIDTH,
) -> alt.FacetChart:
    """Per dimension in ``dimensions`` (pass ``["total"]`` for the total only), each member's gap over the sessions.

    ``gaps``: member, label, session, dimension, dimension_label, gap (the member's own POMP
    minus the therapist's view of them, -100..100), self_pomp, therapist_pomp. A solid line
    at 0, dashed lines at ``threshold`` and ``-threshold``; members keep their colour and shape.
    """
    frames, structure = _gap_lines_parts(gaps, members, dimensions, texts, threshold, width)
    return _gap_lines_chart(frames, *structure)


def _gap_lines_parts(
    gaps: pd.DataFrame,
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    threshold: float,
    width: int = WIDTH,
) -> tuple[dict[str, pd.DataFrame], tuple]:
    """:func:`gap_lines`' data, and what its spec depends on besides the data (see :func:`templated`)."""
    data = gaps[gaps["dimension"].isin(list(dimensions))] if "dimension" in gaps else gaps
    rules = _rules(data, {"zero": 0.0, "above": float(threshold), "below": -float(threshold)})
    rows = pd.concat([data.assign(layer="line"), rules], ignore_index=True)
    columns = (
        "layer",
        "rule",
        "value",
        "member",
        "label",
        "session",
        "dimension",
        "dimension_label",
        "gap",
        "self_pomp",
        "therapist_pomp",
    )
    rows = _text_columns(
        rows[[c for c in columns if c in rows]],
        ("layer", "rule", "member", "label", "dimension", "dimension_label"),
        ("value", "gap", "self_pomp", "therapist_pomp"),
    )
    return {"rows": rows}, (tuple(members), tuple(dimensions), _frozen(texts), tuple(sessions_of(gaps)), width)


def _gap_lines_chart(
    data: Mapping[str, pd.DataFrame],
    members: Sequence[str],
    dimensions: Sequence[str],
    texts: Mapping[str, str],
    sessions: Sequence[int],
    width: int,
) -> alt.FacetChart:
    texts = dict(texts)
    member, shape = _member_encodings(members, texts)
    order = [texts[f"dim_{d}"] for d in dimensions]
    y_scale = pomp_scale(-100, 100)
    base = alt.Chart().encode(x=session_x(sessions, texts["session"], width))
    zero = (
        alt.Chart()
        .transform_filter((alt.datum.layer == "rule") & (alt.datum.rule == "zero"))
        .mark_rule(color=NEUTRAL, strokeWidth=1)
        .encode(
            y=alt.Y("value:Q", scale=y_scale, axis=value_axis(GAP_TICKS), title=axis_title(texts["gap"], LINES_HEIGHT))
        )
    )
    limits = (
        alt.Chart()
        .transform_filter((alt.datum.layer == "rule") & (alt.datum.rule != "zero"))
        .mark_rule(color=BAND_COLOURS["split_line"], strokeDash=[6, 4], strokeWidth=1.5)
        .encode(y=alt.Y("value:Q", scale=y_scale))
    )
    line, points = _member_course(
        base,
        "gap",
        y_scale,
        member,
        shape,
        texts,
        [
            alt.Tooltip("gap:Q", format="+.0f", title=texts["gap"]),
            alt.Tooltip("self_pomp:Q", format=".0f", title=texts["own"]),
            alt.Tooltip("therapist_pomp:Q", format=".0f", title=texts["therapist"]),
        ],
    )
    layered = alt.layer(zero, limits, line, points, data=data["rows"]).properties(width=width, height=LINES_HEIGHT)
    chart = layered.facet(row=_row_facet(order))
    return chart.properties(
        title=chart_title(texts["gap_title"], texts["gap_note"], width),
        description=texts["gap_alt"],
    )


def spec(chart) -> dict:
    """The chart, with the app's fonts and axes, as a Vega-Lite dict.

    Not validated against the Vega-Lite schema here (that costs more than building the
    chart); the tests validate every builder's output.
    """
    return _config(chart).to_dict(validate=False)


# --- specs built once, filled with each family's data ---------------------------------------------
#
# A chart's Vega-Lite spec depends on its data only through the named datasets it reads (Altair
# moves every DataFrame to the spec's ``datasets``, named by a hash of the values), and on a few
# things besides: the members, dimensions, sessions, texts, width. A builder registered in
# ``_PARTS`` is two functions: ``parts`` turns the builder's arguments into the named data frames
# and a hashable ``structure`` (everything else the spec depends on); ``chart`` builds the Altair
# chart from the frames and the structure alone. :func:`templated` builds each structure's spec
# once with Altair (with a one-row placeholder per frame), keeps it, and per call only converts the
# frames to values (Altair's own data transformer and dataset names) and puts them in: the result
# is the dict :func:`spec` gives for the built chart, key for key. A chart that draws a new layer
# from data of its own adds that frame to its ``parts`` (any number of frames); a builder not
# registered is built in full.

#: Specs kept per process (each a few tens of kB): the latest families' structures.
TEMPLATES = 256
_SLOT = "__dataset__"


def _frozen(texts: Mapping[str, str]) -> tuple:
    """The texts as a hashable part of a chart's structure (the chart functions take it back as a dict)."""
    return tuple(sorted(texts.items()))


def templated(builder, *args, **kwargs) -> dict:
    """``spec(builder(*args, **kwargs))``, from the spec kept for the chart's structure, filled with its data."""
    parts = _PARTS.get(builder)
    if parts is None:
        return spec(builder(*args, **kwargs))
    prepare, chart = parts
    frames, structure = prepare(*args, **kwargs)
    template = _template(chart, structure, tuple(frames))
    names, values = {}, {}
    for slot, frame in frames.items():
        values[slot] = _values(frame)
        names[slot] = _dataset_name(values[slot])
    out = _replaced(template.spec, template.refs, names)
    datasets = {}
    for name, slot in template.datasets:
        if slot is None:  # data of the chart itself (a legend's labels): part of the structure
            datasets.setdefault(name, template.constants[name])
        else:
            datasets.setdefault(names[slot], values[slot])
    return {key: (datasets if key == "datasets" else value) for key, value in out.items()}


class _Template:
    """A chart's spec with placeholders for its frames' dataset names, and where they are referenced."""

    def __init__(self, full: dict, placeholders: Mapping[str, str]):
        self.constants = {n: v for n, v in full.get("datasets", {}).items() if n not in placeholders}
        #: (dataset name, frame slot or None for a constant) in the spec's order.
        self.datasets = [(n, placeholders.get(n)) for n in full.get("datasets", {})]
        self.refs: list[tuple[tuple, str]] = []
        self._find(full, (), placeholders)
        self.spec = full

    def _find(self, node, path: tuple, placeholders: Mapping[str, str]) -> None:
        if isinstance(node, dict):
            name = node.get("name")
            if path and path[-1] == "data" and isinstance(name, str) and name in placeholders:
                self.refs.append((path, placeholders[name]))
            for key, value in node.items():
                if key != "datasets" or path:
                    self._find(value, (*path, key), placeholders)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                self._find(value, (*path, i), placeholders)


@functools.lru_cache(maxsize=TEMPLATES)
def _template(chart, structure: tuple, slots: tuple[str, ...]) -> _Template:
    """The spec of ``chart`` for ``structure``, built with Altair once, its frames' names as placeholders."""
    placeholders = {
        slot: pd.DataFrame({_SLOT: [f"{chart.__qualname__}:{slot}"]}) for slot in slots
    }  # unique values, so unique names
    full = spec(chart(placeholders, *structure))
    return _Template(full, {_dataset_name(_values(frame)): slot for slot, frame in placeholders.items()})


def _values(frame: pd.DataFrame) -> list:
    """A frame's values as Altair puts them in a spec (its default data transformer), column by column.

    The same records as ``alt.data_transformers.get()(frame)["values"]`` (a test compares them), made
    from whole columns rather than value by value: numbers and booleans as Python's, NaN and infinity
    as None, categories and strings as their values with None where missing. A frame with anything
    else (dates, nullable numbers, other objects), over Altair's row limit, or another active
    transformer goes through Altair itself.
    """
    options = alt.data_transformers.options
    limit = options.get("max_rows", _MAX_ROWS)
    if (
        alt.data_transformers.active != "default"
        or set(options) - {"max_rows"}
        or (limit is not None and len(frame) > limit)
        or isinstance(frame.columns, pd.MultiIndex)
        or not all(isinstance(c, str) for c in frame.columns)
    ):
        return alt.data_transformers.get()(frame)["values"]
    columns = []
    for _, column in frame.items():
        values = _column_values(column)
        if values is None:
            return alt.data_transformers.get()(frame)["values"]
        columns.append(values)
    names = list(frame.columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


#: Altair's default limit of rows in a chart's data (its transformer refuses more, unless told otherwise).
_MAX_ROWS = 5000
_PLAIN = (str, bool, int, float, type(None))


def _column_values(column: pd.Series) -> list | None:
    """One column's values as Altair's sanitising and ``to_dict(orient="records")`` give them; None: not known here."""
    dtype = column.dtype
    kind = getattr(dtype, "kind", None)
    if dtype == "float64":
        array = column.to_numpy()
        values = array.tolist()
        bad = ~np.isfinite(array)
        if bad.any():
            for i in np.flatnonzero(bad).tolist():
                values[i] = None
        return values
    if dtype == "int64" or dtype == "bool":
        return column.to_numpy().tolist()
    if isinstance(dtype, pd.CategoricalDtype) or str(dtype) in ("str", "string"):
        values = column.astype(object).tolist()
    elif kind == "O":
        values = column.tolist()
    else:
        return None
    out = []
    for value in values:
        if value is None or (isinstance(value, float) and value != value):
            out.append(None)
        elif type(value) in _PLAIN and value is not pd.NA:
            out.append(value)
        else:
            return None
    return out


def _replaced(template: dict, refs: list[tuple[tuple, str]], names: Mapping[str, str]) -> dict:
    """A copy of ``template`` with each reference at ``refs`` naming its slot's dataset (the rest shared)."""
    out = dict(template)
    copied: dict[tuple, object] = {(): out}
    for path, slot in refs:
        node = out
        for depth, key in enumerate(path):
            here = path[: depth + 1]
            if here not in copied:
                child = node[key]
                copied[here] = dict(child) if isinstance(child, dict) else list(child)
                node[key] = copied[here]
            node = copied[here]
        node["name"] = names[slot]
    return out


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


#: The builders whose specs :func:`templated` keeps: each its ``parts`` and its ``chart`` function.
_PARTS = {
    member_lines: (_member_lines_parts, _member_lines_chart),
    heatmap: (_heatmap_parts, _heatmap_chart),
    session_views: (_session_views_parts, _session_views_chart),
    balance_lines: (_balance_lines_parts, _balance_lines_chart),
    gap_lines: (_gap_lines_parts, _gap_lines_chart),
}
