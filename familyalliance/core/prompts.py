"""Conversation prompts for the next session: plain-language observations from the flags.

Pure: no Flask. :func:`conversation_prompts` turns a family's analysis (``analytics.analyse``:
the member's series, its ruptures, gaps and early alliance) into a short list of
``Prompt`` records (what, who, which dimension, since when, how large); :func:`render`
words one in Dutch or English from the app's own message catalog. Prompts invite a
conversation about the relationship; they never diagnose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import babel.dates

from familyalliance.core import analytics
from familyalliance.core.analytics import DEFAULTS, EPS, Settings
from familyalliance.core.catalog import N_, translations

#: At most this many prompts, most pressing first.
MAX_PROMPTS = 5


DIMENSION_PHRASES = {
    "bond": N_("bond with the therapist"),
    "goals_tasks": N_("agreement on goals and tasks"),
    "safety": N_("sense of safety"),
    "shared_purpose": N_("sense of shared purpose"),
    "total": N_("overall alliance"),
}
DIMENSION_PHRASES_TEAM = {"bond": N_("bond with the team")}

TEMPLATES = {
    "rupture": N_(
        "In session %(session)s, %(name)s's %(dimension)s fell %(drop)s points (from %(before)s to %(after)s "
        "out of 100) and has not come back yet. You could ask %(name)s how the last sessions felt."
    ),
    "split": N_(
        "Since session %(since)s, %(low_name)s rates the %(dimension)s %(size)s points lower than %(high_name)s "
        "(%(low)s against %(high)s out of 100). You could invite %(low_name)s to say what would make the "
        "sessions work better for them."
    ),
    "young_lower": N_(
        "In session %(session)s the young members rate the %(dimension)s %(size)s points lower than the adults. "
        "You could ask the young members what they would like to be different."
    ),
    "adults_lower": N_(
        "In session %(session)s the adults rate the %(dimension)s %(size)s points lower than the young members. "
        "You could ask the parents what they would like to be different."
    ),
    "member_lower": N_(
        "%(name)s rates the %(dimension)s %(size)s points lower than you do (session %(session)s). It may help to "
        "check with %(name)s how they see the work together."
    ),
    "member_higher": N_(
        "%(name)s rates the %(dimension)s %(size)s points higher than you do (session %(session)s). It may help to "
        "tell %(name)s what you see, and hear how they see it."
    ),
    "low_early": N_(
        "%(name)s's alliance was low in the first sessions (%(value)s out of 100). You could talk with %(name)s "
        "about what they hope to get from the treatment."
    ),
    "low_early_team": N_(
        "%(name)s's alliance with the team was low in the first sessions (%(value)s out of 100). You could ask "
        "%(name)s how working with the team goes for them."
    ),
    "below_expected": N_(
        "%(name)s's overall alliance has been lower than is usual in this clinic at this point of treatment, in "
        "sessions %(previous_session)s and %(session)s (%(value)s out of 100). You could ask %(name)s how the "
        "sessions are going for them."
    ),
    "below_expected_team": N_(
        "%(name)s's alliance with the team has been lower than is usual in this clinic at this point of treatment, "
        "in sessions %(previous_session)s and %(session)s (%(value)s out of 100). You could ask %(name)s how "
        "working with the team goes for them."
    ),
}


@dataclass(frozen=True)
class Prompt:
    """One observation: its kind (a key of TEMPLATES) and the facts it names."""

    kind: str
    params: Mapping[str, object] = field(default_factory=dict)
    #: Member codes the prompt is about, so a view can put names in.
    members: tuple[str, ...] = ()
    #: The dimension it is about (one of the four, or total).
    dimension: str = "total"
    target: str = "therapist"


def conversation_prompts(analysis: analytics.Analysis, settings: Settings = DEFAULTS) -> list[Prompt]:
    """Prompts for one family's next session, from its analysis (all sessions), most pressing first."""
    series = analysis.series
    if series.empty:
        return []
    latest = int(series["session"].max())
    prompts: list[Prompt] = []

    recent = analysis.recent_ruptures()
    # One prompt per member: the largest drop, the overall alliance when drops are equal.
    recent = recent.assign(overall=recent["dimension"] == "total")
    recent = recent.sort_values(["drop_pomp", "overall"], ascending=False, kind="stable").drop_duplicates("member")
    for row in recent.itertuples():
        prompts.append(
            Prompt(
                "rupture",
                {
                    "drop": _points(row.drop_pomp),
                    "session": row.session,
                    "before": _points(row.previous_pomp),
                    "after": _points(row.pomp),
                },
                (row.member,),
                row.dimension,
                row.target,
            )
        )

    about_therapist = series[series["target"] == "therapist"]
    # Only the latest pattern is read, and each session's pattern is its own: computed for that session alone.
    own_sessions = about_therapist.loc[about_therapist["informant"] == "self", "session"]
    last_own = about_therapist[about_therapist["session"] == (own_sessions.max() if len(own_sessions) else None)]
    patterns = analytics.split_patterns(last_own, settings)
    if not patterns.empty:
        last = patterns[patterns["session"] == patterns["session"].max()].iloc[0]
        if last["member_split"] and last["session"] == latest:
            views = about_therapist[
                (about_therapist["informant"] == "self") & (about_therapist["dimension"] == last["widest_dimension"])
            ]
            by_session = views.groupby("session")["pomp"]
            ranges = (by_session.max() - by_session.min()).where(by_session.size() >= 2, 0.0)
            split_sessions = ranges[ranges >= settings.split_threshold - EPS].index.tolist()
            since = _since(split_sessions, ranges.index.tolist(), latest)
            pomp = views[views["session"] == latest].set_index("member")["pomp"]
            prompts.append(
                Prompt(
                    "split",
                    {
                        "since": since,
                        "size": _points(last["widest_range_pomp"]),
                        "low": _points(pomp[last["lowest_member"]]),
                        "high": _points(pomp[last["highest_member"]]),
                    },
                    (last["lowest_member"], last["highest_member"]),
                    last["widest_dimension"],
                )
            )
        if last["adult_young_split"] and last["session"] == latest:
            gap = last["youth_caregiver_gap"]
            prompts.append(
                Prompt(
                    "young_lower" if gap > 0 else "adults_lower",
                    {"session": latest, "size": _points(abs(gap))},
                    (),
                    last["youth_caregiver_dimension"],
                )
            )

    gaps = analysis.gaps
    gaps = gaps[
        (gaps["target"] == "therapist")
        & (gaps["session"] == latest)
        & (gaps["gap"].abs() >= settings.gap_threshold - EPS)
    ]
    gaps = gaps.assign(size=gaps["gap"].abs()).sort_values("size", ascending=False).drop_duplicates("member")
    for row in gaps.itertuples():
        kind = "member_lower" if row.gap < 0 else "member_higher"
        prompts.append(Prompt(kind, {"session": latest, "size": _points(row.size)}, (row.member,), row.dimension))

    early = analysis.early
    for row in early[(early["informant"] == "self") & early["low"]].itertuples():
        kind = "low_early_team" if row.target == "team" else "low_early"
        prompts.append(Prompt(kind, {"value": _points(row.early_total_pomp)}, (row.member,), target=row.target))

    if analysis.expected is not None:
        below = analytics.below_expected_reasons(series, analysis.expected, analysis.latest, analytics.RECENT_SESSIONS)
        for row in below.itertuples():
            kind = "below_expected_team" if row.target == "team" else "below_expected"
            params = {"value": _points(row.pomp), "session": row.session, "previous_session": row.previous_session}
            prompts.append(Prompt(kind, params, (row.member,), target=row.target))
    return prompts[:MAX_PROMPTS]


def _since(split_sessions: list[int], all_sessions: list[int], latest: int) -> int:
    """The first session of the unbroken run of split sessions that ends at ``latest``."""
    split = set(split_sessions)
    ordered = sorted(s for s in set(all_sessions) if s <= latest)
    since = latest
    for session in reversed(ordered):
        if session not in split:
            break
        since = session
    return since


def _points(value: float) -> int:
    return int(round(float(value)))


def render(prompt: Prompt, language: str, names: Mapping[str, str]) -> str:
    """Word a prompt in ``language``; ``names`` maps member codes to the names the team uses."""
    gettext = translations(language).gettext
    phrases = (
        DIMENSION_PHRASES_TEAM
        if prompt.target == "team" and prompt.dimension in DIMENSION_PHRASES_TEAM
        else DIMENSION_PHRASES
    )
    params = dict(prompt.params) | {"dimension": gettext(phrases[prompt.dimension])}
    if prompt.kind == "split":
        params |= {
            "low_name": names.get(prompt.members[0], prompt.members[0]),
            "high_name": names.get(prompt.members[1], prompt.members[1]),
        }
    elif prompt.members:
        params["name"] = names.get(prompt.members[0], prompt.members[0])
    return gettext(TEMPLATES[prompt.kind]) % params


REASONS = {
    "split_severe": N_(
        "Severe split in session %(session)s: members differ %(size)s points on the %(dimension)s (lowest: %(name)s)."
    ),
    "split_moderate": N_(
        "Moderate split in session %(session)s: members differ %(size)s points on the %(dimension)s (lowest: %(name)s)."
    ),
    "rupture_unrepaired": N_(
        "Unrepaired rupture: %(name)s's %(dimension)s fell %(size)s points in session %(session)s."
    ),
    "rupture_open": N_(
        "Recent rupture, not repaired yet: %(name)s's %(dimension)s fell %(size)s points in session %(session)s."
    ),
    "low_early": N_("Low early alliance: %(name)s, %(size)s out of 100 over the first sessions."),
    "low_early_team": N_("Low early alliance with the team: %(name)s, %(size)s out of 100 over the first sessions."),
    "gap_widening": N_(
        "Family and therapist see the %(dimension)s differently, and more so: %(size)s points in "
        "session %(session)s (%(previous)s before)."
    ),
    "gap_large": N_("Family and therapist see the %(dimension)s differently: %(size)s points in session %(session)s."),
    "below_expected": N_(
        "Below the expected course: %(name)s's overall alliance was under the clinic's usual range in sessions "
        "%(previous_session)s and %(session)s (%(size)s out of 100)."
    ),
    "below_expected_team": N_(
        "Below the expected course: %(name)s's alliance with the team was under the clinic's usual range in "
        "sessions %(previous_session)s and %(session)s (%(size)s out of 100)."
    ),
}


#: A rupture's reason once the therapist marked it as discussed (the same points; the words change).
DISCUSSED_REASONS = {
    "rupture_unrepaired": N_(
        "Unrepaired rupture, discussed on %(discussed)s: %(name)s's %(dimension)s fell %(size)s points in "
        "session %(session)s."
    ),
    "rupture_open": N_(
        "Recent rupture, discussed on %(discussed)s, not repaired yet: %(name)s's %(dimension)s fell %(size)s "
        "points in session %(session)s."
    ),
}


def _reason_params(reason: Mapping[str, object], language: str, names: Mapping[str, str]) -> dict[str, object]:
    """The values a reason's wording fills in: member, dimension, session, points, date discussed."""
    gettext = translations(language).gettext
    target = reason.get("target", "therapist")
    dimension = str(reason.get("dimension", "total"))
    phrases = DIMENSION_PHRASES_TEAM if target == "team" and dimension in DIMENSION_PHRASES_TEAM else DIMENSION_PHRASES
    member = reason.get("member")
    params = {
        "session": reason.get("session", ""),
        "previous_session": reason.get("previous_session", ""),
        "size": _points(abs(float(reason["size"]))),
        "previous": _points(abs(float(reason["previous_size"]))) if "previous_size" in reason else "",
        "dimension": gettext(phrases[dimension]),
        "name": names.get(member, member) if member else "",
    }
    if reason.get("discussed_on"):
        params["discussed"] = format_date(dt.date.fromisoformat(str(reason["discussed_on"])), "long", language)
    return params


def render_reason(reason: Mapping[str, object], language: str, names: Mapping[str, str]) -> str:
    """Word one reason of the concern ranking (``analytics.concern``) in ``language``."""
    gettext = translations(language).gettext
    params = _reason_params(reason, language, names)
    kind = str(reason["kind"])
    if kind == "below_expected" and reason.get("target") == "team":
        kind = "below_expected_team"
    if "discussed" in params and kind in DISCUSSED_REASONS:
        return gettext(DISCUSSED_REASONS[kind]) % params
    return gettext(REASONS[kind]) % params


#: A kind's line when a family has several reasons of it: the kind once, then each reason in brief.
GROUPED_REASONS = {
    "rupture_unrepaired": N_("Unrepaired rupture: %(items)s."),
    "rupture_open": N_("Recent rupture, not repaired yet: %(items)s."),
    "low_early": N_("Low early alliance: %(items)s."),
    "low_early_team": N_("Low early alliance with the team: %(items)s."),
}
#: One reason in brief, inside its kind's line.
BRIEF_REASONS = {
    "rupture": N_("%(name)s (%(dimension)s, %(size)s points in session %(session)s)"),
    "rupture_discussed": N_(
        "%(name)s (%(dimension)s, %(size)s points in session %(session)s, discussed on %(discussed)s)"
    ),
    "low_early": N_("%(name)s (%(size)s out of 100)"),
}


def reason_lines(reasons: list[Mapping[str, object]], language: str, names: Mapping[str, str]) -> list[str]:
    """A family's concern reasons worded one line per kind, the kind with most concern first.

    A kind the family has once reads as :func:`render_reason` words it; several ruptures or low early
    alliances name the kind once and each member in brief, the most concerning first, so a family with
    four members' ruptures takes one line, not four near-identical ones.
    """
    gettext = translations(language).gettext
    kinds: dict[str, list[Mapping[str, object]]] = {}
    for reason in reasons:
        kinds.setdefault(str(reason["kind"]), []).append(reason)
    # Most concern points in all first (two ruptures weigh as much as one low early alliance); on a tie,
    # the order of the reasons as given (most points per reason first).
    ranked = sorted(kinds.items(), key=lambda kind: -sum(int(r.get("points", 0)) for r in kind[1]))
    lines = []
    for kind, group in ranked:
        if len(group) > 1 and kind in GROUPED_REASONS:
            low = kind.startswith("low_early")
            # The most concerning member first: the lowest early alliance, the largest drop.
            group = sorted(group, key=lambda r: float(r["size"]) if low else -abs(float(r["size"])))
            items = ", ".join(_brief_reason(reason, language, names) for reason in group)
            lines.append(gettext(GROUPED_REASONS[kind]) % {"items": items})
        else:
            lines.append(" ".join(render_reason(reason, language, names) for reason in group))
    return lines


def _brief_reason(reason: Mapping[str, object], language: str, names: Mapping[str, str]) -> str:
    """One rupture or low early alliance in brief: the member, and the dimension and points where it has them."""
    gettext = translations(language).gettext
    params = _reason_params(reason, language, names)
    if str(reason["kind"]).startswith("low_early"):
        return gettext(BRIEF_REASONS["low_early"]) % params
    return gettext(BRIEF_REASONS["rupture_discussed" if "discussed" in params else "rupture"]) % params


def format_date(day: dt.date, format: str, language: str) -> str:
    """``day`` written the way ``language`` writes dates (Babel's CLDR data)."""
    return babel.dates.format_date(day, format=format, locale=language)


# --- Safety signal --------------------------------------------------------------------------------

SAFETY = {
    "low_safety": N_(
        "%(name)s rates their sense of safety in the sessions %(value)s out of 100 (session %(session)s)."
    ),
    "young_safety_rupture": N_(
        "%(name)s's sense of safety fell %(drop)s points in session %(session)s and has not come back yet."
    ),
}
#: Shown with every safety signal unless the installation sets its own (SAFEGUARDING_TEXT_NL/_EN).
SAFEGUARDING_DEFAULT = N_(
    "Check whether the family is safe at home and follow your organisation's reporting protocol; in the "
    "Netherlands that is the meldcode huiselijk geweld en kindermishandeling (reporting code for domestic "
    "violence and child abuse). Discuss it with your team lead or the safeguarding officer."
)


def render_safety(signal: Mapping[str, object], language: str, names: Mapping[str, str]) -> str:
    """Word one row of ``analytics.safety_signals`` in ``language`` (for the therapist only)."""
    gettext = translations(language).gettext
    member = str(signal["member"])
    params = {
        "name": names.get(member, member),
        "session": int(signal["session"]),
        "value": _points(signal["pomp"]),
        "drop": _points(signal["drop_pomp"]) if signal.get("drop_pomp") == signal.get("drop_pomp") else "",
    }
    return gettext(SAFETY[str(signal["kind"])]) % params


def safeguarding_text(language: str, own: str | None = None) -> str:
    """The installation's safeguarding text (``own``), else the default in ``language``."""
    return own or translations(language).gettext(SAFEGUARDING_DEFAULT)
