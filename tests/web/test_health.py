"""The health endpoint."""


def test_healthz_ok(client):
    """With a database that answers: 200 and no data beyond the status."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_database_down(make_app, tmp_path):
    """With a database that cannot be reached: 503, without a login."""
    app = make_app(SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "missing-dir" / "db.sqlite"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "error"


def test_database_down_is_503_for_everyone(app, client, auth, make_app, scenario, tmp_path):
    """With a session cookie too: /healthz answers its JSON and every page the app's translated 503 page.

    Before, loading the logged-in user failed ahead of the error handlers: Werkzeug's bare "Internal Server
    Error" on every page, /healthz included.
    """
    assert auth.login("ann@example.org").status_code == 302
    cookie = client.get_cookie("session", domain="localhost")
    assert cookie is not None
    down = make_app(SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "missing-dir" / "db.sqlite"))
    visitor = down.test_client()
    visitor.set_cookie("session", cookie.value, domain="localhost", secure=True, httponly=True)
    health = visitor.get("/healthz")
    assert health.status_code == 503 and health.json == {"status": "error", "database": "unavailable"}
    for path, words in (
        ("/families/?lang=nl", "Tijdelijk niet beschikbaar"),
        ("/families/FAM-1?lang=en", "Temporarily unavailable"),
        ("/login?lang=en", "Temporarily unavailable"),
    ):
        page = visitor.get(path)
        assert page.status_code == 503, path
        assert words in page.text and "Internal Server Error" not in page.text, path
        assert page.headers["Retry-After"] == "60"
    sent = visitor.post("/r/a-members-link-token?lang=en", data={"bond": "7"})
    assert sent.status_code == 503 and "nothing was saved" in sent.text
    # A visitor without a cookie gets the same.
    assert down.test_client().get("/healthz").status_code == 503
    assert down.test_client().get("/r/some-token?lang=en").status_code == 503
