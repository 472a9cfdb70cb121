"""Seed the load-test database through the app's own operations; write what the load test needs as JSON.

Usage (run.py calls it): DATABASE_URL=... SECRET_KEY=... .venv/bin/python bench/load/seed.py OUT.json

Creates, in the (migrated, empty) database of DATABASE_URL:

- LOAD_THERAPISTS therapist accounts (default 10) with random passwords (in OUT.json), in one team;
- LOAD_FAMILIES families (default 40) of 2 to 5 members, each assigned to one therapist
  (round robin), with 2 to 8 past sessions whose answers are stored (the members'
  questionnaire of the default plan and the therapist's observer4), so the dashboards
  and the caseload have something to compute;
- LOAD_LINK_SESSIONS further sessions per family (default 3), every member present, and a
  member link for every member of each (``requests.make_links``). A link's token exists only
  now, so the tokens go into OUT.json (mode 0600) with what the locustfile needs to answer
  the questionnaire, and what run.py needs to check the database afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import secrets
import sys
import time
from pathlib import Path

# The app under test: LOAD_APP_DIR (run.py sets it; an export of LOAD_REF) or this working tree.
APP_DIR = Path(os.environ.get("LOAD_APP_DIR") or Path(__file__).resolve().parents[2])
sys.path.insert(0, str(APP_DIR))

from familyalliance import create_app  # noqa: E402
from familyalliance.core import plan, vocab  # noqa: E402
from familyalliance.core.instruments import builtin_instruments  # noqa: E402
from familyalliance.services import accounts, casework, demo, requests, responses  # noqa: E402
from familyalliance.store.db import db  # noqa: E402

ROLE_SETS = [
    ["mother", "child"],
    ["mother", "father", "youth"],
    ["mother", "father", "youth", "child"],
    ["foster_parent", "youth", "sibling"],
    ["mother", "stepparent", "youth", "child", "child"],
    ["father", "youth"],
    ["mother", "grandparent", "child", "sibling"],
]
TEAM = "Load team"


def seed(out: Path, therapists: int, families: int, link_sessions: int) -> dict:
    rng = random.Random(2026)
    instruments = builtin_instruments()
    today = dt.date.today()
    staff = []
    for n in range(1, therapists + 1):
        password = secrets.token_urlsafe(18)  # passes any password rule the app may set
        user = accounts.create_user(f"therapist{n:02d}@load.example.org", password, "therapist", TEAM)
        staff.append({"user": user, "email": user.email, "password": password, "families": []})
    team = staff[0]["user"].team
    link_rows = []
    answers_stored = 0
    for f in range(1, families + 1):
        owner = staff[(f - 1) % therapists]
        code = f"LOAD-{f:03d}"
        past = rng.randint(2, 8)
        start = today - dt.timedelta(days=7 * (past + link_sessions) + 3)
        family = casework.create_family(code, start, [owner["user"]], team)
        roles = ROLE_SETS[(f - 1) % len(ROLE_SETS)]
        members = [
            casework.add_member(
                family,
                code=f"M{i + 1}",
                display_name=f"Member {i + 1}",
                role=role,
                birth_year=(1980 if role in vocab.CAREGIVER_ROLES else 2012),
            )
            for i, role in enumerate(roles)
        ]
        level = {m.id: rng.uniform(45, 85) for m in members}
        rows = []
        for number in range(1, past + 1):
            session = casework.record_session(
                family, number, start + dt.timedelta(days=7 * number), [m.id for m in members]
            )
            for m in members:
                levels = {d: level[m.id] + rng.uniform(-12, 12) for d in vocab.DIMENSIONS}
                key = {"family_id": family.id, "member_id": m.id, "session_id": session.id, "target": "therapist"}
                own = plan.default_instrument(m.role, number, family.full_every)
                for item, value in demo.answers(instruments[own], levels, rng):
                    rows.append(key | {"informant": "self", "instrument": own, "item": item, "value": value})
                for item, value in demo.answers(instruments["observer4"], levels, rng):
                    rows.append(
                        key | {"informant": "therapist", "instrument": "observer4", "item": item, "value": value}
                    )
        answers_stored += responses.store_answers(rows, instruments)
        sessions = list(range(1, past + 1))
        for number in range(past + 1, past + link_sessions + 1):
            session = casework.record_session(
                family, number, start + dt.timedelta(days=7 * number), [m.id for m in members]
            )
            sessions.append(number)
            for link, token in requests.make_links(session, days=7):
                link_rows.append(
                    {
                        "token": token,
                        "link_id": link.id,
                        "family": code,
                        "family_id": family.id,
                        "member_id": link.member_id,
                        "session_id": link.session_id,
                        "session": number,
                        "instrument": link.instrument,
                        "target": link.target,
                        "informant": instruments[link.instrument].informant,
                    }
                )
        owner["families"].append({"code": code, "sessions": sessions})
        db.session.commit()
    used = {row["instrument"] for row in link_rows}
    data = {
        "therapists": [{k: a[k] for k in ("email", "password", "families")} for a in staff],
        "instruments": {
            code: {
                "items": list(instruments[code].item_codes),
                "min": instruments[code].scale_min,
                "max": instruments[code].scale_max,
            }
            for code in sorted(used)
        },
        "links": link_rows,
        "answers_seeded": answers_stored,
    }
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    return data


def main() -> None:
    out = Path(sys.argv[1])
    therapists = int(os.environ.get("LOAD_THERAPISTS", "10"))
    families = int(os.environ.get("LOAD_FAMILIES", "40"))
    link_sessions = int(os.environ.get("LOAD_LINK_SESSIONS", "3"))
    app = create_app()
    start = time.perf_counter()
    with app.app_context():
        data = seed(out, therapists, families, link_sessions)
    by_instrument: dict[str, int] = {}
    for row in data["links"]:
        by_instrument[row["instrument"]] = by_instrument.get(row["instrument"], 0) + 1
    print(
        f"seeded {len(data['therapists'])} therapists, {families} families, {data['answers_seeded']:,} past answers, "
        f"{len(data['links'])} member links ({', '.join(f'{n} {c}' for c, n in sorted(by_instrument.items()))}) "
        f"in {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
