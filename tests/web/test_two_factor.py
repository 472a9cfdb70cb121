"""Two-factor sign-in for staff: setup, codes accepted once, lockout and rate limit, recovery codes, the role
setting, an admin's reset, and a secret nobody reads back.

The suite's base settings turn two-factor sign-in off (``TWO_FACTOR_ROLES`` empty, tests/conftest.py);
these tests turn it on in an app of their own on the same database (production default: on).
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from familyalliance import create_app
from familyalliance.store.db import db
from familyalliance.store.models import AuditEvent, RecoveryCode, User

from ..conftest import base_config
from ..factories import PASSWORD, commit, gen_user
from .test_dutch_everywhere import English, problems, visible

#: Every role that can open a family: the production default.
ON = ["therapist", "team_lead", "admin"]


@pytest.fixture
def people(app) -> dict[str, int]:
    with app.app_context():
        made = {
            "ann": gen_user("therapist", "Team A", "ann@example.org"),
            "tom": gen_user("therapist", "Team B", "tom@example.org"),
            "lead": gen_user("team_lead", "Team A", "lead@example.org"),
            "admin": gen_user("admin", None, "admin@example.org"),
            "rita": gen_user("researcher", None, "rita@example.org"),
        }
        commit()
        return {name: user.id for name, user in made.items()}


@pytest.fixture
def on_app(app, make_app):
    """The app with two-factor sign-in required for every role that can open a family."""
    return make_app(TWO_FACTOR_ROLES=ON)


@pytest.fixture
def client2(on_app):
    return on_app.test_client()


def login(client, email: str, password: str = PASSWORD):
    return client.post("/login?lang=en", data={"email": email, "password": password})


def user_row(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def actions(app) -> list[tuple[str, str | None, dict]]:
    with app.app_context():
        return [
            (e.action, e.user_email, e.detail)
            for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
        ]


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def logged_in(client) -> bool:
    return client.get("/account/password").status_code == 200


def set_up(client, app, user_id: int, email: str) -> tuple[str, list[str]]:
    """Log in with the password, set the factor up at /login/setup; the secret (as the page shows it) and codes."""
    assert login(client, email).location == "/login/setup"
    page = client.get("/login/setup?lang=en").text
    secret = re.search(r"<code class=\"secret\" data-secret>([A-Z2-7 ]+)</code>", page)[1].replace(" ", "")
    assert secret == user_row(app, user_id).totp_secret
    done = client.post("/login/setup?lang=en", data={"code": code_at(secret)})
    assert done.status_code == 200, done.text
    codes = re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>", done.text)
    assert len(codes) == 10
    return secret, codes


def test_setup_at_first_login_then_login_with_a_code(app, on_app, client2, people):
    # The password alone does not log in: the account must set up its second factor first.
    response = login(client2, "ann@example.org")
    assert response.status_code == 302 and response.location == "/login/setup"
    assert client2.get("/families/").status_code == 302 and not logged_in(client2)
    page = client2.get("/login/setup?lang=en")
    assert page.status_code == 200
    assert "<svg" in page.text and 'autocomplete="one-time-code"' in page.text and 'inputmode="numeric"' in page.text
    assert client2.get("/login/setup").text.count("data-secret") == 1  # a reload keeps the secret scanned
    # A wrong code is a failed login.
    wrong = client2.post("/login/setup?lang=en", data={"code": "000000"})
    assert wrong.status_code == 401 and "The code is not correct" in wrong.text
    assert user_row(app, people["ann"]).failed_logins == 1
    secret = user_row(app, people["ann"]).totp_secret
    done = client2.post("/login/setup?lang=en", data={"code": code_at(secret)})
    assert done.status_code == 200 and "I have saved them: continue" in done.text
    assert logged_in(client2)
    ann = user_row(app, people["ann"])
    assert ann.two_factor_on and ann.failed_logins == 0
    with app.app_context():
        stored = db.session.scalars(sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == ann.id)).all()
    assert len(stored) == 10 and all(len(h) == 64 for h in stored)
    client2.post("/logout")

    # Next time: password, then a code (of a later step than the one used at the setup).
    assert login(client2, "ann@example.org").location == "/login/code"
    assert not logged_in(client2)
    code_page = client2.get("/login/code?lang=en").text
    assert 'autocomplete="one-time-code"' in code_page and secret not in code_page
    response = client2.post("/login/code", data={"code": code_at(secret, 1)})
    assert response.status_code == 302 and response.location == "/families/"
    assert logged_in(client2)
    names = [a for a, _, _ in actions(app)]
    assert names == ["login.two_factor_failed", "two_factor.setup", "login.two_factor", "logout", "login.two_factor"]


def test_a_code_is_accepted_once(app, on_app, client2, people):
    secret, _codes = set_up(client2, app, people["ann"], "ann@example.org")
    client2.post("/logout")
    code = code_at(secret, 1)
    assert login(client2, "ann@example.org").location == "/login/code"
    assert client2.post("/login/code", data={"code": code}).status_code == 302
    client2.post("/logout")
    # The same code again (still within its window): refused, and counted as a failed login.
    assert login(client2, "ann@example.org").location == "/login/code"
    reused = client2.post("/login/code?lang=en", data={"code": code})
    assert reused.status_code == 401 and "used already" in reused.text
    assert not logged_in(client2)
    assert user_row(app, people["ann"]).failed_logins == 1
    assert actions(app)[-1][0] == "login.two_factor_failed" and actions(app)[-1][2]["reason"] == "reused"
    # An older step than the last one accepted is refused too.
    assert client2.post("/login/code", data={"code": code_at(secret, -1)}).status_code == 401


def test_wrong_codes_count_towards_the_lockout(app, on_app, client2, people):
    secret, _codes = set_up(client2, app, people["ann"], "ann@example.org")
    client2.post("/logout")
    max_failures = on_app.config["LOGIN_MAX_FAILURES"]
    assert login(client2, "ann@example.org").location == "/login/code"
    for _ in range(max_failures - 2):
        assert client2.post("/login/code", data={"code": "123456"}).status_code == 401
    # The right password again does not clear the count: only a right code does.
    assert login(client2, "ann@example.org").location == "/login/code"
    assert user_row(app, people["ann"]).failed_logins == max_failures - 2
    assert client2.post("/login/code", data={"code": "654321"}).status_code == 401
    locked = client2.post("/login/code?lang=en", data={"code": "111111"})
    assert locked.status_code == 401 and "locked for a while" in locked.text
    assert user_row(app, people["ann"]).locked()
    assert actions(app)[-1][0] == "login.lockout"
    # Locked: the right password and the right code wait as well.
    assert login(client2, "ann@example.org").status_code == 401
    assert client2.post("/login/code", data={"code": code_at(secret, 1)}).location == "/login"
    assert not logged_in(client2)


def test_the_code_form_shares_the_login_rate_limit(app, make_app, people):
    limited = make_app(TWO_FACTOR_ROLES=ON, LOGIN_RATE_LIMIT="3 per minute", LOGIN_MAX_FAILURES=50)
    client = limited.test_client()
    set_up(client, app, people["ann"], "ann@example.org")
    client.post("/logout")
    assert login(client, "ann@example.org", "wrong password").status_code == 401  # one failure on the password form
    assert login(client, "ann@example.org").location == "/login/code"
    assert client.post("/login/code", data={"code": "000000"}).status_code == 401
    assert client.post("/login/code", data={"code": "000001"}).status_code == 401  # the third: the limit is reached
    assert client.post("/login/code", data={"code": "000002"}).status_code == 429
    assert login(client, "ann@example.org", "wrong password").status_code == 429


def test_a_recovery_code_logs_in_once(app, on_app, client2, people):
    _secret, codes = set_up(client2, app, people["ann"], "ann@example.org")
    client2.post("/logout")
    assert login(client2, "ann@example.org").location == "/login/code"
    page = client2.get("/login/code?lang=en").text
    assert "Use a recovery code" in page
    used = client2.post("/login/code?lang=en", data={"recovery_code": codes[3].upper().replace("-", " ")})
    assert used.status_code == 302 and logged_in(client2)
    assert actions(app)[-1][:2] == ("login.recovery_code", "ann@example.org")
    assert actions(app)[-1][2] == {"recovery_codes_left": 9}
    client2.post("/logout")
    assert login(client2, "ann@example.org").location == "/login/code"
    again = client2.post("/login/code?lang=en", data={"recovery_code": codes[3]})
    assert again.status_code == 401 and not logged_in(client2)
    assert actions(app)[-1][0] == "login.two_factor_failed" and actions(app)[-1][2]["recovery_code"] is True
    assert client2.post("/login/code", data={"recovery_code": codes[4]}).status_code == 302


def test_the_setting_says_which_roles(app, make_app, people):
    leads_only = make_app(TWO_FACTOR_ROLES="team_lead, admin").test_client()  # as the environment gives it
    assert login(leads_only, "ann@example.org").location == "/families/"  # a therapist: the password alone
    leads_only.post("/logout")
    assert login(leads_only, "lead@example.org").location == "/login/setup"
    off = make_app(TWO_FACTOR_ROLES="").test_client()
    assert login(off, "admin@example.org").location == "/admin/users"
    everyone = make_app(TWO_FACTOR_ROLES=ON).test_client()
    assert login(everyone, "rita@example.org").location == "/exports/"  # a researcher opens no family
    with pytest.raises(ValueError, match="unknown roles"):
        create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"]) | {"TWO_FACTOR_ROLES": ["therapists"]})


def test_a_set_up_factor_is_asked_even_when_the_role_does_not_require_it(app, make_app, people):
    client = make_app(TWO_FACTOR_ROLES=[]).test_client()
    assert login(client, "rita@example.org").status_code == 302
    page = client.get("/account/two-factor?lang=en")
    assert page.status_code == 200 and "Two-factor sign-in is off" in page.text
    secret = user_row(app, people["rita"]).totp_secret
    wrong = client.post("/account/two-factor?lang=en", data={"code": "000000"})
    assert wrong.status_code == 422 and "The code is not correct" in wrong.text
    done = client.post("/account/two-factor?lang=en", data={"code": code_at(secret)})
    assert done.status_code == 200 and "Your recovery codes" in done.text
    client.post("/logout")
    assert login(client, "rita@example.org").location == "/login/code"


def test_new_recovery_codes_void_the_old_ones(app, on_app, client2, people):
    _secret, old = set_up(client2, app, people["ann"], "ann@example.org")
    page = client2.get("/account/two-factor?lang=en")
    assert "10 recovery codes are left." in page.text
    refused = client2.post("/account/two-factor?lang=en", data={"password": "not my password"})
    assert refused.status_code == 422 and "This is not your current password." in refused.text
    renewed = client2.post("/account/two-factor?lang=en", data={"password": PASSWORD})
    new = re.findall(r"<li><code>([a-z2-7-]{14})</code></li>", renewed.text)
    assert len(new) == 10 and not set(new) & set(old)
    assert [a for a, _, _ in actions(app)][-2:] == ["two_factor.recovery_codes_refused", "two_factor.recovery_codes"]
    client2.post("/logout")
    assert login(client2, "ann@example.org").location == "/login/code"
    assert client2.post("/login/code", data={"recovery_code": old[0]}).status_code == 401
    assert client2.post("/login/code", data={"recovery_code": new[0]}).status_code == 302


def test_an_admin_resets_a_second_factor_audited(app, on_app, client2, people):
    secret, codes = set_up(client2, app, people["ann"], "ann@example.org")
    client2.post("/logout")
    admin = on_app.test_client()
    admin_secret, _ = set_up(admin, app, people["admin"], "admin@example.org")
    page = admin.get(f"/admin/users/{people['ann']}?lang=en").text
    assert "On since" in page and "Reset two-factor sign-in" in page and secret not in page
    assert admin.post(f"/admin/users/{people['ann']}/two-factor/reset").status_code == 302
    ann = user_row(app, people["ann"])
    assert ann.totp_secret is None and not ann.two_factor_on and ann.totp_last_step is None
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == people["ann"])
            )
            == 0
        )
    assert actions(app)[-1] == ("user.two_factor_reset", "admin@example.org", {"account": "ann@example.org"})
    # Ann sets it up again at her next login; her old codes do not help.
    assert login(client2, "ann@example.org").location == "/login/setup"
    assert client2.post("/login/code", data={"recovery_code": codes[0]}).location == "/login"
    # Nobody resets their own.
    assert admin.post(f"/admin/users/{people['admin']}/two-factor/reset").status_code == 302
    assert user_row(app, people["admin"]).two_factor_on and admin_secret


def test_a_team_lead_resets_only_the_teams_therapists(app, make_app, people):
    client = make_app(TWO_FACTOR_ROLES=["therapist"]).test_client()
    set_up(client, app, people["ann"], "ann@example.org")
    client.post("/logout")
    set_up(client, app, people["tom"], "tom@example.org")
    client.post("/logout")
    assert login(client, "lead@example.org").location == "/families/"
    assert client.post(f"/admin/users/{people['tom']}/two-factor/reset").status_code == 404  # another team
    assert user_row(app, people["tom"]).two_factor_on
    assert client.post(f"/admin/users/{people['ann']}/two-factor/reset").status_code == 302
    assert not user_row(app, people["ann"]).two_factor_on
    assert actions(app)[-1][:2] == ("user.two_factor_reset", "lead@example.org")


def test_the_password_step_expires(app, on_app, client2, people):
    set_up(client2, app, people["ann"], "ann@example.org")
    client2.post("/logout")
    assert login(client2, "ann@example.org").location == "/login/code"
    with client2.session_transaction() as session:
        session["pending"] = session["pending"] | {"at": time.time() - 6 * 60}
    assert client2.get("/login/code").location == "/login"
    assert client2.get("/login/setup").location == "/login"


def test_nobody_reads_the_secret_back(app, on_app, client2, people):
    secret, codes = set_up(client2, app, people["ann"], "ann@example.org")
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    for path in ("/account/two-factor", "/account/password", "/families/", "/login/setup", "/login/code"):
        for language in ("en", "nl"):
            text = client2.get(f"{path}?lang={language}").text
            assert secret not in text and spaced not in text, path
            assert not any(code in text for code in codes), path
    client2.post("/logout")
    admin = on_app.test_client()
    set_up(admin, app, people["admin"], "admin@example.org")
    for path in (f"/admin/users/{people['ann']}", "/admin/users", "/admin/audit"):
        text = admin.get(path).text
        assert secret not in text and spaced not in text, path
    csv = admin.get("/admin/audit.csv").text
    assert secret not in csv and not any(code in csv for code in codes)
    for _action, _email, detail in actions(app):
        assert secret not in str(detail) and not any(code in str(detail) for code in codes)


def test_pages_in_dutch(app, on_app, client2, people):
    """Every page and message of two-factor sign-in, in Dutch: no English message, no raw code."""
    english = English()
    shown: dict[str, list[str]] = {}

    def check(name, response):
        shown[name] = problems(visible(response)[0], english)

    assert login(client2, "ann@example.org").location == "/login/setup"
    page = client2.get("/login/setup?lang=nl")
    assert "Tweestapsinloggen instellen" in page.text
    check("setup", page)
    check("setup, wrong code", client2.post("/login/setup?lang=nl", data={"code": "000000"}))
    check("setup, not six digits", client2.post("/login/setup?lang=nl", data={"code": "12"}))
    secret = user_row(app, people["ann"]).totp_secret
    done = client2.post("/login/setup?lang=nl", data={"code": code_at(secret)})
    assert "Je herstelcodes" in done.text
    codes = re.findall(r"<li><code>([a-z2-7-]{14})</code></li>", done.text)
    check("recovery codes", done)
    check("account page", client2.get("/account/two-factor?lang=nl"))
    check("account page, wrong password", client2.post("/account/two-factor?lang=nl", data={"password": "x"}))
    check("password page", client2.get("/account/password?lang=nl"))
    client2.post("/logout")
    login(client2, "ann@example.org")
    check("code", client2.get("/login/code?lang=nl"))
    check("code, wrong", client2.post("/login/code?lang=nl", data={"code": "000000"}))
    client2.post("/login/code?lang=nl", data={"recovery_code": codes[0]})
    check("flash after a recovery code", client2.get("/account/password?lang=nl"))
    client2.post("/logout")
    admin = on_app.test_client()
    set_up(admin, app, people["admin"], "admin@example.org")
    check("admin's account page", admin.get(f"/admin/users/{people['ann']}?lang=nl"))
    admin.post(f"/admin/users/{people['ann']}/two-factor/reset")
    check("admin's account page after the reset", admin.get(f"/admin/users/{people['ann']}?lang=nl"))
    check("the own account", admin.get(f"/admin/users/{people['admin']}?lang=nl"))
    admin.post(f"/admin/users/{people['admin']}/two-factor/reset")
    check("own reset refused", admin.get(f"/admin/users/{people['admin']}?lang=nl"))
    assert {name: found for name, found in shown.items() if found} == {}
