"""The journey's tests use the matching and OIDC stacks; links on SQLite (the link store's
PostgreSQL behaviour is tested in tests/matching)."""

from __future__ import annotations

import pytest

from tests.matching.conftest import matching_service, matching_stack  # noqa: F401
from tests.oidc.conftest import oidc_keys, oidc_stack  # noqa: F401


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'links.sqlite3'}"
