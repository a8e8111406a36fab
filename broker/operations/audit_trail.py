"""The durable audit trail of operator commands: the link store's `audit_events` table, where
`broker links show|unlink` already leave theirs, so one query answers "who changed what".

Key commands write there too. The table exists once `broker db upgrade` has run on
`database.url`; a broker whose councils all match needs it anyway, so a key command refuses to
start without it there. A broker that never matches may have no database: the event then stays
on the `broker.audit` log only, and the command says so.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from broker.config import BrokerConfig

BROKER_WIDE = "(all councils)"  # audit_events.council_id of an event about the whole broker


class AuditTrailUnavailable(Exception):
    pass


class AuditTrail:
    def __init__(self, config: BrokerConfig):
        self.config = config
        self.store = self._open()

    @property
    def durable(self) -> bool:
        return self.store is not None

    def _open(self):
        from broker.matching.database import current_revision, make_engine, normalise_url
        from broker.matching.links import LinkStore

        url = make_url(normalise_url(self.config.database.url))
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not Path(url.database).is_file():
            revision = None  # never create a database just to find it empty
        else:
            try:
                engine = make_engine(self.config.database.url)
                revision = current_revision(engine)
            except Exception as exc:  # noqa: BLE001 - any driver error: not reachable
                if self._required():
                    raise AuditTrailUnavailable(f"database.url: the audit trail is not reachable: "
                                                f"{str(exc).strip().splitlines()[0]}") from None
                return None
        if revision is None:
            if self._required():
                raise AuditTrailUnavailable("database.url: the audit trail has no schema yet: run "
                                            "`broker db upgrade` first")
            return None
        return LinkStore(engine)

    def _required(self) -> bool:
        return any(council.matching for council in self.config.councils.values())

    def record(self, actor: str, event: str, detail: str) -> None:
        if self.store is not None:
            self.store.audit(actor, event, BROKER_WIDE, detail=detail)
