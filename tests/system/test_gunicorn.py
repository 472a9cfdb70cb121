"""The gunicorn settings shipped with the app: the access log never holds a member-link token."""

import datetime as dt
import importlib.util
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdEF"


def load_settings():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_access_log_redacts_member_link_tokens():
    settings = load_settings()
    logger = settings.RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/r/{TOKEN}/draft",
        "PATH_INFO": f"/r/{TOKEN}/draft",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "QUERY_STRING": "",
    }
    response = SimpleNamespace(status="200 OK", headers=[], sent=12)
    atoms = logger.atoms(response, SimpleNamespace(headers=[]), environ, dt.timedelta(milliseconds=5))
    assert atoms["r"] == "POST /r/[token]/draft HTTP/1.1"
    assert atoms["U"] == "/r/[token]/draft"
    assert not any(TOKEN in str(value) for value in atoms.values())
    assert settings.logger_class is settings.RedactingLogger and settings.workers >= 2
