"""The durable link store: (council, hashed PID), with the council's local account id if any.

The link is the pair itself: Verify's matching services answer a bare match, and the council
knows the resident by the hashed PID. A `localAccountId` the service chose to give is kept too.

A link is what turns the next sign-in into a cycle 0: one indexed statement, no call out. The
unique constraint on (council_id, hashed_pid) is what keeps two concurrent sign-ins of the same
person from creating two links: both may match, only the first insert wins and the second reads
the winner's link back.

Operators read and remove links with `broker links show/unlink`; each leaves a row in
`audit_events` (who, what, when; the hashed PID only as a short prefix).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from broker.identity import LevelOfAssurance

log = logging.getLogger(__name__)
audit_log = logging.getLogger("broker.audit")

_ID = BigInteger().with_variant(Integer(), "sqlite")
metadata = MetaData()

# Mirrors migrations/versions/ (0001, 0002); the migrations, not this, create the schema.
account_links = Table(
    "account_links", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("council_id", String(64), nullable=False),
    Column("hashed_pid", String(64), nullable=False),
    Column("local_account_id", String(255), nullable=True),
    Column("level_of_assurance", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("council_id", "hashed_pid", name="uq_account_links_council_pid"),
    Index("ix_account_links_council_account", "council_id", "local_account_id"),
)

audit_events = Table(
    "audit_events", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("council_id", String(64), nullable=False),
    Column("local_account_id", String(255), nullable=True),
    Column("hashed_pid_prefix", String(12), nullable=True),
    Column("detail", Text, nullable=True),
)

HASHED_PID_PREFIX = 8


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Link:
    council_id: str
    hashed_pid: str
    local_account_id: str | None
    level_of_assurance: LevelOfAssurance
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class AuditEvent:
    occurred_at: datetime
    actor: str
    action: str
    council_id: str
    local_account_id: str | None
    hashed_pid_prefix: str | None
    detail: str | None


def _link(row) -> Link:
    return Link(council_id=row.council_id, hashed_pid=row.hashed_pid,
                local_account_id=row.local_account_id,
                level_of_assurance=LevelOfAssurance.from_name(row.level_of_assurance),
                created_at=row.created_at, last_seen_at=row.last_seen_at)


def _selecting(statement, council_id: str, local_account_id: str | None,
               hashed_pid: str | None):
    """The links of one council, narrowed to an account and/or a hashed PID when given."""
    statement = statement.where(account_links.c.council_id == council_id)
    if local_account_id is not None:
        statement = statement.where(account_links.c.local_account_id == local_account_id)
    if hashed_pid is not None:
        statement = statement.where(account_links.c.hashed_pid == hashed_pid)
    return statement


class LinkStore:
    """Typed access to the link table; every method is one short transaction."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def _insert(self):
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(account_links)
        if dialect == "sqlite":
            return sqlite.insert(account_links)
        raise RuntimeError(f"unsupported database {dialect!r}")

    def seen(self, council_id: str, hashed_pid: str) -> Link | None:
        """Cycle 0: the link for this person at this council, touching `last_seen_at`.

        A single UPDATE … RETURNING on the unique index: one indexed statement per sign-in, so
        its cost does not grow with the number of links (benchmarks/cycle0.py shows it).
        """
        statement = (update(account_links)
                     .where(account_links.c.council_id == council_id,
                            account_links.c.hashed_pid == hashed_pid)
                     .values(last_seen_at=_now())
                     .returning(*account_links.c))
        with self.engine.begin() as connection:
            row = connection.execute(statement).first()
        return _link(row) if row else None

    def link(self, council_id: str, hashed_pid: str, local_account_id: str | None,
             level: LevelOfAssurance) -> tuple[Link, bool]:
        """Writes the link unless one exists; returns the link in force and whether we wrote it.

        INSERT … ON CONFLICT DO NOTHING, so a concurrent sign-in that matched first keeps its
        link and this one reads it back instead of failing or writing a second.
        """
        now = _now()
        statement = self._insert().values(
            council_id=council_id, hashed_pid=hashed_pid, local_account_id=local_account_id,
            level_of_assurance=level.name, created_at=now, last_seen_at=now,
        ).on_conflict_do_nothing(index_elements=["council_id", "hashed_pid"]).returning(account_links.c.id)
        with self.engine.begin() as connection:
            created = connection.execute(statement).first() is not None
            row = connection.execute(select(account_links).where(
                account_links.c.council_id == council_id,
                account_links.c.hashed_pid == hashed_pid)).first()
        return _link(row), created

    def find(self, council_id: str, local_account_id: str | None = None,
             hashed_pid: str | None = None) -> list[Link]:
        statement = _selecting(select(account_links), council_id, local_account_id, hashed_pid)
        with self.engine.connect() as connection:
            return [_link(row) for row in connection.execute(statement.order_by(account_links.c.id))]

    def show(self, actor: str, council_id: str, local_account_id: str | None = None,
             hashed_pid: str | None = None) -> list[Link]:
        """The operator's `broker links show`: the links, and an audit event saying who looked."""
        links = self.find(council_id, local_account_id, hashed_pid)
        self.audit(actor, "links-show", council_id, local_account_id, hashed_pid,
                   f"{len(links)} link(s) shown")
        return links

    def unlink(self, actor: str, council_id: str, local_account_id: str | None = None,
               hashed_pid: str | None = None) -> list[Link]:
        """The operator's `broker links unlink`: removes the links and audits each, atomically."""
        if local_account_id is None and hashed_pid is None:
            raise ValueError("name a local account id or a hashed PID to unlink")
        statement = _selecting(delete(account_links), council_id, local_account_id, hashed_pid)
        with self.engine.begin() as connection:
            removed = [_link(row) for row in connection.execute(statement.returning(*account_links.c))]
            for link in removed:
                self._audit(connection, actor, "links-unlink", council_id, link.local_account_id,
                            link.hashed_pid, "link removed")
            if not removed:
                self._audit(connection, actor, "links-unlink", council_id, local_account_id,
                            hashed_pid, "no link matched")
        return removed

    def audit(self, actor: str, action: str, council_id: str, local_account_id: str | None = None,
              hashed_pid: str | None = None, detail: str | None = None) -> None:
        with self.engine.begin() as connection:
            self._audit(connection, actor, action, council_id, local_account_id, hashed_pid, detail)

    def _audit(self, connection, actor, action, council_id, local_account_id, hashed_pid, detail):
        connection.execute(insert(audit_events).values(
            occurred_at=_now(), actor=actor[:128], action=action, council_id=council_id,
            local_account_id=local_account_id,
            hashed_pid_prefix=hashed_pid[:HASHED_PID_PREFIX] if hashed_pid else None,
            detail=detail))
        # The log carries no identifier of the person; the audit table has the details.
        audit_log.info("audit: %s by %s at council %s: %s", action, actor, council_id, detail or "")

    def audit_events(self, council_id: str | None = None) -> list[AuditEvent]:
        statement = select(audit_events).order_by(audit_events.c.id)
        if council_id is not None:
            statement = statement.where(audit_events.c.council_id == council_id)
        with self.engine.connect() as connection:
            return [AuditEvent(row.occurred_at, row.actor, row.action, row.council_id,
                               row.local_account_id, row.hashed_pid_prefix, row.detail)
                    for row in connection.execute(statement)]

    def count(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(account_links)).scalar_one()
