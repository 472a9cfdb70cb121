"""A FHIR client no one here wrote (``fhirpy``) reads the API of a live server, with a token made in Chromium.

Ann makes a token on her account's page (checked by axe, WCAG 2.2 AA, in English and Dutch), the
client searches with it, pages through a searchset by its ``next`` links, reads one response,
and is refused once Ann has revoked the token.
"""

from __future__ import annotations

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import AuthorizationError
from playwright.sync_api import expect

from familyalliance.core import fhir

from ..factories import PASSWORD
from ..livebrowser import axe_violations, serve, watch

pytestmark = [pytest.mark.browser, pytest.mark.scenario("course")]


@pytest.fixture
def live(app, make_app, scenario):
    on = make_app(WTF_CSRF_ENABLED=True, TESTING=False)
    with serve(on) as url:
        yield url


def login(page, url: str) -> None:
    page.goto(f"{url}/login?lang=en")
    page.get_by_label("Email").fill("ann@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_fhir_client_reads_the_api_with_a_token_made_in_the_browser(browser, live):
    page = browser.new_page()
    problems = watch(page)
    login(page, live)
    page.goto(f"{live}/account/password?lang=en")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_label("Name").fill("EHR test client")
    page.get_by_role("button", name="Create token").click()
    field = page.get_by_label("Token", exact=True)
    expect(field).to_have_attribute("readonly", "")
    token = field.input_value()
    assert token.startswith("fa_")
    expect(page.get_by_role("row", name="EHR test client")).to_contain_text("Never")
    assert axe_violations(page) == []

    client = SyncFHIRClient(f"{live}/fhir/R4", authorization=f"Bearer {token}")
    # A search, paged one entry at a time: the client follows the bundles' next links.
    m1 = fhir.resource_id(live, "Patient", "FAM-1", "M1")
    forms = client.resources("QuestionnaireResponse").search(subject=f"Patient/{m1}").limit(1).fetch_all()
    assert sorted(form["identifier"]["value"] for form in forms) == [
        "FAM-1/M1/1/self/therapist/check4",
        "FAM-1/M1/1/therapist/therapist/observer4",
    ]
    bonds = client.resources("Observation").search(code="bond").limit(2).fetch_all()
    assert len(bonds) == 3 and {b["code"]["coding"][0]["code"] for b in bonds} == {"bond"}
    # Read one response by its id, and the Patient it is about (named: Ann may open the family page).
    read = client.reference("QuestionnaireResponse", forms[0]["id"]).to_resource()
    assert read["identifier"] == forms[0]["identifier"] and read["item"] == forms[0]["item"]
    patient = client.reference("Patient", m1).to_resource()
    assert patient["name"][0]["text"] == "Sandra"

    page.goto(f"{live}/account/api-tokens?lang=en")
    expect(page.get_by_role("row", name="EHR test client")).not_to_contain_text("Never")
    page.goto(f"{live}/account/api-tokens?lang=nl")
    assert axe_violations(page) == []
    page.get_by_role("button", name="EHR test client intrekken").click()
    expect(page.get_by_text("Je hebt geen tokens in gebruik.")).to_be_visible()
    with pytest.raises(AuthorizationError, match="no valid API token"):  # the client read our 401's OperationOutcome
        client.resources("QuestionnaireResponse").search(subject=f"Patient/{m1}").fetch_all()
    assert problems == []
