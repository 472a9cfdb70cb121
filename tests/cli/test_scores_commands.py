"""``flask rescore`` and ``flask refresh-summaries``: what every family's stored scores and summaries need after an
upgrade or a changed setting, a batch of families per transaction."""

from __future__ import annotations

import sqlalchemy as sa
from pandas.testing import assert_frame_equal

from familyalliance import config
from familyalliance.services import rescoring
from familyalliance.store import scores, summaries
from familyalliance.store.db import db
from familyalliance.store.models import Family, FamilySummary, FormScore
from familyalliance.store.registry import installed_instruments


def demo(runner) -> None:
    runner.invoke(args=["create-user", "demo@example.org", "--password", "long enough pw", "--role", "therapist"])
    assert runner.invoke(args=["demo", "--owner", "demo@example.org"]).exit_code == 0


def family_ids() -> list[int]:
    return list(db.session.scalars(sa.select(Family.id).order_by(Family.id)))


def test_rescore_writes_only_what_moved(app, runner):
    demo(runner)
    result = runner.invoke(args=["rescore"])
    assert result.exit_code == 0, result.output
    assert "Scored the forms of 5 families again; the scores of 0 changed." in result.output
    with app.app_context():
        ids = family_ids()
        # A stored score that no longer follows from the answers (as after a changed definition).
        db.session.execute(sa.update(FormScore).where(FormScore.family_id == ids[1]).values(total=-1.0))
        db.session.execute(
            sa.delete(FormScore).where(FormScore.family_id == ids[3], FormScore.instrument == "observer4")
        )
        db.session.commit()
        revisions = dict(db.session.execute(sa.select(Family.id, Family.revision)).all())
    assert "the scores of 2 changed." in runner.invoke(args=["rescore"]).output
    with app.app_context():
        assert_frame_equal(scores.stored(ids), scores.fresh(ids), check_exact=True)
        after = dict(db.session.execute(sa.select(Family.id, Family.revision)).all())
        assert {i for i in ids if after[i] != revisions[i]} == {ids[1], ids[3]}  # their pages are built again
        # ... and their summaries stored at the new revision.
        stored = dict(db.session.execute(sa.select(FamilySummary.family_id, FamilySummary.revision)).all())
        assert stored == {ids[1]: after[ids[1]], ids[3]: after[ids[3]]}


def test_refresh_summaries_stores_every_familys_summary(app, runner):
    demo(runner)  # demo families have no summary yet
    result = runner.invoke(args=["refresh-summaries"])
    assert result.exit_code == 0, result.output
    assert "Stored the summaries of 5 families." in result.output
    with app.app_context():
        key = summaries.settings_key(config.analytics_settings(app), installed_instruments())
        assert summaries.stale_families(sa.select(Family), key) == []
        assert {s.settings_key for s in db.session.scalars(sa.select(FamilySummary))} == {key}


def test_refresh_summaries_in_small_batches(app, runner):
    demo(runner)
    with app.app_context():
        done = []
        assert rescoring.refresh_summaries(batch=2, progress=done.append) == 5
        assert done == [2, 4, 5]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FamilySummary)) == 5
