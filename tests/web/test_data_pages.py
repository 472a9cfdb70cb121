"""The export page for researchers and team leads, and the import page for admins."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pandas as pd
import pyreadstat
import pytest
import sqlalchemy as sa

from familyalliance import config
from familyalliance.core import exports
from familyalliance.services import fhir as fhir_export
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, Response, User

from ..factories import PASSWORD, commit, gen_user
from ..services.test_fhir_export import of_type, parse_all
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


# --- FHIR and REDCap on the Export page --------------------------------------------------------------


def names_and_codes(app) -> tuple[set[str], set[str]]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Member.display_name))), set(db.session.scalars(sa.select(Family.code)))


def test_team_lead_downloads_the_fhir_bundle_with_the_members_names(app, client, auth, people):
    auth.login("lead@example.org")
    response = client.post("/exports/", data={"kind": "fhir", "fmt": "json", "dates": "shift", "language": "en"})
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].endswith("familyalliance-fhir.json")
    bundle = json.loads(response.data)
    resources = parse_all(bundle)
    # Without PUBLIC_URL the addresses are the page's own.
    assert all(entry["fullUrl"].startswith("http://localhost/fhir/R4/") for entry in bundle["entry"])
    names, codes = names_and_codes(app)
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Family.id)))
        assert bundle == fhir_export.families_bundle(ids, "http://localhost/", None, "en")
    assert {p["name"][0]["text"] for p in of_type(resources, "Patient")} == names
    assert {g["identifier"][0]["value"] for g in of_type(resources, "Group")} == codes


def test_public_url_names_the_bundles_resources(make_app, people):
    other = make_app(PUBLIC_URL="https://alliance.example.org")
    client = other.test_client()
    client.post("/login", data={"email": "lead@example.org", "password": PASSWORD})
    response = client.post("/exports/", data={"kind": "fhir", "fmt": "json", "dates": "shift", "language": "nl"})
    assert response.status_code == 200
    entries = json.loads(response.data)["entry"]
    assert all(entry["fullUrl"].startswith("https://alliance.example.org/fhir/R4/") for entry in entries)


def test_researcher_gets_the_fhir_bundle_pseudonymised_only(app, client, auth, people):
    auth.login("research@example.org")
    response = client.post(
        "/exports/", data={"kind": "fhir", "fmt": "json", "pseudonymise": "", "dates": "drop", "language": "nl"}
    )
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].endswith("familyalliance-fhir-pseudonymised.json")
    bundle = json.loads(response.data)
    with app.app_context():
        researcher = db.session.scalar(sa.select(User).where(User.email == "research@example.org"))
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(app), "drop")
        assert bundle == fhir_export.research_bundle(researcher, "http://localhost/", pseudonymiser, language="nl")
    resources = parse_all(bundle)
    assert len(of_type(resources, "Group")) == 5 and of_type(resources, "Practitioner") == []
    names, codes = names_and_codes(app)
    text = response.data.decode("utf-8")
    assert not any(secret in text for secret in names | codes)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)


def test_team_lead_downloads_redcaps_files_in_a_zip(app, client, auth, people):
    auth.login("lead@example.org")
    response = client.post("/exports/", data={"kind": "redcap", "fmt": "csv", "dates": "shift", "language": "nl"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].endswith("familyalliance-redcap.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == [
        "familyalliance-redcap-dictionary.csv",
        "familyalliance-redcap-readme.txt",
        "familyalliance-redcap.csv",
    ]
    records = pd.read_csv(archive.open("familyalliance-redcap.csv"), dtype=str, keep_default_na=False)
    dictionary = pd.read_csv(archive.open("familyalliance-redcap-dictionary.csv"), dtype=str, keep_default_na=False)
    names, codes = names_and_codes(app)
    assert set(records["family_code"]) - {""} == codes  # named: the case codes, as the other exports
    assert list(dictionary.columns)[:2] == ["Variable / Field Name", "Form Name"]
    assert "Sessienummer binnen het gezin" in set(dictionary["Field Label"])
    text = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    assert not any(name in text for name in names)  # no display names, as no other export


def test_researcher_gets_redcaps_files_pseudonymised(app, client, auth, people):
    auth.login("research@example.org")
    response = client.post("/exports/", data={"kind": "redcap", "fmt": "csv", "dates": "shift", "language": "en"})
    assert response.headers["Content-Disposition"].endswith("familyalliance-redcap-pseudonymised.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    records = pd.read_csv(archive.open("familyalliance-redcap-pseudonymised.csv"), dtype=str, keep_default_na=False)
    members = records[records["redcap_repeat_instrument"] == ""]
    assert members["family_code"].str.fullmatch(r"F[0-9A-F]{12}").all()
    assert members["member_code"].str.fullmatch(r"M[0-9A-F]{8}").all()
    names, codes = names_and_codes(app)
    text = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    assert not any(secret in text for secret in names | codes)


@pytest.mark.parametrize(
    ("kind", "fmt", "language", "message"),
    [
        ("fhir", "csv", "nl", "De FHIR-bundel is er alleen als JSON: kies FHIR JSON als bestandsformaat."),
        ("fhir", "sav", "en", "The FHIR bundle comes as JSON only: choose FHIR JSON as the format."),
        ("redcap", "xlsx", "nl", "De REDCap-export is er alleen als CSV: kies CSV als bestandsformaat."),
        ("redcap", "json", "en", "The REDCap export comes as CSV only: choose CSV as the format."),
        ("long", "json", "nl", "JSON is alleen voor de FHIR-bundel: kies CSV, Excel of SPSS voor deze export."),
        ("research", "json", "en", "JSON is for the FHIR bundle only: choose CSV, Excel or SPSS for this export."),
    ],
)
def test_a_kind_in_a_format_it_has_not_is_refused_in_the_pages_language(
    client, auth, people, kind, fmt, language, message
):
    auth.login("lead@example.org")
    response = client.post(
        f"/exports/?lang={language}", data={"kind": kind, "fmt": fmt, "dates": "shift", "language": language}
    )
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    assert 'id="error-summary"' in response.text
    assert f'<p class="error" id="fmt-error">{message}</p>' in response.text
