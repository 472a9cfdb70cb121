"""The tables computed per family, written a batch of families at a time: the file the whole table gives.

``exporting.write_by_families`` keeps one batch in memory; with batches of one and two families
(and a family without any answer in between), plain and pseudonymised, for every family or some,
its CSV must be byte for byte the CSV of the table built at once from every family's answers.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from familyalliance.core import analytics, exports
from familyalliance.services import exporting
from familyalliance.store.db import db
from familyalliance.store.models import Family

from ..factories import commit, gen_family
from .test_export import load_demo


@pytest.fixture
def families(app, runner):
    """The demo families and one without any answer, whose code sorts among theirs."""
    load_demo(runner)
    with app.app_context():
        codes = db.session.scalars(sa.select(Family.code).order_by(Family.code)).all()
        gen_family(codes[1] + "-0", team_name="Demo")
        commit()
        return db.session.scalars(sa.select(Family.id).order_by(Family.code)).all()


@pytest.mark.parametrize("kind", exporting.PER_FAMILY)
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("pseudonymised", [False, True])
def test_written_by_batches_of_families_as_built_at_once(
    app, families, tmp_path, monkeypatch, kind, batch, pseudonymised
):
    monkeypatch.setattr(exporting, "FAMILY_BATCH", batch)
    with app.app_context():
        pseudonymiser = exports.Pseudonymiser(app.config["PSEUDONYM_KEY"].encode()) if pseudonymised else None
        for chosen in (None, families[1:4]):
            path = tmp_path / f"{kind}.csv"
            rows, written = exporting.write_export(kind, "csv", path, chosen, analytics.DEFAULTS, pseudonymiser)
            whole = exporting.export_table(kind, chosen, analytics.DEFAULTS, pseudonymiser)
            assert len(whole) > 0 and rows == len(whole)
            assert path.read_text(encoding="utf-8") == exports.csv_text(whole)
            assert written == [path, tmp_path / f"{kind}-codebook.csv"]


def test_no_family_gives_the_header(app, tmp_path):
    with app.app_context():
        path = tmp_path / "family.csv"
        assert exporting.write_export("family", "csv", path, [], analytics.DEFAULTS) == (
            0,
            [path, tmp_path / "family-codebook.csv"],
        )
        assert path.read_text(encoding="utf-8") == ",".join(exports.COLUMNS["family"]) + "\n"
