"""Alembic migrations for the link store (run by `broker db upgrade`)."""
