"""Schema upgrades started by several processes at once (gunicorn workers with
`database.auto_upgrade`, or two deploys running `broker db upgrade`) must not fail each other."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from broker.matching.database import current_revision, make_engine, upgrade


def test_concurrent_upgrades_of_an_empty_postgresql_schema_all_succeed(link_database):
    engines = [make_engine(link_database) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            for future in [pool.submit(upgrade, engine) for engine in engines]:
                future.result(timeout=60)  # re-raises a failure; without the lock they can hang
        assert current_revision(engines[0]) is not None
    finally:
        for engine in engines:
            engine.dispose()
