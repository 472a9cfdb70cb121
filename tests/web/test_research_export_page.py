"""The research statistics on the Export page: a researcher and a team lead download them, each for their families."""

from __future__ import annotations

import io
import re
import zipfile

import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from familyalliance import config
from familyalliance.core import exports
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, Team
from familyalliance.store.queries import responses_frame
from familyalliance.web.data.forms import EXCHANGE_LABELS, KIND_LABELS

from ..factories import commit, gen_user
from ..services.test_research_export import assert_same, expected_statistics, keyed, make_families


@pytest.fixture
def families(app, runner, tmp_path):
    """The five demo families in team Demo, and one family of team Noord."""
    make_families(app, runner, tmp_path)


def family_ids(app, team: str | None = None) -> list[int]:
    """The ids of every family, or of one team's."""
    with app.app_context():
        query = sa.select(Family.id)
        if team:
            query = query.join(Team).where(Team.name == team)
        return list(db.session.scalars(query))


def secrets(app) -> set[str]:
    """Family codes, member codes and display names: none may be in a research file."""
    with app.app_context():
        return {
            *db.session.scalars(sa.select(Family.code)),
            *db.session.scalars(sa.select(Member.code)),
            *db.session.scalars(sa.select(Member.display_name)),
        }


def test_every_export_kind_is_offered_on_the_page(app, client, auth, families):
    """The form offers every export kind, research in both languages."""
    assert list(KIND_LABELS) == list(exports.KINDS)
    with app.app_context():
        gen_user("researcher", None, "research@example.org")
        commit()
    auth.login("research@example.org")
    assert 'value="research">Research statistics (alpha, ICC)<' in client.get("/exports/?lang=en").text
    assert 'value="research">Onderzoeksstatistieken (alfa, ICC)<' in client.get("/exports/?lang=nl").text


def test_researcher_downloads_the_statistics_of_every_family(app, client, auth, families):
    """A researcher without a team exports all six families: the numbers of core.research, no code, no date."""
    with app.app_context():
        gen_user("researcher", None, "research@example.org")
        commit()
        expected = expected_statistics(responses_frame(family_ids(app)))
    auth.login("research@example.org")
    response = client.post(
        "/exports/", data={"kind": "research", "fmt": "csv", "dates": "shift", "language": "en", "pseudonymise": "y"}
    )
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].endswith("familyalliance-research-pseudonymised.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == [
        "familyalliance-research-pseudonymised-codebook.csv",
        "familyalliance-research-pseudonymised.csv",
    ]
    text = archive.read("familyalliance-research-pseudonymised.csv").decode("utf-8")
    table = pd.read_csv(io.StringIO(text), dtype={"instrument": str})
    assert_same(keyed(table.to_dict("records")), expected)
    assert max(table["n_families"]) == 6
    cells = set(text.replace("\n", ",").split(","))
    assert not cells & secrets(app)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)


def test_team_lead_downloads_the_statistics_of_their_team_without_pseudonymising(app, client, auth, families):
    """Unticking "pseudonymise" changes nothing: the table names no family; only team Demo's five count."""
    with app.app_context():
        gen_user("team_lead", "Demo", "lead@example.org")
        commit()
        expected = expected_statistics(responses_frame(family_ids(app, "Demo")))
    auth.login("lead@example.org")
    response = client.post("/exports/", data={"kind": "research", "fmt": "xlsx", "dates": "shift", "language": "nl"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith("familyalliance-research.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    data = list(book["data"].values)
    assert_same(keyed([dict(zip(data[0], row, strict=True)) for row in data[1:]]), expected)
    assert max(row[data[0].index("n_families")] for row in data[1:]) == 5
    cells = {str(value) for sheet in book for row in sheet.values for value in row if value is not None}
    assert not cells & secrets(app)
    assert not any(re.search(r"\d{4}-\d{2}-\d{2}", str(value)) for row in data for value in row)
    readme = dict(book["readme"].values)
    assert readme["pseudonymised"] == "not needed: no family or member codes"


def test_fhir_and_redcap_are_offered_beside_the_tables(app, client, auth, families):
    assert list(EXCHANGE_LABELS) == list(exports.EXCHANGE_KINDS)
    with app.app_context():
        gen_user("researcher", None, "research@example.org")
        commit()
    auth.login("research@example.org")
    english = client.get("/exports/?lang=en").text
    assert (
        '<optgroup label="For other systems"><option value="fhir">FHIR R4 bundle (for an EHR)</option>'
        '<option value="redcap">REDCap: records and data dictionary</option></optgroup>'
    ) in english
    dutch = client.get("/exports/?lang=nl").text
    assert '<optgroup label="Tabellen"><option value="long">' in dutch
    assert (
        '<optgroup label="Voor andere systemen"><option value="fhir">FHIR R4-bundel (voor een EPD)</option>'
        '<option value="redcap">REDCap: records en datadictionary</option></optgroup>'
    ) in dutch
    assert 'value="json">FHIR JSON (.json)<' in dutch


def test_researcher_takes_every_family_to_redcap_pseudonymised(app, client, auth, families):
    """Six families of two teams, every member a record under the research exports' opaque codes."""
    with app.app_context():
        gen_user("researcher", None, "research@example.org")
        commit()
        pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(app))
        members = {
            (pseudonymiser.family(f), pseudonymiser.member(f, m))
            for f, m in db.session.execute(sa.select(Family.code, Member.code).join(Family))
        }
    auth.login("research@example.org")
    response = client.post("/exports/", data={"kind": "redcap", "fmt": "csv", "dates": "shift", "language": "nl"})
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    records = pd.read_csv(archive.open("familyalliance-redcap-pseudonymised.csv"), dtype=str, keep_default_na=False)
    people = records[records["redcap_repeat_instrument"] == ""]
    assert set(zip(people["family_code"], people["member_code"], strict=True)) == members
    assert len({code for code, _ in members}) == 6
    text = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    cells = set(re.split(r"[,\n]", text))
    assert not cells & secrets(app)
