"""The tables behind the family dashboard's charts, and the chart builders (pure: no app, no database)."""

from __future__ import annotations

import functools
from xml.etree import ElementTree

import altair as alt
import pandas as pd
import pytest
import vl_convert

from familyalliance.core import analytics
from familyalliance.core.analytics import Settings
from familyalliance.core.charts import builders as charts
from familyalliance.core.charts import render
from familyalliance.core.charts import tables as chart_tables

from ..analytics_data import frame, row

DIMS = chart_tables.dimension_order()
TEXTS = chart_tables.chart_texts("en")


# --- the tables behind the charts (pure) -------------------------------------------------------


def two_members():
    """Mother and youth over three sessions; alliance16 at session 3 alongside the youth's check4.

    Scales: check4 0..10 (POMP = 10 x value), alliance16 1..5, observer4 -3..3.
    """
    four = ("bond", "goals_tasks", "safety", "shared_purpose")
    return frame(
        row("M1", 1, "check4", role="mother", **dict.fromkeys(four, 8)),
        row("Y1", 1, "check4", role="youth", **dict.fromkeys(four, 8)),
        row("M1", 2, "check4", role="mother", **dict.fromkeys(four, 10)),
        row("Y1", 2, "check4", role="youth", **dict.fromkeys(four, 2)),
        row("Y1", 3, "check4", role="youth", **dict.fromkeys(four, 1)),
        row("Y1", 3, "alliance16", role="youth", **dict.fromkeys(four, 3)),
        row("M1", 3, "observer4", role="mother", **dict.fromkeys(four, 0)),
    )


def test_member_lines_take_the_preferred_instrument_per_session():
    lines = chart_tables.member_lines(two_members())
    youth = lines[(lines["member"] == "Y1") & (lines["dimension"] == "bond")].set_index("session")["pomp"]
    # At session 3 the youth's alliance16 (3 on 1..5: POMP 50) speaks for them, not the check4 (10).
    assert youth.to_dict() == {1: 80.0, 2: 20.0, 3: 50.0}
    assert set(lines["member"]) == {"M1", "Y1"}  # the therapist's observer4 is not a member's line


def test_band_marks_a_split_from_the_threshold():
    band = chart_tables.family_band(chart_tables.member_lines(two_members()), Settings()).set_index(
        ["session", "dimension"]
    )
    assert band.loc[(1, "bond"), "range"] == 0 and not band.loc[(1, "bond"), "split"]
    assert band.loc[(2, "bond"), "range"] == 80 and band.loc[(2, "bond"), "split"]
    assert band.loc[(3, "bond"), "n"] == 1 and not band.loc[(3, "bond"), "split"]  # one member is never split
    assert chart_tables.family_band(chart_tables.member_lines(two_members()), Settings(split_threshold=80))[
        "split"
    ].any()
    assert not chart_tables.family_band(chart_tables.member_lines(two_members()), Settings(split_threshold=81))[
        "split"
    ].any()


def test_balance_is_100_minus_the_total_range_over_the_latest_sessions():
    balance = chart_tables.balance_series(two_members(), last=10)
    assert balance.to_dict("records") == [
        {"family": "F", "session": 1, "balance": 100.0},
        {"family": "F", "session": 2, "balance": 20.0},
    ]  # session 3: only the youth rated, no balance
    assert chart_tables.balance_series(two_members(), last=1)["session"].tolist() == [2]


def test_rupture_marks_sit_on_the_members_line():
    scores = frame(*[row("Y1", s, "check4", role="youth", bond=v) for s, v in [(1, 9), (2, 9), (3, 2), (4, 9)]])
    scores = pd.concat([scores, frame(row("Y1", 4, "alliance16", role="youth", bond=5))], ignore_index=True)
    marks = chart_tables.rupture_marks(analytics.ruptures(scores, Settings()))
    bond = marks[marks["dimension"] == "bond"]
    # The repair (check4, POMP 90) is drawn where the line is: alliance16 speaks for session 4 (POMP 100).
    assert bond[["session", "kind", "pomp"]].to_dict("records") == [
        {"session": 3, "kind": "rupture_repaired", "pomp": 20.0},
        {"session": 4, "kind": "repair", "pomp": 100.0},
    ]


def test_session_views_pair_each_member_with_the_therapist():
    views = chart_tables.session_views(two_members(), 3)
    mother = views[(views["member"] == "M1") & (views["dimension"] == "bond")]
    assert mother[["view", "pomp"]].to_dict("records") == [{"view": "therapist", "pomp": 50.0}]  # 0 on -3..3
    assert set(views[views["member"] == "Y1"]["view"]) == {"member"}


# --- chart builders (pure): checked on their Vega-Lite output -----------------------------------


def chart_frames():
    scores = two_members()
    names = {"M1": "Sandra", "Y1": "Noor"}
    labels = {d: TEXTS[f"dim_{d}"] for d in DIMS}
    lines = chart_tables.labelled(chart_tables.member_lines(scores), names, labels)
    band = chart_tables.labelled(chart_tables.family_band(chart_tables.member_lines(scores)), names, labels)
    marks = chart_tables.labelled(chart_tables.rupture_marks(analytics.ruptures(scores)), names, labels)
    views = chart_tables.labelled(chart_tables.session_views(scores, 3), names, labels)
    return lines, band, marks, views, ["Sandra", "Noor"]


def all_charts():
    lines, band, marks, views, members = chart_frames()
    texts = dict(TEXTS, views_title="At session 3")
    return {
        "lines": charts.member_lines(lines, band, marks, members, DIMS, texts),
        "heat": charts.heatmap(lines, members, DIMS, texts),
        "views": charts.session_views(views, members, DIMS, texts),
    }


def find(spec, key):
    """Every value of ``key`` anywhere in a nested spec."""
    if isinstance(spec, dict):
        for k, v in spec.items():
            if k == key:
                yield v
            yield from find(v, key)
    elif isinstance(spec, list):
        for v in spec:
            yield from find(v, key)


@pytest.mark.parametrize("name", ["lines", "heat", "views"])
def test_each_builder_gives_a_valid_vega_lite_spec(name):
    spec = all_charts()[name].to_dict(validate=True)  # validates against Altair's Vega-Lite schema
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")


def test_members_keep_their_colour_on_every_chart():
    specs = {name: charts.spec(chart) for name, chart in all_charts().items() if name != "heat"}  # heat: by score
    for spec in specs.values():
        colour_scales = [c["scale"] for c in find(spec, "color") if isinstance(c, dict) and c.get("field") == "label"]
        assert colour_scales, "each chart colours its members"
        for scale in colour_scales:
            assert scale["domain"] == ["Sandra", "Noor"]
            assert scale["range"] == list(charts.PALETTE[:2])


def test_member_scales_cycle_colours_and_shapes_independently():
    colour, shape = charts.member_scale([f"m{i}" for i in range(10)])
    pairs = set(zip(colour.range, shape.range, strict=True))
    assert len(pairs) == 10  # 8 colours and 7 shapes: no two of ten members look alike


def test_palette_contrast_on_white_is_at_least_3_to_1():
    def luminance(hex_colour):
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for colour in charts.PALETTE:
        assert 1.05 / (luminance(colour) + 0.05) >= 3, colour


def test_lines_chart_draws_the_band_splits_and_marks():
    spec = charts.spec(all_charts()["lines"])
    filters = [f for f in find(spec, "filter")]
    assert any("band" in str(f) for f in filters) and any("mark" in str(f) for f in filters)
    data = next(iter(spec["datasets"].values()))
    layers = {r["layer"] for r in data}
    assert layers == {"line", "band", "mark"}  # the youth's drop from 80 to 20 is a rupture
    assert {r["glyph"] for r in data if r["layer"] == "mark"} == {charts.GLYPHS["rupture"]}
    assert " ".join(spec["title"]["subtitle"]) == TEXTS["band_note"]  # broken into lines, every word kept
    assert spec["facet"]["row"]["sort"] == [TEXTS[f"dim_{d}"] for d in DIMS]


def test_heat_map_lets_the_reader_choose_the_dimension():
    spec = charts.spec(all_charts()["heat"])
    (param,) = spec["params"]
    assert param["value"] == "total" and param["bind"]["options"] == DIMS
    fixed = charts.spec(charts.heatmap(chart_frames()[0], ["Sandra", "Noor"], DIMS, TEXTS, "bond", choose=False))
    assert "params" not in fixed
    assert {r["dimension"] for r in next(iter(fixed["datasets"].values()))} == {"bond"}


def test_specs_render_through_vl_convert_with_the_dutch_locale():
    texts = chart_tables.chart_texts("nl")
    lines, band, marks, views, members = chart_frames()
    chart = charts.member_lines(lines, band, marks, members, DIMS, texts)
    svg = vl_convert.vegalite_to_svg(charts.spec(chart), vl_version="6.4", format_locale="nl-NL")
    assert svg.startswith("<svg") and texts["lines_title"] in svg and "Sessie" in svg


def test_sparkline_points_scale_to_the_box():
    assert charts.sparkline([]) == ""
    assert charts.sparkline([100, 50, 0], width=10, height=20) == "0.0,0.0 5.0,10.0 10.0,20.0"
    assert charts.sparkline([150, -5], width=10, height=20) == "0.0,0.0 10.0,20.0"  # clipped to the scale


def test_alt_is_pinned_to_the_bundle_version():

    assert alt.SCHEMA_VERSION.startswith(f"v{render.VL_VERSION}")


# --- charts that read right: session axis, explicit domains, view by fill, text alternatives -----

FOUR = ("bond", "goals_tasks", "safety", "shared_purpose")
#: Four members; Noor and Daan always give the same scores, the therapist sees Johan at 100 (observer4: 3 on -3..3).
FAMILY = (("M1", "mother", "Sandra"), ("F1", "father", "Johan"), ("Y1", "youth", "Noor"), ("Y2", "youth", "Daan"))
ALTS = {"lines": "lines_alt", "heat": "heat_alt", "views": "views_alt", "balance": "balance_alt", "gap": "gap_alt"}


def family_scores(sessions: int) -> pd.DataFrame:
    """The four members on check4 (0..10) over ``sessions`` sessions, with the therapist's observer4 of each."""
    rows = []
    for s in range(1, sessions + 1):
        own = {"M1": 2 + (3 * s) % 9, "F1": 8, "Y1": 5 + s % 4, "Y2": 5 + s % 4}  # Sandra drops 8 -> 2 at session 3
        seen = {"M1": 1, "F1": 3, "Y1": 0, "Y2": -1}
        for code, role, _name in FAMILY:
            rows.append(row(code, s, "check4", role=role, **dict.fromkeys(FOUR, own[code])))
            rows.append(row(code, s, "observer4", role=role, **dict.fromkeys(FOUR, seen[code])))
    return frame(*rows)


@functools.cache
def family_frames(sessions: int, language: str = "en") -> dict:
    """The tables behind a four-member family's charts, labelled as the dashboard labels them (built once)."""
    texts = chart_tables.chart_texts(language)
    analysis = analytics.analyse(family_scores(sessions))
    names = {code: name for code, _role, name in FAMILY}
    labels = {d: texts[f"dim_{d}"] for d in DIMS}

    def label(table):
        return chart_tables.labelled(table, names, labels)

    lines = chart_tables.member_lines(analysis.series)
    band = chart_tables.family_band(lines)
    return {
        "lines": label(lines),
        "band": label(band),
        "marks": label(chart_tables.rupture_marks(analysis.ruptures)),
        "views": label(chart_tables.session_views(analysis.series, sessions)),
        "balance": label(chart_tables.family_balance(band)),
        "gaps": label(chart_tables.gap_lines(analysis.gaps)),
        "members": [name for _code, _role, name in FAMILY],
    }


@functools.cache
def family_charts(sessions: int, language: str = "en") -> dict:
    """Every chart of the four-member family after ``sessions`` sessions (built once)."""
    texts = chart_tables.chart_texts(language)
    f = family_frames(sessions, language)
    members = f["members"]
    return {
        "lines": charts.member_lines(f["lines"], f["band"], f["marks"], members, DIMS, texts),
        "heat": charts.heatmap(f["lines"], members, DIMS, texts),
        "views": charts.session_views(f["views"], members, DIMS, texts),
        "balance": charts.balance_lines(f["balance"], DIMS, texts, 25),
        "gap": charts.gap_lines(f["gaps"], members, DIMS, texts, 25),
    }


def vega(chart) -> dict:
    """The chart compiled to Vega, as the browser bundle and vl-convert compile it."""
    return vl_convert.vegalite_to_vega(charts.spec(chart), vl_version=render.VL_VERSION)


def session_encodings(spec) -> list[dict]:
    return [x for x in find(spec, "x") if isinstance(x, dict) and x.get("field") == "session"]


def x_axis_labels(svg: str) -> list[str]:
    """The tick labels of every x axis in a rendered SVG (Vega names each axis in its aria-label)."""
    ns = "{http://www.w3.org/2000/svg}"
    labels = []
    for group in ElementTree.fromstring(svg).iter(f"{ns}g"):
        if group.get("aria-label", "").startswith("X-axis"):
            for marks in group.iter(f"{ns}g"):
                if "role-axis-label" in marks.get("class", ""):
                    labels += [t.text for t in marks.iter(f"{ns}text")]
    return labels


def test_session_ticks_are_each_session_or_a_round_few():
    assert charts.session_ticks([]) == []
    assert charts.session_ticks([3]) == [3]
    assert charts.session_ticks([1, 2]) == [1, 2]
    assert charts.session_ticks([1, 2, 3]) == [1, 2, 3]
    assert charts.session_ticks([1, 2, 5, 8]) == [1, 2, 5, 8]  # the sessions there are, gaps and all
    assert charts.session_ticks(range(1, 41)) == [1, 5, 10, 15, 20, 25, 30, 35, 40]
    assert charts.session_ticks(range(1, 41), width=1200) == list(range(1, 41))  # room for every one
    assert charts.session_ticks(range(1, 41), width=900) == [1, *range(4, 40, 2), 40]  # 2 would crowd 1
    many = charts.session_ticks(range(3, 203))
    assert many[0] == 3 and many[-1] == 202 and all(v % 10 == 0 for v in many[1:-1])


@pytest.mark.parametrize("sessions", [1, 2, 3, 40])
@pytest.mark.parametrize("name", ["lines", "heat", "views", "balance", "gap"])
def test_every_builder_gives_a_valid_spec_for_few_and_many_sessions(name, sessions):
    spec = family_charts(sessions)[name].to_dict(validate=True)
    assert spec["description"] == TEXTS[ALTS[name]]


@pytest.mark.parametrize("sessions", [1, 2, 3, 40])
def test_session_axis_labels_each_session_once_as_a_whole_number(sessions):
    for name, chart in family_charts(sessions).items():
        if name == "views":
            continue  # one session: no session axis
        spec = charts.spec(chart)
        xs = session_encodings(spec)
        assert xs, name
        for x in xs:
            values = x["axis"]["values"]
            assert all(isinstance(v, int) for v in values) and values == sorted(set(values)), (name, values)
            assert values[0] == 1 and values[-1] == sessions
            if sessions <= 3:
                assert values == list(range(1, sessions + 1))
            else:
                assert len(values) <= 12 and all(v % 5 == 0 for v in values[1:-1])
            assert x["axis"]["tickCount"] >= len(values)  # or Vega thins the values to its own count
            if name == "heat":
                assert x["scale"]["domain"] == list(range(1, sessions + 1))
            else:  # half a session either side, not niced to round numbers
                assert x["scale"] == {"domain": [0.5, sessions + 0.5], "nice": False, "zero": False}


@pytest.mark.parametrize("sessions", [1, 3])
@pytest.mark.parametrize("name", ["lines", "views", "balance", "gap"])
def test_every_scale_has_an_explicit_domain(name, sessions):
    """No scale takes its domain from data: a layer with nothing in it (no splits, no ruptures) computes no extent."""
    compiled = vega(family_charts(sessions)[name])
    scales = [s for group in find(compiled, "scales") for s in group]
    assert scales
    for scale in scales:
        assert isinstance(scale["domain"], list), (name, scale["name"], scale["domain"])


def test_one_session_without_splits_or_ruptures_still_has_fixed_domains():
    f = family_frames(1)
    assert f["marks"].empty
    band = f["band"].assign(split=False)
    spec = charts.spec(charts.member_lines(f["lines"], band, f["marks"], f["members"], DIMS, TEXTS))
    (x,) = {str(x) for x in session_encodings(spec)}
    assert "[0.5, 1.5]" in x
    for y in find(spec, "y"):
        if isinstance(y, dict) and "scale" in y:
            assert y["scale"]["domain"][0] < 0 and y["scale"]["domain"][1] > 100 and y["scale"]["nice"] is False


def test_scores_at_0_and_100_stay_inside_the_plot():
    spec = charts.spec(family_charts(3)["views"])
    xs = [x for x in find(spec, "x") if isinstance(x, dict) and x.get("field") in ("pomp", "low")]
    for x in xs:
        low, high = x["scale"]["domain"]
        assert low < 0 and high > 100 and x["scale"]["nice"] is False
    assert [x["axis"]["values"] for x in xs if "axis" in x] == [charts.POMP_TICKS]


def test_members_with_the_same_score_keep_a_row_of_their_own():
    f = family_frames(3)
    own = f["views"][(f["views"]["view"] == "member") & (f["views"]["dimension"] == "total")].set_index("label")
    assert own.loc["Noor", "pomp"] == own.loc["Daan", "pomp"]  # the same score ...
    spec = charts.spec(family_charts(3)["views"])
    offsets = [o for o in find(spec, "yOffset") if isinstance(o, dict)]
    assert offsets and all(o["field"] == "label" and o["scale"]["domain"] == f["members"] for o in offsets)  # ... apart


def test_the_view_is_shown_by_fill_with_a_legend_of_its_own():
    members = family_frames(3)["members"]
    colour, shape = charts.member_scale(members)
    spec = charts.spec(family_charts(3)["views"])
    points = [layer for layer in spec["layer"] if layer["mark"]["type"] == "point"]
    marks = [layer for layer in points if "shape" in layer["encoding"]]
    assert [m["mark"]["filled"] for m in marks] == [True, False]  # own view filled, the therapist's open
    for m in marks:  # one colour and one shape per member, whatever the view
        assert m["encoding"]["shape"]["field"] == "label" and m["encoding"]["color"]["field"] == "label"
        assert m["encoding"]["shape"]["scale"] == shape.to_dict()
        assert m["encoding"]["color"]["scale"] == colour.to_dict()
    datasets = spec["datasets"]
    own, therapist = ({r["view"] for r in datasets[m["data"]["name"]]} for m in marks)
    assert own == {"member"} and therapist == {"therapist"}
    (legend_layer,) = [layer for layer in points if "fill" in layer["encoding"]]
    fill = legend_layer["encoding"]["fill"]
    assert fill["scale"]["domain"] == [TEXTS["own"], TEXTS["therapist"]] and fill["title"] == TEXTS["view"]
    legends = vl_convert.vegalite_to_vega(spec, vl_version=render.VL_VERSION)["legends"]
    assert sorted(legend["title"] for legend in legends) == sorted([TEXTS["member"], TEXTS["view"]])
    member = next(legend for legend in legends if legend["title"] == TEXTS["member"])
    view = next(legend for legend in legends if legend["title"] == TEXTS["view"])
    assert "shape" in member and "fill" in member  # colour and shape in one legend, one entry per member
    assert "shape" not in view and view["fill"] != member["fill"]  # the view on its own scale


def test_lines_and_gaps_draw_members_filled_in_their_colour_and_shape():
    members = family_frames(3)["members"]
    colour, shape = charts.member_scale(members)
    for name in ("lines", "gap"):
        spec = charts.spec(family_charts(3)[name])
        points = [layer for layer in spec["spec"]["layer"] if layer["mark"]["type"] == "point"]
        (member_points,) = [p for p in points if "shape" in p["encoding"]]
        assert member_points["mark"]["filled"] is True  # the members' own view (or their gap)
        assert member_points["encoding"]["shape"]["scale"] == shape.to_dict()
        assert member_points["encoding"]["color"]["scale"] == colour.to_dict()


def test_balance_lines_draw_the_split_line_and_gap_lines_the_limits():
    f = family_frames(3)
    spec = charts.spec(charts.balance_lines(f["balance"], DIMS, TEXTS, 25))
    data = next(iter(spec["datasets"].values()))
    assert {r["value"] for r in data if r["layer"] == "rule"} == {75}
    assert spec["facet"]["row"]["sort"] == [TEXTS[f"dim_{d}"] for d in DIMS]
    assert spec["title"]["text"] == TEXTS["balance_title"]
    assert " ".join(spec["title"]["subtitle"]) == TEXTS["balance_note"]
    spec = charts.spec(charts.gap_lines(f["gaps"], f["members"], ["total"], TEXTS, 20))
    data = next(iter(spec["datasets"].values()))
    assert {r["value"] for r in data if r["layer"] == "rule"} == {0, 20, -20}
    assert {r["dimension"] for r in data if r["layer"] == "line"} == {"total"}
    (scale,) = {str(y["scale"]) for y in find(spec, "y") if isinstance(y, dict) and "scale" in y}
    assert "-108" in scale and "108" in scale  # -100..100 fixed, with room for markers at the ends
    tooltips = {t["field"] for t in find(spec, "tooltip") if isinstance(t, list) for t in t}
    assert {"label", "session", "gap", "self_pomp", "therapist_pomp"} <= tooltips


@pytest.mark.parametrize("name", ["lines", "heat", "views", "balance", "gap"])
def test_empty_tables_give_an_empty_chart_not_an_error(name):
    f = family_frames(1)
    empty = {k: v.iloc[0:0] for k, v in f.items() if k != "members"}
    built = {
        "lines": lambda: charts.member_lines(empty["lines"], empty["band"], empty["marks"], f["members"], DIMS, TEXTS),
        "heat": lambda: charts.heatmap(empty["lines"], f["members"], DIMS, TEXTS),
        "views": lambda: charts.session_views(empty["views"], f["members"], DIMS, TEXTS),
        "balance": lambda: charts.balance_lines(empty["balance"], DIMS, TEXTS, 25),
        "gap": lambda: charts.gap_lines(empty["gaps"], f["members"], DIMS, TEXTS, 25),
    }[name]()
    built.to_dict(validate=True)
    assert render.to_svg(charts.spec(built), "en").startswith("<svg")


@pytest.mark.parametrize("sessions", [1, 2, 3, 40])
def test_charts_render_to_svg_with_each_session_labelled_once(sessions):
    texts = chart_tables.chart_texts("nl")
    for name, chart in family_charts(sessions, "nl").items():
        spec = charts.spec(chart)
        # The text alternative: Vega sets the view's description as the aria-label of the chart's container.
        assert vl_convert.vegalite_to_vega(spec, vl_version=render.VL_VERSION)["description"] == texts[ALTS[name]]
        svg = render.to_svg(spec, "nl")
        labels = x_axis_labels(svg)
        if name == "views":
            assert labels == ["0", "25", "50", "75", "100"]
            continue
        expected = charts.session_ticks(range(1, sessions + 1))
        assert labels == [str(s) for s in expected], (name, labels)  # each session once, a whole number
        assert texts["session"] in svg


# --- specs built once per structure, filled with each family's data ---------------------------------


def builder_calls(f: dict, texts: dict, choose: bool = True) -> dict:
    """Each chart of the dashboard as (builder, arguments, keyword arguments), as ``reports`` calls them."""
    members = f["members"]
    return {
        "lines": (charts.member_lines, (f["lines"], f["band"], f["marks"], members, DIMS, texts), {}),
        "heat": (charts.heatmap, (f["lines"], members, DIMS, texts), {"choose": choose}),
        "views": (charts.session_views, (f["views"], members, DIMS, texts), {}),
        "balance": (charts.balance_lines, (f["balance"], DIMS, texts, 25), {}),
        "gap": (charts.gap_lines, (f["gaps"], members, ["total"], texts, 25), {}),
    }


def shifted_family(sessions: int, shift: int) -> dict:
    """The four-member family's tables with every score moved by ``shift`` POMP: same structure, other data."""
    f = dict(family_frames(sessions))
    for name in ("lines", "views"):
        f[name] = f[name].assign(pomp=(f[name]["pomp"] + shift).clip(0, 100))
    f["gaps"] = f["gaps"].assign(gap=f["gaps"]["gap"] + shift)
    f["balance"] = f["balance"].assign(balance=(f["balance"]["balance"] - shift).clip(0, 100))
    return f


@pytest.mark.parametrize(("sessions", "language", "choose"), [(1, "en", True), (3, "nl", False), (40, "en", True)])
def test_a_kept_spec_filled_with_a_familys_data_is_the_built_chart(sessions, language, choose):
    """``templated`` gives, key for key, what Altair gives for the built chart, for families of one structure."""
    texts = chart_tables.chart_texts(language)
    small = {"members": ["Sandra", "Noor"]}
    small["lines"], small["band"], small["marks"], small["views"], _ = chart_frames()
    small["balance"] = chart_tables.family_balance(small["band"])
    small["gaps"] = small["lines"].iloc[0:0].assign(gap=[], self_pomp=[], therapist_pomp=[])
    for f in (family_frames(sessions, language), shifted_family(sessions, 10), small):
        for name, (builder, args, kwargs) in builder_calls(f, texts, choose).items():
            built = charts.spec(builder(*args, **kwargs))
            assert charts.templated(builder, *args, **kwargs) == built, name
            assert charts.templated(builder, *args, **kwargs) == built, name  # from the kept spec


def test_families_of_one_structure_share_the_kept_spec_but_not_their_data():
    texts = chart_tables.chart_texts("en")
    builder, args, _ = builder_calls(family_frames(3), texts)["lines"]
    _, other, _ = builder_calls(shifted_family(3, 10), texts)["lines"]
    charts.templated(builder, *args)
    before = charts._template.cache_info()
    first, second = charts.templated(builder, *args), charts.templated(builder, *other)
    after = charts._template.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (2, 0)  # built once, filled twice
    assert first["data"] != second["data"]
    assert second["datasets"] == charts.spec(builder(*other))["datasets"]
    drawn = [v["pomp"] for v in second["datasets"][second["data"]["name"]] if v["layer"] == "line"]
    assert drawn == list(other[0]["pomp"])  # the other family's points, not the first's


def test_a_builder_without_parts_is_built_in_full():
    def legend_only(texts):
        return charts.view_legend(texts)

    assert charts.templated(legend_only, TEXTS) == charts.spec(charts.view_legend(TEXTS))


def test_frames_become_the_values_altair_gives():
    """The column-by-column conversion gives Altair's own records, for every kind of column the charts use."""
    frames = [
        pd.DataFrame(
            {
                "label": pd.Categorical(["Sandra", None, "Noor"]),
                "text": ["a", None, ""],
                "plain": pd.Series(["x", "y", None], dtype="str"),
                "number": [1.5, float("nan"), float("inf")],
                "session": [1, 2, 3],
                "split": [True, False, True],
            }
        ),
        pd.DataFrame({"pomp": pd.Series([], dtype="float64"), "label": pd.Series([], dtype=object)}),
        pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64"), "when": pd.to_datetime(["2026-01-01"] * 3)}),
        *family_frames(3).values(),
    ]
    for f in frames:
        if isinstance(f, pd.DataFrame):
            assert charts._values(f) == alt.data_transformers.get()(f)["values"]


def test_a_long_treatment_of_a_large_family_is_drawn_whole():
    """12 members over 100 sessions: 6,000 points on the lines chart, more than Altair's default row limit."""
    sessions, members = range(1, 101), [f"Member {i}" for i in range(12)]
    lines = pd.DataFrame(
        [
            {"member": f"M{m}", "label": members[m], "session": s, "dimension": d, "dimension_label": d, "pomp": 50.0}
            for m in range(12)
            for s in sessions
            for d in DIMS
        ]
    )
    empty = pd.DataFrame(columns=["member", "label", "session", "dimension", "dimension_label", "pomp", "kind"])
    band = chart_tables.family_band(lines).assign(dimension_label=lambda b: b["dimension"])
    spec = charts.templated(charts.member_lines, lines, band, empty, members, DIMS, TEXTS)
    rows = spec["datasets"][spec["data"]["name"]]
    assert sum(r["layer"] == "line" for r in rows) == 6000
    assert spec == charts.spec(charts.member_lines(lines, band, empty, members, DIMS, TEXTS))
