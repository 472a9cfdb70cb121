"""The stored expected trajectory (metrics.md section 10): learned from the stored scores, recomputed when the data
changed (after an import, by ``flask refresh-expected``, on a staff caseload request when due), and the
``below_expected`` reason and flag that the caseload, the family page and the prompts read."""

from __future__ import annotations

import datetime as dt

import numpy as np
import sqlalchemy as sa

from familyalliance.core import analytics
from familyalliance.services import importer, trajectories
from familyalliance.store import expected, queries
from familyalliance.store.db import db
from familyalliance.store.models import ExpectedTrajectory, Family, FamilySummary, utcnow
from familyalliance.store.registry import installed_instruments
from tests.expected_data import LOW_FAMILY, clinic_csv
from tests.factories import commit, gen_user


def import_clinic(tmp_path, **kwargs):
    therapist = gen_user("therapist", "Team A", "ther@example.org")
    commit()
    importer.import_long_csv(
        clinic_csv(tmp_path / "clinic.csv", **kwargs), installed_instruments(), therapists=[therapist]
    )


def test_the_import_stores_the_trajectory_learned_from_the_stored_scores(app, tmp_path):
    with app.app_context():
        import_clinic(tmp_path)
        order = ["target", "session"]
        stored = expected.load().sort_values(order, ignore_index=True)
        # Computed again from every stored score: the same table, cell for cell.
        again = analytics.expected_trajectory(analytics.member_series(queries.scores()))
        again = again.sort_values(order, ignore_index=True)
        assert stored.shape == again.shape == (40, 8)
        for column in stored.columns:
            left, right = stored[column].to_numpy(), again[column].to_numpy()
            if column == "target":
                assert list(left) == list(right)
            else:
                np.testing.assert_allclose(left.astype(float), right.astype(float), equal_nan=True)
        therapist = stored[stored["target"] == "therapist"].set_index("session")
        assert therapist.loc[1, "n"] == 36 and therapist.loc[6, "n"] == 36 and therapist.loc[7, "n"] == 0
        assert therapist.loc[1, "p10"] <= therapist.loc[1, "p50"] <= therapist.loc[1, "p90"]
        assert np.isnan(therapist.loc[7, "p10"])  # no band without 30 points


def test_the_low_family_is_flagged_below_expected_on_the_caseload_summary(app, tmp_path):
    with app.app_context():
        import_clinic(tmp_path)
        flagged = dict(
            db.session.execute(sa.select(Family.code, FamilySummary.flag_below_expected).join(FamilySummary)).all()
        )
        assert flagged[LOW_FAMILY] is True
        assert not any(flag for code, flag in flagged.items() if code != LOW_FAMILY)
        reasons = db.session.scalar(sa.select(FamilySummary.reasons).join(Family).where(Family.code == LOW_FAMILY))
        below = [r for r in reasons if r["kind"] == "below_expected"]
        assert below == [
            {
                "kind": "below_expected",
                "session": 6,
                "previous_session": 5,
                "dimension": "total",
                "size": 10.0,  # 1 on the 0..10 check
                "previous_size": 10.0,
                "member": "F",
                "target": "therapist",
                "points": 2,
            }
        ]


def test_recomputed_only_when_the_data_changed_and_when_due(app, tmp_path, runner):
    with app.app_context():
        import_clinic(tmp_path)
        assert not trajectories.is_stale()
        assert trajectories.refresh() is False  # nothing changed
        _, computed = expected.stored_state()
        db.session.execute(sa.update(Family).values(revision=Family.revision + 1))  # as any write does
        db.session.commit()
        assert trajectories.is_stale()
        # Not due yet: computed a moment ago.
        assert trajectories.refresh_if_due(computed) is False
        later = utcnow() + dt.timedelta(minutes=app.config["EXPECTED_REFRESH_MINUTES"] + 1)
    with app.test_request_context():
        assert trajectories.refresh_if_due(computed, now=later) is True
        assert not trajectories.is_stale()
        assert expected.stored_state()[1] > computed
    result = runner.invoke(args=["refresh-expected"])
    assert result.exit_code == 0 and "up to date" in result.output
    result = runner.invoke(args=["refresh-expected", "--force"])
    assert result.exit_code == 0 and "Stored the expected trajectory." in result.output


def test_below_thirty_points_no_band_and_no_reason(app, tmp_path):
    with app.app_context():
        import_clinic(tmp_path, families=9)  # 27 points per session
        rows = db.session.scalars(sa.select(ExpectedTrajectory)).all()
        assert len(rows) == 40 and all(r.p10 is None for r in rows)
        assert not any(db.session.scalars(sa.select(FamilySummary.flag_below_expected)))
