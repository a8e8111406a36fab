"""Alembic environment: runs on the connection `broker.matching.database.upgrade` hands it."""

from __future__ import annotations

from alembic import context

from broker.matching.links import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations with `broker db upgrade`, which supplies the connection")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
