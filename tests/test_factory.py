"""The app factory and configuration."""

import os
import stat

from familyalliance import config, create_app


def test_config_from_test_config(schema):
    """A test config is used as given, and TESTING is only on when asked."""
    assert not create_app({"SQLALCHEMY_DATABASE_URI": schema, "SECRET_KEY": "x"}).testing
    assert create_app({"SQLALCHEMY_DATABASE_URI": schema, "SECRET_KEY": "x", "TESTING": True}).testing


def test_default_database_is_sqlite_in_instance(monkeypatch):
    """Without DATABASE_URL the app uses a SQLite file in instance/."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + os.path.join(
        app.instance_path, "familyalliance.sqlite"
    )
    assert app.config["SECRET_KEY"] == "from-env"


def test_environment_overrides(monkeypatch):
    """DATABASE_URL picks the database; FAMILYALLIANCE_* sets any key, parsed as JSON."""
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/clinic")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("FAMILYALLIANCE_SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("FAMILYALLIANCE_ARGON2_TIME_COST", "4")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/clinic"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["ARGON2_TIME_COST"] == 4


def test_secret_key_generated_once_and_private(tmp_path):
    """A missing secret key is generated into the instance folder, readable by its owner only."""
    first = config.load_secret_key(str(tmp_path))
    assert len(first) == 64
    assert config.load_secret_key(str(tmp_path)) == first
    mode = stat.S_IMODE((tmp_path / config.SECRET_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    other = tmp_path / "other"
    other.mkdir()
    assert config.load_secret_key(str(other)) != first


def test_templates_and_static_at_top_level(app):
    """The factory points Flask at the top-level templates/ and static/ folders."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert app.template_folder == os.path.join(root, "templates")
    assert app.static_folder == os.path.join(root, "static")


def test_secret_key_agreed_by_concurrent_workers(tmp_path):
    """Several processes starting at once (gunicorn workers) all end up with the same key."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(6) as pool:
        keys = pool.map(config.load_secret_key, [str(tmp_path)] * 12)
    assert len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [config.SECRET_KEY_FILE]
