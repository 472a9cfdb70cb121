"""The secret key, when several processes start at once (gunicorn workers)."""

import multiprocessing

from familyalliance import config


def test_secret_key_agreed_by_concurrent_workers(tmp_path):
    """Several processes starting at once (gunicorn workers) all end up with the same key."""
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        keys = pool.map(config.load_secret_key, [str(tmp_path)] * 12)
    assert len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [config.SECRET_KEY_FILE]
