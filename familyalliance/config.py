"""Configuration: defaults, then ``instance/config.py``, then the environment.

Environment variables: ``DATABASE_URL``, ``SECRET_KEY`` and ``REDIS_URL``, and any setting as
``FAMILYALLIANCE_<NAME>`` (values parsed as JSON where they can be, so
``FAMILYALLIANCE_SESSION_COOKIE_SECURE=true`` is a boolean).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask

from familyalliance.core import analytics

DEFAULTS = {
    "LANGUAGES": ["nl", "en"],
    "BABEL_DEFAULT_LOCALE": "nl",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Amsterdam",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # The session cookie: never readable by scripts, sent only over HTTPS (browsers treat
    # http://127.0.0.1 and http://localhost as secure, so `make run` works), not on cross-site requests.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # A session ends after 8 hours in any case, and after 30 minutes without a request.
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "SESSION_IDLE_MINUTES": 30,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    # Logins: at most this many failed attempts per client address (Flask-Limiter syntax); an account
    # locks for LOGIN_LOCKOUT_MINUTES after LOGIN_MAX_FAILURES wrong passwords in a row.
    "LOGIN_RATE_LIMIT": "10 per minute;50 per hour",
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_MINUTES": 15,
    # The roles that log in with a second factor (TOTP code) besides the password: a list, or the names joined
    # by commas (FAMILYALLIANCE_TWO_FACTOR_ROLES=therapist,team_lead); empty turns it off. Default: every role
    # that can open a family (web.access.FAMILY_ROLES). Whoever has no second factor yet sets it up at login.
    "TWO_FACTOR_ROLES": ["therapist", "team_lead", "admin"],
    # Member links: attempts with an unknown token per client address.
    "LINK_RATE_LIMIT": "30 per minute",
    # The FHIR API (/fhir/R4, docs/interoperability.md): calls per API token, and calls refused for want of a
    # valid token per client address; a bundle POSTed for import may be at most API_MAX_CONTENT_LENGTH bytes.
    "API_RATE_LIMIT": "120 per minute;2000 per hour",
    "API_REFUSED_RATE_LIMIT": "10 per minute;50 per hour",
    "API_MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    # Where the rate limits count: per process by default; redis://... shares them between workers. Left at
    # memory:// while REDIS_URL is set, they count in that Redis (share_through_redis).
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # When that storage does not answer, count in the worker's memory (as without Redis) instead of failing the
    # login; an error while counting a failure after the view is logged, not answered with a 500.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    # Redis, shared by every worker on every host (docs/operations.md, "A clinic deployment on two hosts"): the
    # rate limits and the rendered page parts. Unset: each process keeps its own, as on one server.
    "REDIS_URL": None,
    # Every key the app writes in Redis begins with this: two installations on one Redis need different ones.
    "REDIS_KEY_PREFIX": "familyalliance",
    # Seconds to wait for Redis before taking it as down (pages then render without the shared cache).
    "REDIS_TIMEOUT": 1.0,
    # Seconds a rendered page part stays in Redis.
    "PAGE_CACHE_TTL": 3600,
    # After a request's commit changed at most REFRESH_MAX_FAMILIES families, a thread of the process recomputes
    # their caseload summaries and renders their dashboards into the page cache, REFRESH_DELAY seconds later (so the
    # members of a family answering one after another make one refresh): services.refresher. False: the pages
    # compute what changed when they are opened.
    # It works only once its process has served no request for REFRESH_IDLE seconds and while the load average is
    # under REFRESH_MAX_LOAD per core; what waited longer than REFRESH_MAX_WAIT seconds for that is left to the pages.
    "REFRESH_AHEAD": True,
    "REFRESH_DELAY": 1.0,
    "REFRESH_MAX_FAMILIES": 10,
    "REFRESH_IDLE": 0.5,
    "REFRESH_MAX_LOAD": 0.75,
    "REFRESH_MAX_WAIT": 30.0,
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto (0: none, use the peer address).
    "PROXY_FIX_X_FOR": 0,
    # The expected trajectory (metrics.md section 10) is recomputed on a staff member's caseload request when the
    # data changed and it is older than this many minutes (and by `flask refresh-expected`, e.g. from cron).
    "EXPECTED_REFRESH_MINUTES": 15,
    # Closed families are reported for erasure this many years after closing (Dutch WGBO: 20).
    "RETENTION_YEARS": 20,
    # Days a member link stays valid.
    "MEMBER_LINK_DAYS": 7,
    # Days after a link was made that a still unanswered questionnaire gets its reminder (`flask send-reminders`)
    # and counts as open past its reminder on the caseload.
    "REMINDER_DAYS": 3,
    # The address members reach the app at (https://alliance.example.org): `flask send-reminders` runs
    # outside a web request and builds the links of its e-mails from it.
    "PUBLIC_URL": None,
    # Mail for the questionnaire links (docs/operations.md, "E-mail"). Without MAIL_SERVER no mail is sent
    # and links are handed over by copy and QR code only. MAIL_USE_TLS: STARTTLS on a submission port
    # (587); MAIL_USE_SSL: TLS from the first byte (465). MAIL_SENDER is the From address.
    "MAIL_SERVER": None,
    "MAIL_PORT": 587,
    "MAIL_USE_TLS": True,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_SENDER": None,
    # Seconds to wait for the mail server before giving up.
    "MAIL_TIMEOUT": 10,
    # Uploads (the ratings import) up to 200 MB: about 4 million rows of the long CSV. Every other
    # request body (forms, questionnaire drafts) is far smaller: MAX_FORM_MEMORY_SIZE caps what a
    # form field may hold in memory.
    "MAX_CONTENT_LENGTH": 200 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 500 * 1024,
    # The thresholds of metrics.md (SPLIT_THRESHOLD, RUPTURE_DROP, ...), with analytics.Settings' defaults;
    # FAMILYALLIANCE_SPLIT_THRESHOLD=30 changes one.
    **analytics.DEFAULTS.as_config(),
    # The safety signal (SAFETY_THRESHOLD above) shows the organisation's safeguarding text to the therapist:
    # SAFEGUARDING_TEXT_NL and SAFEGUARDING_TEXT_EN replace the default, which points to the reporting
    # protocol (in the Netherlands the meldcode huiselijk geweld en kindermishandeling).
    "SAFEGUARDING_TEXT_NL": None,
    "SAFEGUARDING_TEXT_EN": None,
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
        if os.environ.get("REDIS_URL"):
            app.config["REDIS_URL"] = os.environ["REDIS_URL"]
        app.config.from_prefixed_env("FAMILYALLIANCE")
    else:
        app.config.from_mapping(test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    share_through_redis(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(app.instance_path)


def share_through_redis(settings: dict) -> None:
    """With ``REDIS_URL``, count the rate limits in that Redis, unless RATELIMIT_STORAGE_URI names a storage.

    Left at ``memory://`` each worker would count on its own: 10 failed logins a minute would be 10 per
    worker. The limits' keys get the app's prefix, and Redis as long to answer as the page cache gives it.
    A URL that is not Redis's stops the app at its start.
    """
    url = settings.get("REDIS_URL")
    if url and not url.startswith(("redis://", "rediss://")):
        raise ValueError(f"REDIS_URL must begin with redis:// or rediss:// (TLS), not {url.split(':', 1)[0]}:")
    if not url or settings["RATELIMIT_STORAGE_URI"] != DEFAULTS["RATELIMIT_STORAGE_URI"]:
        return
    settings["RATELIMIT_STORAGE_URI"] = url
    timeout = settings["REDIS_TIMEOUT"]
    settings.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": timeout, "socket_connect_timeout": timeout})
    settings.setdefault("RATELIMIT_KEY_PREFIX", settings["REDIS_KEY_PREFIX"])


def analytics_settings(app: Flask) -> analytics.Settings:
    """The analytics thresholds configured for ``app`` (metrics.md defaults where not set)."""
    return analytics.Settings.from_mapping(app.config)


def safeguarding_text(app: Flask, language: str) -> str | None:
    """The installation's own safeguarding text in ``language``, or None for the default."""
    return app.config.get(f"SAFEGUARDING_TEXT_{language.upper()}") or None


def pseudonym_key(app: Flask) -> bytes:
    """The installation's pseudonymisation secret: PSEUDONYM_KEY, else instance/pseudonym_key (made on first use).

    The same key gives a family the same opaque code in every export of the installation.
    """
    key = app.config.get("PSEUDONYM_KEY") or load_secret_key(app.instance_path, "pseudonym_key")
    return key.encode()
