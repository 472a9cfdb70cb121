"""The expected trajectory on the pages (metrics.md section 10): the band behind the overall alliance on the family
dashboard (hidden, with a note, where fewer than 30 points exist), and "below expected at two consecutive points"
as the same fact on the caseload (reason and flag) and in the family page's prompts."""

from __future__ import annotations

import json
import re

from familyalliance.services import importer
from familyalliance.store.registry import installed_instruments
from tests.expected_data import LOW_FAMILY, clinic_csv
from tests.factories import PASSWORD, commit, gen_user


def clinic(app, tmp_path, families: int) -> None:
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ther@example.org")
        commit()
        path = clinic_csv(tmp_path / "clinic.csv", families=families)
        importer.import_long_csv(path, installed_instruments(), therapists=[therapist])


def lines_spec(html: str) -> dict:
    return json.loads(re.search(r'data-chart="chart-lines">(.*?)</script>', html, re.S).group(1))


def expected_rows(spec: dict) -> list[dict]:
    return [row for rows in spec["datasets"].values() for row in rows if row.get("layer") == "expected"]


def test_the_band_is_drawn_behind_the_total_with_its_table(app, client, auth, tmp_path):
    clinic(app, tmp_path, families=12)
    auth.login("ther@example.org", PASSWORD)
    html = client.get(f"/families/{LOW_FAMILY}?lang=en").text
    rows = expected_rows(lines_spec(html))
    assert [r["session"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["dimension"] == "total" and r["p10"] <= r["p25"] <= r["p75"] <= r["p90"] for r in rows)
    # The band's layers come before the members' lines (drawn behind them).
    layers = json.dumps(lines_spec(html)["spec"]["layer"])
    assert layers.index("datum.layer === 'expected'") < layers.index("datum.layer === 'line'")
    assert "the expected course in this clinic" in html
    assert "Expected course of the overall alliance in this clinic" in html  # the table alternative
    assert "No expected band" not in html
    # The father's two latest points are under the band: the prompt says so.
    assert "lower than is usual in this clinic at this point of treatment, in sessions 5 and 6" in html


def test_the_caseload_flags_and_words_below_expected(app, client, auth, tmp_path):
    clinic(app, tmp_path, families=12)
    auth.login("ther@example.org", PASSWORD)
    html = client.get("/families/?flag=below_expected&lang=en").text
    assert set(re.findall(r'<th scope="row"><a href="/families/([^"]+)">', html)) == {LOW_FAMILY}
    assert "Below the expected course: Name F" in html or "Below the expected course: F" in html
    dutch = client.get("/families/?flag=below_expected&lang=nl").text
    assert "Onder het verwachte verloop" in dutch


def test_below_thirty_points_the_band_is_hidden_with_a_note(app, client, auth, tmp_path):
    clinic(app, tmp_path, families=9)  # 27 points per session number
    auth.login("ther@example.org", PASSWORD)
    html = client.get(f"/families/{LOW_FAMILY}?lang=en").text
    assert expected_rows(lines_spec(html)) == []
    assert "No expected band at session 1, 2, 3, 4, 5, 6: fewer than 30 ratings" in html
    dutch = client.get(f"/families/{LOW_FAMILY}?lang=nl").text
    assert "Geen verwachte band bij sessie 1, 2, 3, 4, 5, 6" in dutch
