"""The export page for researchers and team leads, and the import page for admins."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pyreadstat
import pytest
import sqlalchemy as sa

from familyalliance.store.db import db
from familyalliance.store.models import Family, Response

from ..factories import commit, gen_user
from ..services.test_import import GOOD, HEADER


@pytest.fixture
def people(app, runner):
    with app.app_context():
        gen_user("team_lead", "Demo", "lead@example.org")
        gen_user("researcher", None, "research@example.org")
        gen_user("therapist", "Demo", "ther@example.org")
        gen_user("admin", None, "admin@example.org")
        commit()
    assert runner.invoke(args=["demo", "--owner", "ther@example.org"]).exit_code == 0


@pytest.mark.parametrize(
    ("email", "status"),
    [("lead@example.org", 200), ("research@example.org", 200), ("ther@example.org", 403), ("admin@example.org", 403)],
)
def test_who_may_export(client, auth, people, email, status):
    auth.login(email)
    assert client.get("/exports/").status_code == status


def test_researcher_always_gets_pseudonymised_data(client, auth, people):
    auth.login("research@example.org")
    response = client.post(
        "/exports/", data={"kind": "scores", "fmt": "csv", "pseudonymise": "", "dates": "drop", "language": "en"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith("familyalliance-scores-pseudonymised.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == [
        "familyalliance-scores-pseudonymised-codebook.csv",
        "familyalliance-scores-pseudonymised.csv",
    ]
    table = pd.read_csv(archive.open("familyalliance-scores-pseudonymised.csv"), dtype=str, keep_default_na=False)
    assert table["family"].str.fullmatch(r"F[0-9A-F]{12}").all()
    assert (table["date"] == "").all()
    assert "DEMO" not in response.data.decode("latin-1")


def test_team_lead_may_export_identifiable_sav(app, client, auth, people, tmp_path):
    auth.login("lead@example.org")
    response = client.post("/exports/", data={"kind": "family", "fmt": "sav", "dates": "shift", "language": "nl"})
    assert response.status_code == 200 and response.mimetype == "application/x-spss-sav"
    path = tmp_path / "f.sav"
    path.write_bytes(response.data)
    frame, meta = pyreadstat.read_sav(str(path))
    with app.app_context():
        assert set(frame["family"]) == set(db.session.scalars(sa.select(Family.code)))
    assert len(set(frame["family"])) == 5
    assert meta.column_names_to_labels["split_level"] == "Mate van verdeeldheid"


def test_admin_imports_through_the_page(app, client, auth, people):
    auth.login("admin@example.org")
    body = ("\n".join([HEADER, *GOOD]) + "\n").encode()
    response = client.post(
        "/admin/import?lang=en",
        data={"file": (io.BytesIO(body), "ratings.csv"), "team": "0"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "Imported 5 rows (1 unanswered); replaced 0." in response.text
    again = client.post(
        "/admin/import?lang=en",
        data={"file": (io.BytesIO(body), "ratings.csv"), "team": "0"},
        content_type="multipart/form-data",
    )
    assert again.status_code == 422
    assert "Nothing was imported: 5 problem(s)." in again.text
    assert "Line 2, <code>item</code>: F1/M1/1/self/therapist/check4/bond is already stored" in again.text
    with app.app_context():
        stored = sa.select(sa.func.count()).select_from(Response).join(Family).where(Family.code == "F1")
        assert db.session.scalar(stored) == 5


def test_import_page_refuses_other_files(client, auth, people):
    auth.login("admin@example.org")
    response = client.post(
        "/admin/import?lang=en",
        data={"file": (io.BytesIO(b"x"), "ratings.xlsx"), "team": "0"},
        content_type="multipart/form-data",
    )
    assert "Upload a .csv file." in response.text


@pytest.mark.parametrize("email", ["lead@example.org", "research@example.org", "ther@example.org"])
def test_only_admins_import(client, auth, people, email):
    auth.login(email)
    assert client.get("/admin/import").status_code == 403


def test_too_large_upload_is_refused_kindly(make_app, people):
    small = make_app(MAX_CONTENT_LENGTH=1000)
    client = small.test_client()
    client.post("/login", data={"email": "admin@example.org", "password": "correct horse battery"})
    body = b"family,member\n" + b"x" * 5000
    response = client.post(
        "/admin/import?lang=en",
        data={"file": (io.BytesIO(body), "big.csv"), "team": "0"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "The file is larger than this installation accepts." in response.text
