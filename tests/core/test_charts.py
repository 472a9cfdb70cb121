"""The tables behind the family dashboard's charts, and the chart builders (pure: no app, no database)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest
import vl_convert

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
    marks = chart_tables.rupture_marks(scores, Settings())
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
    marks = chart_tables.labelled(chart_tables.rupture_marks(scores), names, labels)
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
    assert TEXTS["band_note"] in str(spec["title"])
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
    chart = charts.report(
        [charts.member_lines(lines, band, marks, members, DIMS, texts), charts.heatmap(lines, members, DIMS, texts)],
        "Gezin F",
    )
    svg = vl_convert.vegalite_to_svg(charts.spec(chart), vl_version="6.4", format_locale="nl-NL")
    assert svg.startswith("<svg") and "Gezin F" in svg and "Sessie" in svg


def test_sparkline_points_scale_to_the_box():
    assert charts.sparkline([]) == ""
    assert charts.sparkline([100, 50, 0], width=10, height=20) == "0.0,0.0 5.0,10.0 10.0,20.0"
    assert charts.sparkline([150, -5], width=10, height=20) == "0.0,0.0 10.0,20.0"  # clipped to the scale


def test_alt_is_pinned_to_the_bundle_version():

    assert alt.SCHEMA_VERSION.startswith(f"v{render.VL_VERSION}")
