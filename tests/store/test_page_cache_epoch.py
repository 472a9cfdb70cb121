"""Erasing a family empties the page cache of every worker, not only of the one that served the erase.

Two apps on one database stand for two workers (gunicorn processes or hosts): each keeps its own
page cache, as each worker process does.
"""

from __future__ import annotations

import sqlalchemy as sa

from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import demo, pagecache
from familyalliance.store.db import db
from familyalliance.store.models import CacheEpoch, Family

from ..factories import PASSWORD, commit, gen_user


def log_in(client, email: str) -> None:
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302


def cached_parts(app) -> int:
    return len(app.extensions["familyalliance.pages"].items)


def test_an_erasure_on_one_worker_empties_the_other_workers_cache(app, make_app):
    with app.app_context():
        lead = gen_user("team_lead", "Team A", "lead@example.org")
        demo.load_demo(lead, builtin_instruments())
        commit()
        codes = list(db.session.scalars(sa.select(Family.code).order_by(Family.code)))
    other = make_app()
    erasing, watching = app.test_client(), other.test_client()
    log_in(erasing, "lead@example.org")
    log_in(watching, "lead@example.org")
    # The other worker has the family's dashboard and the caseload in its cache.
    assert watching.get(f"/families/{codes[0]}").status_code == 200
    assert watching.get("/families/").status_code == 200
    assert cached_parts(other) == 2

    assert erasing.post(f"/families/{codes[0]}/erase", data={"confirm": codes[0]}).status_code == 302

    # The other worker's next use of its cache finds the epoch moved and empties it first.
    with other.app_context():
        assert not pagecache.page_cache().items
    page = watching.get("/families/?lang=en")
    assert page.status_code == 200 and codes[0] not in page.text and codes[1] in page.text
    assert watching.get(f"/families/{codes[0]}").status_code == 404


def test_the_epoch_is_shared_through_the_database(app):
    with app.app_context():
        before = db.session.scalar(sa.select(CacheEpoch.value).where(CacheEpoch.id == 1)) or 0
        pagecache.clear_everywhere()
        db.session.commit()
        assert db.session.scalar(sa.select(CacheEpoch.value).where(CacheEpoch.id == 1)) == before + 1


def test_an_unchanged_epoch_keeps_the_cache(app):
    with app.app_context():
        cache = pagecache.page_cache()
        cache.put("key", "part")
        assert pagecache.page_cache().get("key") == "part"  # no erasure: nothing emptied
        pagecache.clear_everywhere()
        db.session.commit()
        assert pagecache.page_cache().get("key") is None
