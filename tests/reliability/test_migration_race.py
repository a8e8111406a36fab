"""Schema upgrades started by several processes at once (gunicorn workers with
`database.auto_upgrade`, or two deploys running `broker db upgrade`) must not fail each other."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import text

from broker.matching.database import current_revision, make_engine, upgrade
from tests.conftest import Ports, free_port, write_config
from tests.matching.conftest import postgres_url
from tests.reliability.conftest import START_DEADLINE, wait_until

BROKER = str(Path(sys.executable).parent / "broker")


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


def _first_upgrade(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def test_concurrent_first_upgrades_of_a_new_sqlite_database_all_succeed(tmp_path):
    context = multiprocessing.get_context("fork")  # as gunicorn's workers are made
    for attempt in range(5):
        url = f"sqlite:///{tmp_path / f'links-{attempt}.sqlite3'}"
        with ProcessPoolExecutor(4, mp_context=context) as pool:
            for future in [pool.submit(_first_upgrade, url) for _ in range(4)]:
                future.result(timeout=60)  # "table alembic_version already exists" without a lock
        engine = make_engine(url)
        assert current_revision(engine) is not None
        engine.dispose()


def start_served(tmp_path: Path, database_url: str, redis_url: str, keys_dir: Path,
                 workers: int) -> list[dict]:
    """Starts `broker serve` on a new link store with auto_upgrade; the log once every worker has
    booted and the broker answers, or a failure naming what the log said."""
    port = free_port()
    path = write_config(tmp_path, keys_dir, Ports(port, free_port(), free_port()), redis_url,
                        f"race-{uuid.uuid4().hex[:8]}:", **{
                            "database": {"url": database_url, "auto_upgrade": True},
                            "councils.test-borough.matching": {
                                "service_url": "http://127.0.0.1:1/match",
                                "contact": {"phone": "0300 000 0000"}}})
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("BROKER_") and key != "PROMETHEUS_MULTIPROC_DIR"}
    environ.update(BROKER_CONFIG=str(path), TMPDIR=str(tmp_path))
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([BROKER, "serve", "--port", str(port), "--workers",
                                    str(workers)], env=environ, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    entries = lambda: [json.loads(line) for line in log_path.read_text().splitlines()]  # noqa: E731
    try:
        wait_until(lambda: process.poll() is not None or (
            sum(e["message"].startswith("Booting worker") for e in entries()) >= workers
            and requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok),
            START_DEADLINE, "broker serve to start or stop")
        time.sleep(1.5)  # a worker that failed to boot stops the master within this
        assert process.poll() is None, log_path.read_text()
        return entries()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def test_serve_with_several_workers_on_a_new_sqlite_link_store_starts_every_time(
        tmp_path, redis_url, keys_dir):
    for attempt in range(5):
        directory = tmp_path / f"start-{attempt}"
        directory.mkdir()
        database = directory / "links.sqlite3"
        entries = start_served(directory, f"sqlite:///{database}", redis_url, keys_dir, workers=3)
        assert not [e for e in entries if e.get("event") == "worker.boot-failed"]
        assert current_revision(make_engine(f"sqlite:///{database}")) is not None


def test_serve_with_several_workers_on_a_new_postgresql_schema_starts_every_time(
        tmp_path, redis_url, keys_dir):
    admin = make_engine(postgres_url())
    for attempt in range(3):
        schema = f"test_race_{uuid.uuid4().hex[:12]}"
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            directory = tmp_path / f"start-{attempt}"
            directory.mkdir()
            separator = "&" if "?" in postgres_url() else "?"
            url = f"{postgres_url()}{separator}options=-csearch_path%3D{schema}"
            entries = start_served(directory, url, redis_url, keys_dir, workers=3)
            assert not [e for e in entries if e.get("event") == "worker.boot-failed"]
            assert current_revision(make_engine(url)) is not None
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
