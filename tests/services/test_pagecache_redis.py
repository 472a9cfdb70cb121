"""The page cache and the rate limits in Redis (``REDIS_URL``), shared by every worker and host.

Two apps on one database and one Redis stand for two workers (or hosts). The tests marked
``shared_state`` need the Redis of ``TEST_REDIS_URL`` (``make test-postgres``); each uses a key
prefix of its own. The others need no Redis: without ``REDIS_URL`` nothing changes, and with a
Redis that does not answer pages still render and logins are still limited.
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle
import socket
import zlib

import pytest
import sqlalchemy as sa
from flask import Flask
from markupsafe import Markup

from familyalliance import config
from familyalliance.services import casework, pagecache, reports
from familyalliance.store.db import db
from familyalliance.store.models import Member

from ..factories import PASSWORD, commit, gen_family, gen_member, gen_session, gen_user

KEY = ("dashboard", 7, dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC), "nl", ("target", "therapist"))
PART = Markup('<section class="dashboard"><h2>Bond</h2></section>')


def log_in(client, email: str = "lead@example.org") -> None:
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302


def a_family(app, code: str = "FAM-R1") -> None:
    with app.app_context():
        lead = gen_user("team_lead", "Team A", "lead@example.org")
        family = gen_family(code, [lead])
        gen_member(family, "M1", "mother", display_name="Anna Visser")
        gen_session(family, 1)
        commit()


@pytest.fixture(autouse=True)
def empty_after(app):
    """The ``app`` fixture empties the tables after each test, for the apps ``make_app`` made too."""
    return app


@pytest.fixture
def closed_redis():
    """A Redis URL on a loopback port that refuses connections (bound, never listening) while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


# --- Without REDIS_URL, and where the settings come from ------------------------------------------------------


def test_without_redis_url_each_process_keeps_its_own(app):
    assert app.config["REDIS_URL"] is None and app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    with app.app_context():
        cache = pagecache.page_cache()
        assert cache.shared is None
        cache.put(KEY, PART)
        assert pagecache.page_cache().get(KEY) is PART


def test_redis_url_moves_the_rate_limits_to_redis_unless_a_storage_is_named():
    settings = dict(config.DEFAULTS, REDIS_URL="redis://cache.clinic.internal:6379/0")
    config.share_through_redis(settings)
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://cache.clinic.internal:6379/0"
    assert settings["RATELIMIT_KEY_PREFIX"] == "familyalliance"
    assert settings["RATELIMIT_STORAGE_OPTIONS"] == {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}

    named = dict(config.DEFAULTS, REDIS_URL="redis://cache:6379/0", RATELIMIT_STORAGE_URI="memcached://mc:11211")
    config.share_through_redis(named)
    assert named["RATELIMIT_STORAGE_URI"] == "memcached://mc:11211"

    alone = dict(config.DEFAULTS)
    config.share_through_redis(alone)
    assert alone["RATELIMIT_STORAGE_URI"] == "memory://" and "RATELIMIT_KEY_PREFIX" not in alone

    with pytest.raises(ValueError, match="REDIS_URL must begin with redis:// or rediss://"):
        config.share_through_redis(dict(config.DEFAULTS, REDIS_URL="cache.clinic.internal:6379"))


def test_redis_url_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.5:6379/2")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("FAMILYALLIANCE_PAGE_CACHE_TTL", "600")
    app = Flask("familyalliance", instance_path=str(tmp_path))
    config.configure(app, None)
    assert app.config["REDIS_URL"] == "redis://10.0.0.5:6379/2"
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://10.0.0.5:6379/2"
    assert app.config["PAGE_CACHE_TTL"] == 600


# --- Redis configured but down --------------------------------------------------------------------------------


def test_pages_render_while_redis_is_down(make_app, closed_redis, caplog):
    down = make_app(REDIS_URL=closed_redis)
    a_family(down)
    client = down.test_client()
    log_in(client)
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            page = client.get("/families/FAM-R1?lang=en")
            assert page.status_code == 200 and "Anna Visser" in page.text
        assert client.get("/families/").status_code == 200
        assert client.post("/families/FAM-R1/erase", data={"confirm": "FAM-R1"}).status_code == 302
    assert client.get("/families/FAM-R1").status_code == 404
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("page cache: Redis")]
    assert len(warnings) == 1, warnings  # then left alone for REDIS_RETRY seconds, not asked on every request
    assert "pages are rendered without it" in warnings[0]


def test_logins_are_still_limited_while_redis_is_down(make_app, closed_redis):
    down = make_app(REDIS_URL=closed_redis, LOGIN_RATE_LIMIT="3 per minute")
    a_family(down)
    client = down.test_client()
    for _ in range(3):  # counted in the worker's memory meanwhile (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED)
        assert client.post("/login", data={"email": "nobody@example.org", "password": "guess"}).status_code == 401
    assert client.post("/login", data={"email": "lead@example.org", "password": PASSWORD}).status_code == 429


# --- With Redis (TEST_REDIS_URL) ------------------------------------------------------------------------------


def worker(make_app, shared_redis, **settings):
    """An app (a worker, on any host) on the test database and the test's Redis prefix."""
    return make_app(REDIS_URL=shared_redis.url, REDIS_KEY_PREFIX=shared_redis.prefix, **settings)


def parts_in_redis(shared_redis) -> list[bytes]:
    return sorted(shared_redis.client.scan_iter(match=f"{shared_redis.prefix}:pages:*"))


@pytest.mark.shared_state
def test_a_part_rendered_by_one_worker_serves_the_others(make_app, shared_redis):
    one, other = worker(make_app, shared_redis), worker(make_app, shared_redis)
    with one.app_context():
        cache = pagecache.page_cache()
        cache.put(KEY, PART)
        cache.put(("text",), "plain text")
        cache.put(("bytes",), b"%PDF-1.7 \x00\xff")
        cache.put(("report",), {"charts": object()})  # not text: stays in the process
    with other.app_context():
        cache = pagecache.page_cache()
        shared = cache.get(KEY)
        assert shared == PART and type(shared) is Markup
        assert cache.get(("text",)) == "plain text" and type(cache.get(("text",))) is str
        assert cache.get(("bytes",)) == b"%PDF-1.7 \x00\xff"
        assert cache.get(("report",)) is None
        assert cache.get(KEY[:-1] + (("target", "team"),)) is None  # another key, another part


@pytest.mark.shared_state
def test_parts_in_redis_are_prefixed_expire_and_hold_only_text(make_app, shared_redis):
    one = worker(make_app, shared_redis, PAGE_CACHE_TTL=120)
    with one.app_context():
        pagecache.page_cache().put(KEY, PART)
    (name,) = parts_in_redis(shared_redis)
    assert name.startswith(f"{shared_redis.prefix}:pages:0:".encode())
    assert "dashboard" not in name.decode()  # a digest of the key: no case codes or user ids in key names
    assert 0 < shared_redis.client.ttl(name) <= 120
    raw = shared_redis.client.get(name)
    assert raw[:1] == b"m" and zlib.decompress(raw[1:]).decode() == PART


@pytest.mark.shared_state
def test_what_is_not_a_part_reads_as_a_miss(make_app, shared_redis):
    one = worker(make_app, shared_redis)
    with one.app_context():
        cache = pagecache.page_cache()
        name = cache.shared.key(cache.epoch, KEY)
        for planted in (pickle.dumps(PART), b"m" + b"not zlib", b"", b"x" + zlib.compress(b"text")):
            shared_redis.client.set(name, planted)
            assert pagecache.page_cache().get(KEY) is None


@pytest.mark.shared_state
def test_an_erasure_deletes_the_parts_in_redis_for_every_worker(make_app, shared_redis):
    one, erasing = worker(make_app, shared_redis), worker(make_app, shared_redis)
    with one.app_context():
        pagecache.page_cache().put(KEY, PART)
    assert parts_in_redis(shared_redis)
    with erasing.app_context():
        pagecache.clear_everywhere()
        assert not parts_in_redis(shared_redis)  # at once, before the erasure commits
        db.session.commit()
    with one.app_context():
        assert pagecache.page_cache().get(KEY) is None


@pytest.mark.shared_state
def test_a_part_rendered_across_an_erasure_is_deleted_by_its_worker(make_app, shared_redis):
    one, erasing = worker(make_app, shared_redis), worker(make_app, shared_redis)
    with one.app_context():
        rendering = pagecache.page_cache()  # the epoch read before the erasure commits
    with erasing.app_context():
        pagecache.clear_everywhere()
        db.session.commit()
    with one.app_context():
        rendering.put(KEY, PART)  # lands under the old epoch, where no one looks
        assert len(parts_in_redis(shared_redis)) == 1
        assert pagecache.page_cache().get(KEY) is None  # this worker sees the new epoch and deletes it
    assert not parts_in_redis(shared_redis)


@pytest.mark.shared_state
def test_a_family_page_rendered_on_one_worker_is_served_by_another(make_app, shared_redis, monkeypatch):
    one, other = worker(make_app, shared_redis), worker(make_app, shared_redis)
    a_family(one)
    first, second = one.test_client(), other.test_client()
    log_in(first)
    log_in(second)
    assert "Anna Visser" in first.get("/families/FAM-R1?lang=en").text
    with monkeypatch.context() as patch:  # the other worker renders no dashboard: it reads the one in Redis
        patch.setattr(reports, "dashboard", lambda *args: pytest.fail("rendered again"))
        page = second.get("/families/FAM-R1?lang=en")
        assert page.status_code == 200 and "Anna Visser" in page.text
    # A change on one worker makes a new key: the other's next request renders it.
    with one.app_context():
        member = db.session.scalar(sa.select(Member).where(Member.display_name == "Anna Visser"))
        casework.update_member(member, display_name="Anna de Vries")
        commit()
    page = second.get("/families/FAM-R1?lang=en")
    assert "Anna de Vries" in page.text and "Anna Visser" not in page.text
