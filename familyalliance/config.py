"""Configuration: defaults, then ``instance/config.py``, then the environment.

Environment variables: ``DATABASE_URL`` and ``SECRET_KEY``, and any setting as
``FAMILYALLIANCE_<NAME>`` (values parsed as JSON where they can be, so
``FAMILYALLIANCE_SESSION_COOKIE_SECURE=true`` is a boolean).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask

from . import analytics

DEFAULTS = {
    "LANGUAGES": ["nl", "en"],
    "BABEL_DEFAULT_LOCALE": "nl",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Amsterdam",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    # Days a member link stays valid.
    "MEMBER_LINK_DAYS": 7,
    # Uploads (the ratings import) up to 200 MB: about 4 million rows of the long CSV.
    "MAX_CONTENT_LENGTH": 200 * 1024 * 1024,
    # The thresholds of metrics.md (SPLIT_THRESHOLD, RUPTURE_DROP, ...), with analytics.Settings' defaults;
    # FAMILYALLIANCE_SPLIT_THRESHOLD=30 changes one.
    **analytics.DEFAULTS.as_config(),
    # Argon2id parameters (RFC 9106 "second recommended option"); tests lower them.
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST": 64 * 1024,
    "ARGON2_PARALLELISM": 4,
}

SECRET_KEY_FILE = "secret_key"


def normalise_database_url(url: str) -> str:
    """Point ``postgres://`` and ``postgresql://`` URLs at the psycopg 3 driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_secret_key(instance_path: str, name: str = SECRET_KEY_FILE) -> str:
    """Read a secret of the instance (by default the app's secret key), creating it on first use.

    The key is written to a private temporary file and then hard-linked into place, which
    fails if the file exists: several gunicorn workers starting at once agree on one key,
    and none ever reads a half-written file.
    """
    path = Path(instance_path) / name
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=instance_path, prefix=f".{name}.")  # created with mode 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty; delete it to have a new key generated")
    return key


def configure(app: Flask, test_config: dict | None) -> None:
    """Fill ``app.config`` from defaults, the instance folder, the environment and ``test_config``."""
    app.config.from_mapping(DEFAULTS)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "familyalliance.sqlite")
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        if os.environ.get("DATABASE_URL"):
            app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
        if os.environ.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
        app.config.from_prefixed_env("FAMILYALLIANCE")
    else:
        app.config.from_mapping(test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(app.instance_path)


def analytics_settings(app: Flask) -> analytics.Settings:
    """The analytics thresholds configured for ``app`` (metrics.md defaults where not set)."""
    return analytics.Settings.from_mapping(app.config)


def pseudonym_key(app: Flask) -> bytes:
    """The installation's pseudonymisation secret: PSEUDONYM_KEY, else instance/pseudonym_key (made on first use).

    The same key gives a family the same opaque code in every export of the installation.
    """
    key = app.config.get("PSEUDONYM_KEY") or load_secret_key(app.instance_path, "pseudonym_key")
    return key.encode()
