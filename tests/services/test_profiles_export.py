"""The ``profiles`` research export (metrics.md section 11): pseudonymised therapists and teams per quarter, no
family code or date, and profiles from fewer than 5 families suppressed."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import sqlalchemy as sa

from familyalliance import config
from familyalliance.core import analytics, exports
from familyalliance.services import exporting, importer, profiles
from familyalliance.store import queries
from familyalliance.store.db import db
from familyalliance.store.models import Family, Team
from familyalliance.store.registry import installed_instruments
from tests.expected_data import clinic_csv
from tests.factories import commit, gen_user


def setup_clinic(app, tmp_path):
    """Xavier with 6 families and Yara with 2, in Team A; their sessions in June to August 2026."""
    x = gen_user("therapist", "Team A", "xavier@example.org")
    y = gen_user("therapist", "Team A", "yara@example.org")
    commit()
    team = db.session.scalar(sa.select(Team).where(Team.name == "Team A"))
    importer.import_long_csv(
        clinic_csv(tmp_path / "x.csv", families=6), installed_instruments(), team=team, therapists=[x]
    )
    importer.import_long_csv(
        clinic_csv(tmp_path / "y.csv", families=2, prefix="YY"), installed_instruments(), team=team, therapists=[y]
    )
    return x.id, y.id, team.id


def test_the_export_is_pseudonymised_and_suppressed(app, tmp_path):
    with app.app_context():
        x, y, team = setup_clinic(app, tmp_path)
        settings = config.analytics_settings(app)
        key = exports.Pseudonymiser(config.pseudonym_key(app))
        table = profiles.export_table(None, settings, key)
        assert list(table.columns) == exports.PROFILE_EXPORT_COLUMNS
        assert set(table["therapist"].dropna()) == {key.therapist(x), key.therapist(y)}
        assert set(table["team"]) == {key.team(team)}
        # Yara's profile draws on two families: every measure left empty.
        yara = table[table["therapist"] == key.therapist(y)]
        assert yara["suppressed"].all() and yara[analytics.MEASURES].isna().all().all()
        # Xavier's third quarter: six families, shown, the very numbers of his profile over that quarter.
        shown = table[(table["therapist"] == key.therapist(x)) & (table["period"] == "2026-Q3")]
        assert not shown["suppressed"].any()
        ids = list(db.session.scalars(sa.select(Family.id)))
        result = queries.analysis(ids, settings)
        codes = list(
            db.session.scalars(sa.select(Family.code).where(Family.code.like("CL-%") | (Family.code == "LOW-1")))
        )
        owners = [("x", c) for c in codes]
        sessions = profiles._sessions(ids)
        mine = analytics.profiles(
            pd.DataFrame(owners, columns=["owner", "family"]),
            sessions,
            result.series,
            result.ruptures,
            result.gaps,
            dt.date(2026, 7, 1),
            dt.date(2026, 9, 30),
            settings,
        ).set_index("group")
        for row in shown.to_dict("records"):
            for measure in analytics.MEASURES:
                a, b = row[measure], mine.loc[row["group"], measure]
                assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b), (row["group"], measure)


def test_the_written_export_names_no_family_person_or_date(app, tmp_path):
    with app.app_context():
        setup_clinic(app, tmp_path)
        codes = list(db.session.scalars(sa.select(Family.code)))
        path = tmp_path / "profiles.csv"
        key = exports.Pseudonymiser(config.pseudonym_key(app))
        rows, written = exporting.write_export("profiles", "csv", path, None, config.analytics_settings(app), key)
        text = "".join(p.read_text() for p in written)
        assert rows > 0
        assert not any(code in text for code in codes)
        assert "example.org" not in text and "Team A" not in text
        assert "2026-06" not in text and "2026-07" not in text  # no session date, only quarters
        assert "2026-Q3" in text


def test_the_export_is_written_in_every_table_format(app, tmp_path):
    with app.app_context():
        setup_clinic(app, tmp_path)
        key = exports.Pseudonymiser(config.pseudonym_key(app))
        for fmt in ("xlsx", "sav"):
            rows, written = exporting.write_export(
                "profiles", fmt, tmp_path / f"profiles.{fmt}", None, config.analytics_settings(app), key
            )
            assert rows > 0 and all(p.stat().st_size > 0 for p in written)
