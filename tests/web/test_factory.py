"""The app factory and configuration, and the instance folder the suite gives every app.

The secret key agreed by workers starting at once (processes) is ``system/test_workers.py``.
"""

import os
import stat
from pathlib import Path

from familyalliance import config, create_app, resources
from familyalliance.core import analytics
from familyalliance.core.analytics import Settings

from ..conftest import INSTANCE_ENV

ROOT = Path(__file__).resolve().parents[2]  # the checkout


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
    assert app.template_folder == os.path.join(ROOT, "templates")
    assert app.static_folder == os.path.join(ROOT, "static")


def test_app_config_carries_the_defaults(app):
    assert Settings.from_mapping(app.config) == analytics.DEFAULTS
    assert app.config["SPLIT_THRESHOLD"] == 25.0


# --- The suite's instance folder -----------------------------------------------------------------------------


def test_every_app_of_the_suite_uses_the_runs_instance_folder(app, make_app, instance_folder, monkeypatch):
    """The fixtures' apps and a bare create_app() alike: the run's temporary folder, not the checkout's instance/."""
    monkeypatch.setenv("SECRET_KEY", "from-env")  # the bare app would otherwise make one in the folder
    assert os.environ[INSTANCE_ENV] == str(instance_folder)
    for made in (app, make_app(), create_app()):
        assert Path(made.instance_path) == instance_folder.resolve()
        assert not Path(made.instance_path).is_relative_to(resources.CHECKOUT)


def test_a_checkouts_instance_config_is_not_read(tmp_path, monkeypatch):
    """A checkout whose instance/ holds a config.py and a secret key: the app reads them only without the variable.

    The control (the variable taken away) shows the poisoned folder would be read, so the first
    app not reading it is the variable's doing.
    """
    checkout = tmp_path / "checkout"
    (checkout / "instance").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'familyalliance'\n")
    (checkout / "instance" / "config.py").write_text('SPLIT_THRESHOLD = 99.0\nPSEUDONYM_KEY = "poisoned"\n')
    (checkout / "instance" / config.SECRET_KEY_FILE).write_text("poisoned-secret\n")
    monkeypatch.setattr(resources, "CHECKOUT", checkout)
    for name in ("SECRET_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)

    monkeypatch.setenv(INSTANCE_ENV, str(tmp_path / "instance"))
    isolated = create_app()
    assert isolated.instance_path == str((tmp_path / "instance").resolve())
    assert isolated.config["SPLIT_THRESHOLD"] == 25.0
    assert "PSEUDONYM_KEY" not in isolated.config
    assert isolated.config["SECRET_KEY"] != "poisoned-secret"
    assert sorted(p.name for p in (checkout / "instance").iterdir()) == ["config.py", config.SECRET_KEY_FILE]

    monkeypatch.delenv(INSTANCE_ENV)
    exposed = create_app()
    assert exposed.instance_path == str(checkout / "instance")
    assert exposed.config["SPLIT_THRESHOLD"] == 99.0
    assert exposed.config["PSEUDONYM_KEY"] == "poisoned"
    assert exposed.config["SECRET_KEY"] == "poisoned-secret"
