"""Logout against a token being issued at the same moment: whichever reaches Redis first, the
access token never outlives the broker session it was issued for (ADR 0013), and the token step
asks Redis once to store it and check the session (issue 27)."""

from __future__ import annotations

import uuid

import pytest

from broker.observability import REDIS_ROUND_TRIPS
from broker.sealing import DataKey, Sealer
from broker.state import BrokerState, CountingConnection


@pytest.fixture
def prefix(redis_client):
    prefix = f"test-grants-{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


@pytest.fixture
def state(redis_url, prefix) -> BrokerState:
    import redis

    client = redis.Redis.from_url(redis_url, connection_class=CountingConnection)
    key = DataKey.generate("test-key-1")
    return BrokerState(client, prefix, Sealer((key,), key.id))


def test_a_token_stored_after_its_session_was_logged_out_is_refused_and_not_kept(state):
    """Logout between the code's redemption and the token's storing: the token step must not
    leave a live access token behind (it would answer /userinfo after the resident left)."""
    state.end_session_grants("sid-1", 3600)
    stored = state.save_access_token("token-1", {"user": {}}, 60, code_id="c1", sid="sid-1")
    assert stored is False
    assert state.get_access_token("token-1") is None
    assert state.revoke_tokens_of_code("c1") == 0  # no trace of it under its code either


def test_a_token_stored_before_logout_is_revoked_by_it(state):
    assert state.save_access_token("token-1", {"user": {}}, 60, code_id="c1", sid="sid-1")
    state.end_session_grants("sid-1", 3600)
    assert state.get_access_token("token-1") is None


def test_a_token_of_a_live_session_is_kept(state):
    state.end_session_grants("another-sid", 3600)
    assert state.save_access_token("token-1", {"user": {"sub": "x"}}, 60, code_id="c1",
                                   sid="sid-1")
    assert state.get_access_token("token-1") == {"user": {"sub": "x"}}


def test_storing_a_token_and_checking_its_session_is_one_round_trip(state):
    state.redis.ping()  # the connection's own set-up is not the token step's
    before = REDIS_ROUND_TRIPS._value.get()
    state.save_access_token("token-1", {"user": {}}, 60, code_id="c1", sid="sid-1")
    assert REDIS_ROUND_TRIPS._value.get() - before == 1
