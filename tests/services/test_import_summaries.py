"""The caseload's summaries of the families an import wrote: stored after the answers' commit, never wrong.

The import commits the answers and their scores (raising the families' revisions), then stores the
summaries in transactions of their own. When that second step fails, the answers stay imported and
the summaries stay stale: the next caseload page computes them from the new data.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from familyalliance import config
from familyalliance.services import importer, rescoring
from familyalliance.store import queries, summaries
from familyalliance.store.db import db
from familyalliance.store.models import Family, FamilySummary, Response, Team
from familyalliance.store.registry import installed_instruments

from ..factories import commit, gen_user

HEADER = "family,member,role,session,date,informant,target,instrument,item,value"
ITEMS = ("bond", "goals_tasks", "safety", "shared_purpose")


def check4(path, session: int, values: dict[str, int], family: str = "IMP-1"):
    """A long CSV of one session's check4 forms: member code -> the value of every item."""
    roles = {"M1": "mother", "Y1": "youth"}
    date = f"2026-01-{4 + 7 * session:02d}"
    lines = [HEADER] + [
        f"{family},{member},{roles[member]},{session},{date},self,therapist,check4,{item},{value}"
        for member, value in values.items()
        for item in ITEMS
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def import_file(app, path) -> None:
    with app.app_context():
        team = db.session.scalar(sa.select(Team).where(Team.name == "Team A"))
        importer.import_long_csv(path, installed_instruments(), team=team)


def stored(code: str) -> tuple[FamilySummary | None, int]:
    """The family's stored summary and its revision now."""
    family = db.session.scalar(sa.select(Family).where(Family.code == code))
    db.session.refresh(family)
    return family.summary, family.revision


def split_families(client) -> list[str]:
    """The family codes the caseload lists under its split filter."""
    html = client.get("/families/?flag=split&lang=en").text
    return re.findall(r'<th scope="row"><a href="/families/([^"]+)">', html)


@pytest.fixture
def lead(app, auth):
    with app.app_context():
        gen_user("team_lead", "Team A", "lead@example.org")
        commit()
    auth.login("lead@example.org")


def test_an_import_stores_the_summaries_of_its_families(app, tmp_path):
    """Right after the import: a summary at the family's revision, what computing it from the data gives."""
    with app.app_context():
        gen_user("team_lead", "Team A", "lead@example.org")
        commit()
    import_file(app, check4(tmp_path / "one.csv", 1, {"M1": 10, "Y1": 0}))
    with app.app_context():
        summary, revision = stored("IMP-1")
        assert summary is not None and summary.revision == revision
        settings = config.analytics_settings(app)
        assert summary.settings_key == summaries.settings_key(settings, installed_instruments())
        computed = summaries.compute(queries.analysis([summary.family_id], settings), settings)["IMP-1"]
        assert (summary.concern, summary.reasons, summary.flag_split) == (
            computed["concern"],
            computed["reasons"],
            computed["flag_split"],
        )
        assert summary.flag_split  # 100 against 0 POMP: a severe split


def test_summaries_that_fail_after_the_commit_are_computed_by_the_caseload(app, client, lead, tmp_path, monkeypatch):
    """The answers are imported, the summary is stale, and the caseload shows the split of the new data."""
    import_file(app, check4(tmp_path / "first.csv", 1, {"M1": 7, "Y1": 7}))
    assert split_families(client) == []  # in step at session 1: no split

    def fails(family_ids, *args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(rescoring, "store_summaries", fails)
    import_file(app, check4(tmp_path / "second.csv", 2, {"M1": 10, "Y1": 0}))
    monkeypatch.undo()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 16  # both files stored
        summary, revision = stored("IMP-1")
        assert summary.revision < revision and not summary.flag_split  # the old summary, marked stale
    # The first caseload page after it shows the session 2 split, not the stored summary of before.
    assert split_families(client) == ["IMP-1"]
    with app.app_context():
        summary, revision = stored("IMP-1")
        assert summary.revision == revision and summary.flag_split
