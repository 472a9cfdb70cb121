"""The chart of the alliance profile over the last quarters (metrics.md section 11): the therapist beside the team.

Pure: the quarterly profiles of ``analytics.quarterly_profiles`` in, a tidy table and an Altair chart out.
Three measures on one 0..100 scale (the balance, the members' mean score, and the share of split
sessions in percent), one small panel each; the therapist's line and the team's, told apart by
colour, shape and dash. Texts come in translated (``texts``), as for the other builders.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from familyalliance.core.catalog import N_, translations
from familyalliance.core.charts.builders import (
    FONT,
    NEUTRAL,
    PALETTE,
    POMP_TICKS,
    axis_title,
    chart_title,
    pomp_scale,
    value_axis,
)

#: The measures on the chart, in order, and the factor that puts them on 0..100.
HISTORY_MEASURES = {"mean_balance": 1.0, "mean_pomp": 1.0, "split_share": 100.0}
HISTORY_COLUMNS = ["period", "whose", "measure", "value"]
WIDTH = 420
HEIGHT = 110


def history_table(quarters: pd.DataFrame, owner, team) -> pd.DataFrame:
    """The owner's and the team's measures per quarter (``whose``: ``own`` or ``team``), on 0..100; empty values out."""
    rows = []
    for whose, key in (("own", owner), ("team", team)):
        if key is None:
            continue
        mine = quarters[quarters["owner"] == key]
        for record in mine.to_dict("records"):
            for measure, factor in HISTORY_MEASURES.items():
                value = record[measure]
                if value is not None and not pd.isna(value):
                    rows.append((record["period"], whose, measure, float(value) * factor))
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def profile_history(table: pd.DataFrame, periods: list[str], texts: Mapping[str, str]) -> alt.FacetChart:
    """Per measure a panel: the therapist's and the team's line over the quarters (``periods``, oldest first)."""
    rows = table.assign(
        whose_label=table["whose"].map({"own": texts["own"], "team": texts["team"]}),
        measure_label=table["measure"].map({m: texts[f"measure_{m}"] for m in HISTORY_MEASURES}),
    )
    whose = [texts["own"], texts["team"]]
    colour = alt.Color(
        "whose_label:N", title=texts["whose"], scale=alt.Scale(domain=whose, range=[PALETTE[0], NEUTRAL])
    )
    shape = alt.Shape("whose_label:N", title=texts["whose"], scale=alt.Scale(domain=whose, range=["circle", "square"]))
    dash = alt.StrokeDash("whose_label:N", title=texts["whose"], scale=alt.Scale(domain=whose, range=[[1, 0], [5, 3]]))
    x = alt.X(
        "period:O",
        title=texts["quarter"],
        sort=list(periods),
        scale=alt.Scale(domain=list(periods)),
        axis=alt.Axis(labelAngle=0),
    )
    y = alt.Y("value:Q", scale=pomp_scale(), axis=value_axis(POMP_TICKS), title=axis_title(texts["value"], HEIGHT))
    tooltip = [
        alt.Tooltip("whose_label:N", title=texts["whose"]),
        alt.Tooltip("period:O", title=texts["quarter"]),
        alt.Tooltip("value:Q", format=".0f", title=texts["value"]),
    ]
    base = alt.Chart().encode(x=x, y=y, color=colour)
    line = base.mark_line(strokeWidth=2).encode(strokeDash=dash)
    points = base.mark_point(filled=True, size=60, opacity=1).encode(shape=shape, tooltip=tooltip)
    layered = alt.layer(line, points, data=rows).properties(width=WIDTH, height=HEIGHT)
    chart = layered.facet(
        facet=alt.Facet(
            "measure_label:N",
            sort=[texts[f"measure_{m}"] for m in HISTORY_MEASURES],
            title=None,
            header=alt.Header(labelAnchor="start", labelFontSize=13, labelFontWeight="bold"),
        ),
        columns=1,
    )
    chart = chart.properties(title=chart_title(texts["history_title"], None, WIDTH), description=texts["history_alt"])
    return chart.configure(font=FONT).configure_view(stroke=None).configure_axis(labelFontSize=12, titleFontSize=12)


def history_texts(language: str, own: bool = False) -> dict[str, str]:
    """Every text the quarterly chart shows, in ``language`` (``own``: the therapist looks at their own)."""
    gettext = translations(language).gettext
    return {
        "own": gettext(N_("You")) if own else gettext(N_("This therapist")),
        "team": gettext(N_("The team")),
        "whose": gettext(N_("Whose")),
        "quarter": gettext(N_("Quarter")),
        "value": gettext(N_("Value (0-100)")),
        "measure_mean_balance": gettext(N_("Mean balance")),
        "measure_mean_pomp": gettext(N_("Members' mean score")),
        "measure_split_share": gettext(N_("Sessions with a split (%)")),
        "history_title": gettext(N_("The profile over the last quarters")),
        "history_alt": gettext(
            N_("Line chart of the profile per quarter beside the team's; the values are in the table.")
        ),
    }
