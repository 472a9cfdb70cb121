"""The caseload, the family dashboard and the session report: stored summaries and pages.

The tables and charts behind them are tested without an app in ``core/test_charts.py``.
"""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import caseload, casework, demo, responses
from familyalliance.store.db import db
from familyalliance.store.models import Family, FamilySummary, Member, Response, TherapySession, User

from ..factories import commit, gen_family, gen_member, gen_session, gen_user

# --- stored summaries and the caseload -----------------------------------------------------------


@pytest.fixture
def lead(app, auth):
    """A team lead with the demo families, logged in."""
    with app.app_context():
        user = gen_user("team_lead", "Team A", "lead@example.org")
        codes = demo.load_demo(user, builtin_instruments())
        commit()
    auth.login("lead@example.org")
    return codes


def summary(code):
    return db.session.scalar(sa.select(FamilySummary).join(Family).where(Family.code == code))


def test_caseload_ranks_by_stored_concern_with_reasons_and_sparklines(client, lead, app):
    html = client.get("/families/?lang=en").text
    with app.app_context():
        stored = {code: summary(code) for code in lead}
        assert all(s is not None for s in stored.values())
        expected = sorted(lead, key=lambda c: (-stored[c].concern, c))
    shown = re.findall(r'<th scope="row"><a href="/families/([^"]+)">', html)
    assert shown == expected
    assert stored[expected[0]].concern > 0 and stored[expected[0]].reasons
    assert html.count('<svg class="sparkline"') == sum(1 for s in stored.values() if s.balance)
    assert "Balance over the last" in html


def test_new_answers_refresh_the_stored_summary(client, lead, app):
    client.get("/families/")
    with app.app_context():
        family = db.session.scalar(sa.select(Family).where(Family.code == lead[0]))
        before = summary(lead[0])
        revision, concern = before.revision, before.concern
        session = casework.record_session(family, 99, family.sessions[-1].date, [m.id for m in family.members])
        member = family.members[0]
        responses.store_answers(
            [
                {
                    "family_id": family.id,
                    "member_id": member.id,
                    "session_id": session.id,
                    "informant": "self",
                    "target": "therapist",
                    "instrument": "check4",
                    "item": item,
                    "value": "0",
                }
                for item in ("bond", "goals_tasks", "safety", "shared_purpose")
            ],
            builtin_instruments(),
        )
        commit()
        assert db.session.scalar(sa.select(Family.revision).where(Family.id == family.id)) > revision
    client.get("/families/")
    with app.app_context():
        after = summary(lead[0])
        assert after.revision > revision and after.latest_session == 99
        # A drop to the bottom of the scale is a rupture, still open at the latest session.
        assert ("rupture_open", 99) in [(r["kind"], r["session"]) for r in after.reasons]
        assert after.concern != concern


def test_changed_thresholds_refresh_every_summary_by_the_command(app, client, lead, make_app, caplog):
    """A changed threshold concerns every family: ``flask refresh-summaries`` computes them, not a caseload request."""
    client.get("/families/")
    with app.app_context():
        keys = {s.settings_key for s in db.session.scalars(sa.select(FamilySummary))}
        assert len(keys) == 1
    strict = make_app(SPLIT_THRESHOLD=5.0)
    browser = strict.test_client()
    browser.post("/login", data={"email": "lead@example.org", "password": "correct horse battery"})
    assert browser.get("/families/").status_code == 200
    with strict.app_context():
        assert {s.settings_key for s in db.session.scalars(sa.select(FamilySummary))} == keys
    assert "run flask refresh-summaries" in caplog.text
    result = strict.test_cli_runner().invoke(args=["refresh-summaries"])
    assert result.exit_code == 0 and f"{len(lead)} families" in result.output
    with strict.app_context():
        stored = db.session.scalars(sa.select(FamilySummary)).all()
        assert len(stored) == len(lead) and not {s.settings_key for s in stored} & keys
        assert sum(s.flag_split for s in stored) > 0


def count_queries(app, client, url):
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("BEGIN"):  # transaction control (sent explicitly on SQLite), not a query
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return statements


def add_families(count, lead_email="lead@example.org"):
    lead = db.session.scalar(sa.select(User).where(User.email == lead_email))
    for i in range(count):
        family = gen_family(f"EXTRA-{i:03d}", [lead])
        gen_member(family, "M1", "mother")
        gen_member(family, "Y1", "youth")
        gen_session(family, 1)
    commit()


def test_caseload_queries_do_not_grow_with_the_families(client, lead, app):
    client.get("/families/")  # summaries computed
    app.extensions.pop("familyalliance.pages", None)  # count a page that is built, not one from the cache
    few = count_queries(app, client, "/families/")
    cached = count_queries(app, client, "/families/")
    with app.app_context():
        add_families(40)
    client.get("/families/")
    app.extensions.pop("familyalliance.pages", None)
    many = count_queries(app, client, "/families/")
    assert len(few) == len(many), "\n".join(many)
    assert len(many) <= 14  # the page: its ids in index order, then those families
    assert len(cached) < len(few)


def test_the_kept_caseload_follows_changes(client, lead, app):
    first = client.get("/families/?lang=en").text
    with app.app_context():
        family = db.session.scalar(sa.select(Family).where(Family.code == lead[0]))
        casework.update_family(family, family.code, family.start_date, "closed", family.therapists)
        commit()
    after = client.get("/families/?lang=en").text
    row = re.compile(rf'href="/families/{lead[0]}">.*?</tr>', re.S)
    assert "Closed" not in row.search(first).group(0) and "Closed" in row.search(after).group(0)


def test_caseload_filters_and_pages(client, lead, app, monkeypatch):

    with app.app_context():
        add_families(5)
        paused = db.session.scalar(sa.select(Family).where(Family.code == "EXTRA-000"))
        paused.status = "paused"
        commit()
    html = client.get("/families/?status=paused&lang=en").text
    assert "EXTRA-000" in html and "EXTRA-001" not in html
    with app.app_context():
        flagged = {s.family_id for s in db.session.scalars(sa.select(FamilySummary).where(FamilySummary.flag_split))}
        codes = set(db.session.scalars(sa.select(Family.code).where(Family.id.in_(flagged))))
    html = client.get("/families/?flag=split").text
    assert set(re.findall(r'<th scope="row"><a href="/families/([^"]+)">', html)) == codes
    monkeypatch.setattr(caseload, "PAGE_SIZE", 3)
    first = client.get("/families/?status=active&lang=en").text
    second = client.get("/families/?status=active&page=2&lang=en").text
    rows = re.compile(r'<th scope="row"><a href="/families/([^"]+)">')
    assert len(rows.findall(first)) == 3 and not set(rows.findall(first)) & set(rows.findall(second))
    assert 'href="/families/?page=2&amp;status=active"' in first
    assert "Page 2 of" in second


def test_an_unknown_filter_value_gets_a_clear_error(client, lead):
    response = client.get("/families/?flag=everything&team=abc&lang=en")
    assert response.status_code == 400
    assert "Not a valid choice" in response.text
    assert 'id="flag-error"' in response.text and 'id="team-error"' in response.text


def test_a_therapist_sees_only_their_families_in_the_filters(client, app, auth):
    with app.app_context():
        ann = gen_user("therapist", "Team A", "ann@example.org")
        bob = gen_user("therapist", "Team B", "bob@example.org")
        gen_family("ANN-1", [ann])
        gen_family("BOB-1", [bob], "Team B")
        commit()
    auth.login("ann@example.org")
    html = client.get("/families/").text
    assert "ANN-1" in html and "BOB-1" not in html
    assert "bob@example.org" not in html and "Team B" not in html


# --- the family dashboard and the session report --------------------------------------------------


def test_dashboard_embeds_five_charts_with_tables_and_prompts(client, lead):
    html = client.get(f"/families/{lead[0]}?lang=en").text
    charts = ("chart-lines", "chart-heat", "chart-views", "chart-balance", "chart-gap")
    for chart in charts:
        assert f'<script type="application/json" data-chart="{chart}">' in html
    assert html.count('<details class="chart-table">') == len(charts)
    assert "For the next session" in html
    assert 'src="/assets/vega-' in html and 'src="/static/charts.js"' in html
    assert "</script" not in html.split('data-chart="chart-lines">')[1].split("</script>")[0]


def test_chart_specs_in_the_page_are_strict_json(client, app, auth):
    """A family without ruptures: the empty columns of the other layers must not become NaN."""
    with app.app_context():
        user = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("CALM-1", [user])
        members = [gen_member(family, "M1", "mother"), gen_member(family, "Y1", "youth")]
        session = gen_session(family, 1)
        responses.store_answers(
            [
                {
                    "family_id": family.id,
                    "member_id": m.id,
                    "session_id": session.id,
                    "informant": "self",
                    "target": "therapist",
                    "instrument": "check4",
                    "item": item,
                    "value": "7",
                }
                for m in members
                for item in ("bond", "goals_tasks", "safety", "shared_purpose")
            ],
            builtin_instruments(),
        )
        commit()
    auth.login("ann@example.org")
    html = client.get("/families/CALM-1").text
    specs = re.findall(r'data-chart="[^"]+">(.*?)</script>', html)
    assert len(specs) == 4  # lines, heat, balance and the session's views; no gap without the therapist's view

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    for text in specs:
        json.loads(text, parse_constant=refuse)


def test_dashboard_follows_new_data(client, lead, app):
    code = lead[1]
    before = client.get(f"/families/{code}?lang=en").text
    with app.app_context():
        family = db.session.scalar(sa.select(Family).where(Family.code == code))
        casework.update_member(family.members[0], display_name="Renamed Person")
        commit()
    after = client.get(f"/families/{code}?lang=en").text
    assert "Renamed Person" not in before and "Renamed Person" in after


def test_dashboard_switches_to_the_team_where_the_family_rated_it(client, lead):
    team_family = next(c for c in lead if c.endswith("-03"))
    html = client.get(f"/families/{team_family}?lang=en").text
    assert "With the team" in html
    assert client.get(f"/families/{team_family}?target=team").status_code == 200
    assert client.get(f"/families/{team_family}?target=nobody").status_code == 404


def test_dashboard_without_ratings_says_so(client, app, auth):
    with app.app_context():
        user = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("EMPTY-1", [user])
        gen_member(family, "M1", "mother")
        commit()
    auth.login("ann@example.org")
    html = client.get("/families/EMPTY-1?lang=en").text
    assert "the charts appear once members have answered" in html and "data-chart=" not in html


def test_session_report_page_svg_and_pdf(client, lead, app):
    code = lead[1]
    with app.app_context():
        number = db.session.scalar(
            sa.select(sa.func.max(TherapySession.number)).join(Family).where(Family.code == code)
        )
    page = client.get(f"/families/{code}/sessions/{number}/report?lang=nl")
    assert page.status_code == 200 and "Sessieverslag" in page.text
    for chart in ("lines", "heat", "views"):
        assert f"/families/{code}/sessions/{number}/report/{chart}.svg" in page.text
        svg = client.get(f"/families/{code}/sessions/{number}/report/{chart}.svg")
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        assert svg.data.startswith(b"<svg")
    pdf = client.get(f"/families/{code}/sessions/{number}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert f'filename="{code}-session-{number}.pdf"' in pdf.headers["Content-Disposition"]
    assert client.get(f"/families/{code}/sessions/{number}/report/other.svg").status_code == 404


def test_report_of_another_teams_family_is_not_found(client, app, auth, lead):
    with app.app_context():
        gen_user("therapist", "Team B", "cas@example.org")
        commit()
    auth.logout()
    auth.login("cas@example.org")
    for path in ("", "/sessions/1/report", "/sessions/1/report/lines.svg", "/sessions/1/report.pdf"):
        assert client.get(f"/families/{lead[0]}{path}").status_code == 404


def test_the_vega_bundle_is_served_by_the_app(client, lead):
    html = client.get(f"/families/{lead[0]}").text
    url = re.search(r'src="(/assets/vega-[^"]+\.js)"', html).group(1)
    with client.get(url) as bundle:
        assert bundle.status_code == 200 and bundle.mimetype == "text/javascript"
        assert b"window.vegaEmbed" in bundle.data and b"expressionInterpreter" in bundle.data
    assert client.get("/assets/vega-0.0.0.js").status_code == 404


def test_pages_carry_a_strict_content_security_policy(client, lead):
    policy = client.get(f"/families/{lead[0]}").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert client.get("/login").headers["X-Content-Type-Options"] == "nosniff"


def test_dutch_dashboard_uses_the_dutch_number_locale(client, lead):
    html = client.get(f"/families/{lead[0]}?lang=nl").text
    locale = re.search(r'<script type="application/json" id="vega-locale">(.*?)</script>', html).group(1)
    assert '"decimal": ","' in locale or '"decimal":","' in locale
    english = client.get(f"/families/{lead[0]}?lang=en").text
    assert re.search(r'id="vega-locale">\{\}</script>', english)


def test_chart_data_in_the_page_has_no_member_codes_of_other_families(client, lead, app):
    with app.app_context():
        names = {
            m.display_name for m in db.session.scalars(sa.select(Member).join(Family).where(Family.code != lead[0]))
        }
    html = client.get(f"/families/{lead[0]}?lang=en").text
    specs = "".join(re.findall(r'data-chart="[^"]+">(.*?)</script>', html))
    assert not {n for n in names if f'"{n}"' in specs}


def test_a_rebuilt_dashboard_reads_the_stored_scores_never_the_answers(client, lead, app):
    """The page counts each session's answers from the stored scores, and they agree with the answers."""
    code = lead[0]
    client.get(f"/families/{code}")
    app.extensions.pop("familyalliance.pages", None)  # built, not from the cache
    statements = count_queries(app, client, f"/families/{code}?lang=en")
    assert not [s for s in statements if re.search(r"\b(FROM|JOIN) response\b", s)], statements
    html = client.get(f"/families/{code}?lang=en").text
    shown = dict(
        re.findall(
            r'sessions/(\d+)">\d+<span[^>]*>[^<]*</span></a></th>\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*'
            r'<td class="num">(\d+)</td>',
            html,
        )
    )
    with app.app_context():
        answered = db.session.execute(
            sa.select(TherapySession.number, sa.func.count())
            .join(Response, Response.session_id == TherapySession.id)
            .join(Family, Family.id == TherapySession.family_id)
            .where(Family.code == code, Response.value.is_not(None))
            .group_by(TherapySession.number)
        ).all()
        sessions = db.session.scalar(
            sa.select(sa.func.count()).select_from(TherapySession).join(Family).where(Family.code == code)
        )
    assert len(shown) == sessions and answered
    assert {int(n): int(c) for n, c in shown.items() if c != "0"} == {n: c for n, c in answered}
