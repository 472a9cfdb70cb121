"""A built wheel is the whole app: installed anywhere, it migrates, loads demo data and serves every page.

The checkout keeps ``templates/``, ``static/`` and ``migrations/`` at the top level; ``pyproject.toml``
maps them into the package. This builds the wheel from a copy of the checkout (so no ``build/`` or
``*.egg-info`` lands in the shared working tree, and no stale ``build/lib`` leaks into the wheel),
installs it with ``pip --target`` (the dependencies come from the running virtualenv), and runs the
installed copy from another folder, with ``PYTHONPATH`` in front of the editable install: the
command line (migrations, accounts, demo data, instruments) and a real server, logged into over HTTP.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pyotp
import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from packaging.requirements import Requirement

from familyalliance.resources import CHECKOUT

EMAIL = "lead@example.org"
PASSWORD = "correct horse battery staple 42!"
#: What the wheel is built from, besides the checkout's top-level files (pyproject.toml, README.md, ...).
SOURCE_FOLDERS = ("familyalliance", "templates", "static", "migrations")
JUNK = shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.egg-info", "build", "dist")


@dataclass
class Installed:
    wheel: Path
    site: Path
    instance: Path
    cwd: Path
    env: dict[str, str]


def run(installed: Installed, *args: str, timeout: float = 120) -> str:
    """Run ``python -m flask --app familyalliance ARGS`` on the installed copy; its output, or fail."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "familyalliance", *args],
        cwd=installed.cwd,
        env=installed.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def compile_catalogs(translations: Path) -> None:
    """Compile every .po into its .mo, as ``make`` does (the .mo files are not committed)."""
    for po in translations.glob("*/LC_MESSAGES/*.po"):
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parts[-3])
        with po.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog)


def build_isolation_args(pyproject: Path) -> list[str]:
    """``--no-build-isolation`` when this virtualenv already has the build requirements, else nothing."""
    requires = tomllib.loads(pyproject.read_text())["build-system"]["requires"]
    for line in requires:
        requirement = Requirement(line)
        try:
            have = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return []
        if not requirement.specifier.contains(have, prereleases=True):
            return []
    return ["--no-build-isolation"]


def child_env(site: Path, instance: Path) -> dict[str, str]:
    """The environment of the installed app: the installed copy first, a fresh instance, no stray settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FLASK_", "FAMILYALLIANCE_"))
        and name not in {"DATABASE_URL", "SECRET_KEY", "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH"}
    }
    env |= {"PYTHONPATH": str(site), "FAMILYALLIANCE_INSTANCE_PATH": str(instance), "PYTHONUTF8": "1"}
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """The wheel, built from a copy of the checkout and installed into its own folder."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for path in CHECKOUT.iterdir():
        if path.is_file():
            shutil.copy2(path, source / path.name)
    for name in SOURCE_FOLDERS:
        shutil.copytree(CHECKOUT / name, source / name, ignore=JUNK)
    compile_catalogs(source / "familyalliance" / "translations")

    dist, site = root / "dist", root / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", *build_isolation_args(source / "pyproject.toml"), "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, f"building the wheel failed:\n{built.stdout}\n{built.stderr}"
    (wheel,) = dist.glob("familyalliance-*.whl")
    pipped = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=300
    )
    assert pipped.returncode == 0, f"installing the wheel failed:\n{pipped.stdout}\n{pipped.stderr}"

    instance, cwd = root / "instance", root / "elsewhere"
    cwd.mkdir()
    return Installed(wheel=wheel, site=site, instance=instance, cwd=cwd, env=child_env(site, instance))


def test_wheel_carries_every_module_and_data_file(installed):
    """Every module of the package (so `packages` in pyproject.toml lists every subpackage) and every data file."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    package = CHECKOUT / "familyalliance"
    expected = {
        f"familyalliance/{path.relative_to(package).as_posix()}"
        for pattern in ("**/*.py", "core/instruments/*.json", "translations/*/LC_MESSAGES/*.po")
        for path in package.glob(pattern)
        if "__pycache__" not in path.parts
    }
    expected |= {name.removesuffix(".po") + ".mo" for name in expected if name.endswith(".po")}
    for folder in ("templates", "static"):
        expected |= {
            f"familyalliance/{path.relative_to(CHECKOUT).as_posix()}"
            for path in (CHECKOUT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
    migrations = CHECKOUT / "migrations"
    expected |= {
        f"familyalliance/migrations/{path.relative_to(migrations).as_posix()}"
        for pattern in ("alembic.ini", "env.py", "script.py.mako", "versions/*.py")
        for path in migrations.glob(pattern)
    }
    assert any(name.startswith("familyalliance/templates/") for name in expected)
    assert any(name.startswith("familyalliance/migrations/versions/") for name in expected)
    assert any(name.endswith(".mo") for name in expected)
    assert sorted(expected - names) == []


def test_installed_copy_is_the_one_that_runs(installed):
    """The package, its folders and its instance come from the install, not from the checkout."""
    probe = (
        "import familyalliance; from familyalliance import resources; "
        "print(familyalliance.__file__); "
        "[print(resources.folder(name)) for name in ('templates', 'static', 'migrations')]; "
        "print(resources.instance_path())"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=installed.cwd, env=installed.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    *package_paths, instance = result.stdout.splitlines()
    package = installed.site.resolve() / "familyalliance"
    for path in package_paths:
        assert Path(path).resolve().is_relative_to(package), path
    assert Path(package_paths[1]).is_dir()  # templates/ sits in the installed package
    assert Path(instance) == installed.instance.resolve()


@pytest.fixture(scope="module")
def demo(installed) -> Installed:
    """The installed app's database: migrated, with a team lead who owns the demo families."""
    run(installed, "db", "upgrade")
    run(installed, "create-user", EMAIL, "--password", PASSWORD, "--role", "team_lead", "--team", "Wheel team")
    out = run(installed, "demo", "--owner", EMAIL)
    assert "demo families" in out
    return installed


def test_instruments_list(demo):
    out = run(demo, "instruments", "list")
    for code in ("alliance16", "check4", "observer4"):
        assert re.search(rf"^{code}\b", out, re.MULTILINE), out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo):
    """``flask run`` of the installed copy on a free port; stopped at the end in any case."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = demo.cwd / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "familyalliance", "run", "--host", "127.0.0.1"]
            + ["--port", str(port), "--no-reload", "--no-debugger"],
            cwd=demo.cwd,
            env=demo.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the server stopped:\n{log.read_text()}"
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, f"the server did not answer:\n{log.read_text()}"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LoopbackCookies(http.cookiejar.DefaultCookiePolicy):
    """Send the Secure session cookie over http://127.0.0.1, as browsers do for a loopback address."""

    def return_ok_secure(self, cookie, request):
        return True


class Browser:
    """A requests-free HTTP client with cookies: urllib and http.cookiejar."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar(policy=LoopbackCookies())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str, data: dict | None = None) -> tuple[str, str, bytes]:
        """GET (or POST ``data``) ``path``, following redirects: the final URL, the content type, the body."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as answer:
                return answer.url, answer.headers.get("Content-Type", ""), answer.read()
        except urllib.error.HTTPError as error:
            with error:
                pytest.fail(f"{path}: {error.code}\n{error.read().decode(errors='replace')[:2000]}")

    def page(self, path: str) -> str:
        url, kind, body = self.get(path)
        assert kind.startswith("text/html"), (path, kind)
        return body.decode()


def translation(msgid: str, language: str) -> str:
    """The checkout's catalog's translation of ``msgid``."""
    po = CHECKOUT / "familyalliance" / "translations" / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        message = read_po(f, locale=language).get(msgid)
    assert message is not None and message.string, f"{msgid!r} is not translated into {language}"
    return message.string


def test_pages_render(server):
    browser = Browser(server)

    login = browser.page("/login?lang=en")
    assert "Log in" in login
    assert "/static/app.css" in login
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)
    assert token, login
    url, _kind, body = browser.get("/login", {"csrf_token": token[1], "email": EMAIL, "password": PASSWORD})
    assert urllib.parse.urlsplit(url).path != "/login", "the login failed"
    # A team lead sets up the second factor at the first login (on by default), with the key under the QR code.
    assert urllib.parse.urlsplit(url).path == "/login/setup"
    setup = body.decode()
    secret = re.search(r"data-secret>([A-Z2-7 ]+)</code>", setup)[1].replace(" ", "")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', setup)
    code = pyotp.TOTP(secret).now()
    _url, _kind, codes = browser.get("/login/setup", {"csrf_token": token[1], "code": code})
    assert b'class="recovery-codes"' in codes

    caseload = browser.page("/families/")
    assert "Log out" in caseload
    codes = re.findall(r'href="/families/(DEMO[^"/?#]+)"', caseload)
    assert codes, caseload

    family = browser.page(f"/families/{codes[0]}")
    assert codes[0] in family

    _url, kind, css = browser.get("/static/app.css")
    assert kind.startswith("text/css")
    assert css == (CHECKOUT / "static" / "app.css").read_bytes()

    dutch = browser.page("/families/?lang=nl")
    log_out = translation("Log out", "nl")
    assert log_out != "Log out"
    assert log_out in dutch
    assert "Log out" not in dutch
