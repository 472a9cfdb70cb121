"""Demo families: realistic, deterministic data for trying the app and for screenshots.

``build_demo_families`` is pure: it describes families, members, sessions and item
answers as plain data. ``load_demo`` stores them for an owner, skipping families that
exist already, so loading twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from familyalliance.core import plan, vocab
from familyalliance.core.instruments import Instrument
from familyalliance.services import accounts, casework, responses
from familyalliance.store.db import db
from familyalliance.store.models import Family, User


@dataclass
class DemoMember:
    code: str
    display_name: str
    role: str
    birth_year: int | None
    #: Alliance level (POMP, 0..100) per session number and dimension.
    level: dict[int, dict[str, float]] = field(default_factory=dict)
    absent: set[int] = field(default_factory=set)


@dataclass
class DemoFamily:
    suffix: str
    status: str
    sessions: int
    members: list[DemoMember]
    targets: tuple[str, ...] = ("therapist",)
    #: How much lower the alliance with the team is than with the therapist, per member code.
    team_offset: dict[str, float] = field(default_factory=dict)


def _course(start: float, end: float, sessions: int, dips: dict[int, float] | None = None) -> dict[int, float]:
    """A linear course from ``start`` to ``end`` with optional dips at given sessions."""
    dips = dips or {}
    return {
        s: start + (end - start) * (s - 1) / max(sessions - 1, 1) - dips.get(s, 0.0) for s in range(1, sessions + 1)
    }


def _levels(sessions: int, per_dimension: dict[str, tuple[float, float]], dips=None) -> dict[int, dict[str, float]]:
    courses = {d: _course(*per_dimension[d], sessions, dips) for d in vocab.DIMENSIONS}
    return {s: {d: courses[d][s] for d in vocab.DIMENSIONS} for s in range(1, sessions + 1)}


def _flat(a: float, b: float) -> dict[str, tuple[float, float]]:
    return {d: (a, b) for d in vocab.DIMENSIONS}


def build_demo_families() -> list[DemoFamily]:
    """Describe the demo families: sizes 2 to 6, a split, a rupture and repair, a team rating."""
    split = DemoFamily(
        "01",
        "active",
        10,
        [
            DemoMember("M1", "Sandra", "mother", 1984, _levels(10, _flat(72, 85))),
            DemoMember(
                "F1",
                "Mehmet",
                "father",
                1981,
                _levels(
                    10, {"bond": (55, 35), "goals_tasks": (60, 45), "safety": (50, 25), "shared_purpose": (55, 40)}
                ),
            ),
            DemoMember("Y1", "Noor", "youth", 2010, _levels(10, _flat(55, 70))),
            DemoMember("C1", "Daan", "child", 2016, _levels(10, _flat(70, 80)), absent={4}),
        ],
    )
    rupture = DemoFamily(
        "02",
        "active",
        9,
        [
            DemoMember("M1", "Ilse", "mother", 1979, _levels(9, _flat(70, 80))),
            DemoMember("Y1", "Jayden", "youth", 2009, _levels(9, _flat(75, 80), dips={5: 40, 6: 22})),
        ],
    )
    team = DemoFamily(
        "03",
        "active",
        8,
        [
            DemoMember("P1", "Karin", "foster_parent", 1972, _levels(8, _flat(75, 85))),
            DemoMember("Y1", "Milan", "youth", 2008, _levels(8, _flat(65, 80))),
            DemoMember("S1", "Sem", "sibling", 2011, _levels(8, _flat(70, 75)), absent={2, 5}),
        ],
        targets=("therapist", "team"),
        team_offset={"Y1": 30.0, "S1": 10.0, "P1": 5.0},
    )
    large = DemoFamily(
        "04",
        "active",
        3,
        [
            DemoMember("M1", "Fatima", "mother", 1986, _levels(3, _flat(75, 80))),
            DemoMember("P1", "Johan", "stepparent", 1980, _levels(3, _flat(70, 78))),
            DemoMember("G1", "Wilma", "grandparent", 1958, _levels(3, _flat(80, 82))),
            DemoMember("Y1", "Yasmin", "youth", 2011, _levels(3, _flat(68, 75))),
            DemoMember("C1", "Lina", "child", 2015, _levels(3, _flat(80, 85))),
            DemoMember("C2", "Adam", "child", 2018, _levels(3, _flat(85, 88))),
        ],
    )
    low_start = DemoFamily(
        "05",
        "paused",
        4,
        [
            DemoMember("F1", "Rob", "father", 1975, _levels(4, _flat(35, 45))),
            DemoMember("M1", "Anouk", "mother", 1977, _levels(4, _flat(45, 50))),
            DemoMember("Y1", "Kevin", "youth", 2007, _levels(4, _flat(30, 40))),
        ],
    )
    return [split, rupture, team, large, low_start]


def sized_family(sessions: int) -> DemoFamily:
    """A family of four over ``sessions`` sessions, for the screenshots of the charts at 1, 2, 3 and 40 sessions.

    From four sessions on, the youth's sense of safety drops at the last session but one (a rupture,
    and the safety signal) and the father's bond dips halfway and comes back (a repaired rupture).
    """
    last = sessions
    youth_dips = {last - 1: 45, last: 35} if sessions >= 4 else {}
    father_dips = {sessions // 2: 30} if sessions >= 6 else {}
    return DemoFamily(
        f"S{sessions:02d}",
        "active",
        sessions,
        [
            DemoMember("M1", "Sandra", "mother", 1984, _levels(sessions, _flat(72, 85))),
            DemoMember("F1", "Mehmet", "father", 1981, _levels(sessions, _flat(60, 70), dips=father_dips)),
            DemoMember("Y1", "Noor", "youth", 2010, _levels(sessions, _flat(70, 72), dips=youth_dips)),
            DemoMember("C1", "Daan", "child", 2016, _levels(sessions, _flat(70, 80))),
        ],
    )


def _to_scale(pomp: float, instrument: Instrument, rng: random.Random) -> int:
    lo, hi = instrument.scale_min, instrument.scale_max
    raw = lo + (hi - lo) * pomp / 100 + rng.gauss(0, 0.3)
    return int(min(hi, max(lo, round(raw))))


def answers(instrument: Instrument, levels: dict[str, float], rng: random.Random) -> list[tuple[str, int | None]]:
    """Item answers for one filled-in form, with the occasional unanswered item on long forms."""
    lo, hi = instrument.scale_min, instrument.scale_max
    result = []
    for item in instrument.items:
        if len(instrument.items) > 4 and rng.random() < 0.03:
            result.append((item.code, None))
            continue
        value = _to_scale(max(0.0, min(100.0, levels[item.dimension])), instrument, rng)
        result.append((item.code, lo + hi - value if item.reverse else value))
    return result


def load_family(
    spec: DemoFamily, code: str, owner: User, instruments: Mapping[str, Instrument], today: dt.date
) -> Family:
    """Store one described family as ``code`` for ``owner``, its last session a few days before ``today``."""
    team = owner.team or accounts.get_or_create_team("Demo team")
    rng = random.Random(f"{code}")
    start = today - dt.timedelta(days=7 * spec.sessions + 3)
    family = casework.create_family(code, start, [owner], team, status=spec.status)
    members = {
        m.code: casework.add_member(
            family, code=m.code, display_name=m.display_name, role=m.role, birth_year=m.birth_year
        )
        for m in spec.members
    }
    rows = []
    for number in range(1, spec.sessions + 1):
        present = [members[m.code].id for m in spec.members if number not in m.absent]
        session = casework.record_session(family, number, start + dt.timedelta(days=7 * number), present)
        for m in spec.members:
            if number in m.absent:
                continue
            key = {"family_id": family.id, "member_id": members[m.code].id, "session_id": session.id}
            for target in spec.targets:
                offset = spec.team_offset.get(m.code, 0.0) if target == "team" else 0.0
                levels = {d: v - offset for d, v in m.level[number].items()}
                instrument = plan.default_instrument(m.role, number)
                for item, value in answers(instruments[instrument], levels, rng):
                    rows.append(
                        key | dict(informant="self", target=target, instrument=instrument, item=item, value=value)
                    )
                # The therapist sees the alliance a little rosier than a struggling member does.
                observed = {d: v + (10 if v < 55 else 0) for d, v in levels.items()}
                for item, value in answers(instruments["observer4"], observed, rng):
                    rows.append(
                        key | dict(informant="therapist", target=target, instrument="observer4", item=item, value=value)
                    )
    responses.store_answers(rows, instruments)
    return family


def load_demo(owner: User, instruments: Mapping[str, Instrument], today: dt.date | None = None) -> list[str]:
    """Store the demo families for ``owner``; return the codes of the families created.

    The answers go through the same validation as every other entry path.
    """
    today = today or dt.date.today()
    created = []
    for spec in build_demo_families():
        code = f"DEMO{owner.id:02d}-{spec.suffix}"
        if db.session.scalar(sa.select(Family.id).where(Family.code == code)) is not None:
            continue
        load_family(spec, code, owner, instruments, today)
        created.append(code)
    return created
