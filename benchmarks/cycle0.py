"""Benchmark: a cycle-0 sign-in costs one indexed statement, flat from 1,000 to 1,000,000 links.

For each backend (SQLite file, PostgreSQL schema) the table grows through the sizes asked for;
at each size it times `MatchingPipeline.start()` for residents who are already linked (cycle 0),
counts the SQL statements each one runs (must be exactly 1), and shows the database's plan for
that statement (must be an index search, not a scan).

    .venv/bin/python benchmarks/cycle0.py --sizes 1000 10000 100000 1000000
    .venv/bin/python benchmarks/cycle0.py --backends postgresql \
        --postgres-url postgresql://postgres@127.0.0.1:5432/test

PostgreSQL: a private schema is created and dropped again; nobody else's data is touched.
Not a test: it is slow, and its figures depend on the machine (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker.config import CouncilConfig, MatchingConfig  # noqa: E402
from broker.identity import LevelOfAssurance, MatchingDataset, VerifiedIdentity  # noqa: E402
from broker.matching.database import make_engine, upgrade  # noqa: E402
from broker.matching.links import LinkStore, account_links  # noqa: E402
from broker.matching.pipeline import Matched, MatchingPipeline  # noqa: E402

COUNCIL = CouncilConfig(
    id="bench-borough", name="Bench Borough", entity_id="https://bench.example", service_url=None,
    matching=MatchingConfig(service_url="https://matching.invalid/match", bearer_token=None,
                            timeout_seconds=1, cycle3=None, account_creation_url=None,
                            account_creation_attributes=(), contact={"phone": "0"}))
BATCH = 10_000


def hashed_pid(n: int) -> str:
    return hashlib.sha256(f"bench-{n}".encode()).hexdigest()


def no_call_out(_config):
    raise AssertionError("a cycle-0 sign-in must not call the matching service")


def grow(engine, start: int, stop: int) -> None:
    now = datetime.now(UTC)
    for first in range(start, stop, BATCH):
        rows = [{"council_id": COUNCIL.id if n % 2 == 0 else "other-borough",
                 "hashed_pid": hashed_pid(n), "local_account_id": f"ACC-{n}",
                 "level_of_assurance": "LEVEL_2", "created_at": now, "last_seen_at": now}
                for n in range(first, min(first + BATCH, stop))]
        with engine.begin() as connection:
            connection.execute(insert(account_links), rows)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def plan(engine) -> str:
    statement = ("UPDATE account_links SET last_seen_at = CURRENT_TIMESTAMP "
                 "WHERE council_id = :c AND hashed_pid = :p")
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.begin() as connection:
        rows = connection.execute(text(explain + statement), {"c": COUNCIL.id, "p": hashed_pid(0)})
        lines = [str(row[-1]) for row in rows if "Index Cond" not in str(row[-1])]
        connection.rollback()
    return " | ".join(line.strip() for line in lines)


def measure(engine, size: int, lookups: int) -> dict:
    pipeline = MatchingPipeline(LinkStore(engine), client_factory=no_call_out)
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    linked = [n for n in random.sample(range(size), min(lookups * 2, size)) if n % 2 == 0][:lookups]
    timings, per_sign_in = [], []
    for n in linked:
        identity = VerifiedIdentity(hashed_pid(n), LevelOfAssurance.LEVEL_2, MatchingDataset(),
                                    "https://idp.example", 0)
        before = len(statements)
        started = time.perf_counter()
        outcome = pipeline.start(COUNCIL, identity, "bench")
        timings.append(time.perf_counter() - started)
        per_sign_in.append(len(statements) - before)
        assert outcome == Matched(f"ACC-{n}", "cycle-0"), outcome
    event.remove(engine, "before_cursor_execute", count)
    timings.sort()
    return {"median_us": statistics.median(timings) * 1e6,
            "p95_us": timings[int(len(timings) * 0.95)] * 1e6,
            "statements": sorted(set(per_sign_in)), "plan": plan(engine), "samples": len(timings)}


def run(backend: str, url: str, sizes: list[int], lookups: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    current = 0
    for size in sorted(sizes):
        started = time.perf_counter()
        grow(engine, current, size)
        current = size
        load = time.perf_counter() - started
        result = measure(engine, size, lookups)
        print(f"{backend:10} {size:>9,} links  cycle-0 median {result['median_us']:8.0f} µs  "
              f"p95 {result['p95_us']:8.0f} µs  statements/sign-in {result['statements']}  "
              f"(n={result['samples']}, load {load:.0f} s)\n{'':10} plan: {result['plan']}",
              flush=True)
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    random.seed(5)
    if "sqlite" in args.backends:
        with tempfile.TemporaryDirectory() as directory:
            run("sqlite", f"sqlite:///{directory}/bench.sqlite3", args.sizes, args.lookups)
    if "postgresql" in args.backends:
        admin = make_engine(args.postgres_url)
        schema = f"bench_cycle0_{uuid.uuid4().hex[:8]}"
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            separator = "&" if "?" in args.postgres_url else "?"
            run("postgresql", f"{args.postgres_url}{separator}options=-csearch_path%3D{schema}",
                args.sizes, args.lookups)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
