"""Logout against a code and its access token being issued at the same moment: whichever reaches
Redis first, neither outlives the broker session it was issued for (ADR 0013), and the code, its
token and the session's check go to Redis in one round trip (issue 27, ADR 0024)."""

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


def issue(state: BrokerState, sid: str = "sid-1", code: str = "code-1", token: str = "token-1",
          user: dict | None = None) -> None:
    state.save_code_and_token(code, {"code_id": f"id-{code}"}, 60, token, {"user": user or {}},
                              120, f"id-{code}", sid=sid)


def round_trips_of(state: BrokerState, action) -> int:
    state.redis.ping()  # the connection's own set-up is not the step's
    before = REDIS_ROUND_TRIPS._value.get()
    action()
    return REDIS_ROUND_TRIPS._value.get() - before


def test_a_code_issued_after_its_session_was_logged_out_is_not_kept_nor_its_token(state):
    """Single sign-on from a session that a logout (in another tab) ends at the same moment:
    neither the code nor the token it holds may be left behind."""
    state.end_session_grants("sid-1", 3600)
    issue(state)
    assert state.take_code("code-1") is None
    assert state.get_access_token("token-1") is None
    assert state.revoke_tokens_of_code("id-code-1") == 0  # no trace of it under its code either


def test_a_code_issued_after_logout_inside_the_requests_batch_is_not_kept(state):
    """The same, with the code written in the continuation's batch (the session beside it)."""
    state.end_session_grants("sid-1", 3600)
    with state.batched_writes():
        issue(state)
    assert state.take_code("code-1") is None
    assert state.get_access_token("token-1") is None


def test_logout_before_redemption_deletes_the_code_and_its_token(state):
    issue(state)
    state.end_session_grants("sid-1", 3600)
    assert state.take_code("code-1") is None
    assert state.get_access_token("token-1") is None


def test_logout_after_redemption_deletes_the_token(state):
    issue(state)
    assert state.take_code("code-1")["access_token"] == "token-1"
    state.end_session_grants("sid-1", 3600)
    assert state.get_access_token("token-1") is None


def test_a_code_and_token_of_a_live_session_are_kept(state):
    state.end_session_grants("another-sid", 3600)
    issue(state, user={"sub": "x"})
    assert state.get_access_token("token-1") == {"user": {"sub": "x"}}
    assert state.take_code("code-1") == {"code_id": "id-code-1", "access_token": "token-1"}


def test_a_gone_code_revokes_the_token_made_with_it(state):
    issue(state)
    state.take_code("code-1")
    assert state.revoke_tokens_of_code("id-code-1") == 1
    assert state.get_access_token("token-1") is None


def test_a_refused_code_has_its_token_discarded(state):
    issue(state)
    state.take_code("code-1")
    state.discard_code_token("token-1", "id-code-1")
    assert state.get_access_token("token-1") is None
    assert state.revoke_tokens_of_code("id-code-1") == 0


def test_the_token_lives_its_own_ttl_and_the_code_the_codes(state, redis_client):
    issue(state)
    assert 0 < redis_client.ttl(state.key_for("code", "code-1")) <= 60
    assert 60 < redis_client.ttl(state.key_for("token", "token-1")) <= 120
    assert 60 < redis_client.ttl(state.key_for("session-tokens", "sid-1")) <= 120


def test_issuing_a_code_with_its_token_and_checking_its_session_is_one_round_trip(state):
    assert round_trips_of(state, lambda: issue(state)) == 1


def test_in_the_requests_batch_it_shares_the_batchs_round_trip(state):
    def continuation():
        with state.batched_writes():
            state.save_session("session-1", {"sid": "sid-1"}, 60)
            issue(state)

    assert round_trips_of(state, continuation) == 1
    assert state.get_access_token("token-1") == {"user": {}}


def test_taking_the_code_is_the_one_round_trip_of_redemption(state):
    issue(state)
    assert round_trips_of(state, lambda: state.take_code("code-1")) == 1


def test_a_link_written_by_the_previous_release_still_revokes_its_token(state):
    """During a rolling deploy a code redeemed by the previous release linked the token itself
    (not its key name) to the code; a replay reaching this release must still revoke it."""
    state._set(state.key_for("token", "token-old"), '{"user":{}}', 60)
    state._set(state.key_for("code-token", "id-old"), "token-old", 60)
    assert state.revoke_tokens_of_code("id-old") == 1
    assert state.get_access_token("token-old") is None


def test_a_session_written_back_after_its_logout_is_not_kept(state):
    """Single sign-on (or a renewal) read the broker session just before a logout in another
    tab ended it, then saves it with the new app: the session must not come back."""
    state.end_session_grants("sid-1", 3600)
    state.save_session("session-1", {"sid": "sid-1", "clients": {}}, 600)
    assert state.get_session("session-1") is None
    with state.batched_writes():
        state.save_session("session-2", {"sid": "sid-1", "clients": {}}, 600)
        issue(state)
    assert state.get_session("session-2") is None
    assert state.take_code("code-1") is None


def test_a_live_sessions_save_and_its_check_are_one_round_trip(state):
    assert round_trips_of(state, lambda: state.save_session(
        "session-1", {"sid": "sid-1", "clients": {}}, 600)) == 1
    assert state.get_session("session-1") == {"sid": "sid-1", "clients": {}}

    def sign_in():
        with state.batched_writes():
            state.save_session("session-2", {"sid": "sid-2", "clients": {}}, 600)
            issue(state, sid="sid-2")

    assert round_trips_of(state, sign_in) == 1
    assert state.get_session("session-2") is not None and state.take_code("code-1") is not None
