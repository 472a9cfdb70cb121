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
