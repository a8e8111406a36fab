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
    """The database's plan for the cycle-0 statement; on PostgreSQL with the buffers it touched."""
    statement = ("UPDATE account_links SET last_seen_at = CURRENT_TIMESTAMP "
                 "WHERE council_id = :c AND hashed_pid = :p")
    explain = ("EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite"
               else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) ")
    with engine.connect() as connection:
        rows = connection.execute(text(explain + statement), {"c": COUNCIL.id, "p": hashed_pid(2)})
        lines = [str(row[-1]).strip() for row in rows]
        connection.rollback()  # EXPLAIN ANALYZE really updates: undo it
    return " | ".join(line for line in lines if not line.startswith(("Index Cond", "Planning")))


class Size:
    """One database holding `size` links (half of them at the benchmark's council)."""

    def __init__(self, size: int, url: str):
        self.size, self.url = size, url
        self.engine = make_engine(url)
        upgrade(self.engine)
        started = time.perf_counter()
        grow(self.engine, 0, size)
        self.load_seconds = time.perf_counter() - started
        self.pipeline = MatchingPipeline(LinkStore(self.engine), client_factory=no_call_out)
        self.timings: list[float] = []
        self.statements: set[int] = set()
        self.executed: list[str] = []
        event.listen(self.engine, "before_cursor_execute",
                     lambda _c, _cur, statement, *_a: self.executed.append(statement))

    def sign_in(self, count: int) -> None:
        linked = [n for n in random.sample(range(self.size), min(count * 3, self.size)) if n % 2 == 0]
        for n in linked[:count]:
            identity = VerifiedIdentity(hashed_pid(n), LevelOfAssurance.LEVEL_2, MatchingDataset(),
                                        "https://idp.example", 0)
            before = len(self.executed)
            started = time.perf_counter()
            outcome = self.pipeline.start(COUNCIL, identity, "bench")
            self.timings.append(time.perf_counter() - started)
            self.statements.add(len(self.executed) - before)
            assert outcome == Matched(f"ACC-{n}", "cycle-0"), outcome


def run(backend: str, urls: dict[int, str], lookups: int, rounds: int) -> None:
    sizes = [Size(size, url) for size, url in sorted(urls.items())]
    # Interleaved rounds, in a new random order each time, so that whatever else the machine
    # is doing falls on every size alike; the comparison between sizes is what matters.
    for _ in range(rounds):
        for size in random.sample(sizes, len(sizes)):
            size.sign_in(max(lookups // rounds, 1))
    for size in sizes:
        timings = sorted(size.timings)
        p90 = timings[int(len(timings) * 0.9)]
        print(f"{backend:10} {size.size:>9,} links  cycle-0 median "
              f"{statistics.median(timings) * 1e6:7.0f} µs  p90 {p90 * 1e6:7.0f} µs"
              f"  statements/sign-in {sorted(size.statements)}  (n={len(timings)}, "
              f"load {size.load_seconds:.0f} s)\n{'':10} plan: {plan(size.engine)}", flush=True)
        size.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--lookups", type=int, default=2_000, help="cycle-0 sign-ins per size")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    random.seed(5)
    if "sqlite" in args.backends:
        with tempfile.TemporaryDirectory() as directory:
            run("sqlite", {size: f"sqlite:///{directory}/bench-{size}.sqlite3" for size in args.sizes},
                args.lookups, args.rounds)
    if "postgresql" in args.backends:
        admin = make_engine(args.postgres_url)
        schemas = {size: f"bench_cycle0_{uuid.uuid4().hex[:8]}_{size}" for size in args.sizes}
        separator = "&" if "?" in args.postgres_url else "?"
        try:
            with admin.begin() as connection:
                for schema in schemas.values():
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            run("postgresql", {size: f"{args.postgres_url}{separator}options=-csearch_path%3D{schema}"
                               for size, schema in schemas.items()}, args.lookups, args.rounds)
        finally:
            with admin.begin() as connection:
                for schema in schemas.values():
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
