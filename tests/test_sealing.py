"""Sealing of Redis values (broker/sealing.py, ADR 0010): what an attacker with read or write
access to Redis can do with the values, against the real Redis, and how data keys are configured."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import yaml

from broker.config import ConfigError, load_config
from broker.identity import (
    Flow,
    LevelOfAssurance,
    MatchingDataset,
    PendingMatch,
    SamlRequest,
    VerifiedIdentity,
)
from broker.sealing import DataKey, SealedValueRefused, Sealer
from broker.state import BrokerState
from tests.conftest import Ports, write_config

SECRET_NAME = "Wilhelmina Quarrendon-Pyx"


@pytest.fixture
def prefix(redis_client):
    prefix = f"test-sealing-{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


def sealer(*keys: DataKey, seals: DataKey | None = None) -> Sealer:
    return Sealer(keys, (seals or keys[0]).id)


@pytest.fixture
def data_key() -> DataKey:
    return DataKey.generate("test-key-1")


@pytest.fixture
def state(redis_client, prefix, data_key) -> BrokerState:
    return BrokerState(redis_client, prefix, sealer(data_key))


def flow(flow_id: str = "flow-1") -> Flow:
    return Flow(id=flow_id, client_id="council-app",
                authorize_params={"redirect_uri": "https://app.example/cb", "login_hint": SECRET_NAME},
                minimum_level=LevelOfAssurance.LEVEL_2, created_at=1,
                ui_locale="en",
                upstream="verify", saml=SamlRequest("_req"))


def session_data(name: str = SECRET_NAME) -> dict:
    return {"sid": "s", "identity": {"name": name}, "created_at": 1, "clients": {}}


def raw_values(redis_client, prefix) -> dict[bytes, bytes]:
    return {key: redis_client.get(key) for key in redis_client.scan_iter(f"{prefix}*")}


# What Redis holds

def test_every_kind_that_can_hold_personal_data_is_stored_sealed(state, redis_client, prefix):
    user = {"user": {"given_name": SECRET_NAME}}
    state.save_flow(flow(), 60)
    state.save_code_and_token("code-1", {"code_id": "c1", **user}, 60, "token-1", user, 60, "c1",
                              sid=None)
    state.save_session("session-1", session_data(), 60)
    state.save_pending_match("pending-1", PendingMatch(flow("flow-2"), VerifiedIdentity(
        "hashed", LevelOfAssurance.LEVEL_2, MatchingDataset(), "idp", 1, persistent_id=SECRET_NAME),
        "council", "match-1"), 60)
    state.save_pushed_request("urn:par:1", {"client_id": "x", "params": {"a": SECRET_NAME}}, 60)
    with state.batched_writes():
        state.save_session("session-2", session_data(), 60)
    stored = raw_values(redis_client, prefix)
    assert len(stored) == 8
    for key, value in stored.items():
        assert value.startswith(b"sealed:v1:test-key-1:"), key
        assert SECRET_NAME.encode() not in value
        assert b"token-1" not in value  # the access token its code holds, too


def test_what_was_sealed_reads_back_unchanged(state):
    state.save_session("session-1", session_data(), 60)
    state.save_code_and_token("code-1", {"code_id": "c1"}, 60, "token-1",
                              {"user": {"sub": "x"}}, 60, "c1", sid=None)
    assert state.get_session("session-1") == session_data()
    assert state.get_access_token("token-1") == {"user": {"sub": "x"}}
    assert state.take_code("code-1") == {"code_id": "c1", "access_token": "token-1"}
    assert state.take_flow("no-such-flow") is None
    assert state.revoke_tokens_of_code("c1") == 1
    assert state.get_access_token("token-1") is None


def test_key_names_hold_a_hash_of_each_cookie_token_and_code_never_the_secret(state, redis_client,
                                                                            prefix):
    secret = "cookie-value-an-attacker-could-present"
    state.save_session(secret, session_data(), 60)
    state.save_code_and_token(secret, {}, 60, secret, {}, 60, "c1", sid="sid-1")
    names = [key.decode() for key in redis_client.scan_iter(f"{prefix}*")]
    assert len(names) == 5 and not any(secret in name for name in names)
    index = redis_client.smembers(state.key_for("session-tokens", "sid-1"))
    assert len(index) == 2 and not any(secret.encode() in name for name in index)
    assert state.get_session(secret) == session_data()


def test_replay_marks_and_hub_metadata_stay_readable_for_operators(state, redis_client, prefix):
    assert state.first_sighting("assertion", "_a1", 60)
    state.save_hub_metadata("<md/>", 1.0, 60)
    assert redis_client.get(f"{prefix}seen:assertion:_a1") == b"1"
    assert json.loads(redis_client.get(f"{prefix}hub-metadata:current"))["xml"] == "<md/>"


# What an attacker with access to Redis can do

def test_a_tampered_value_is_refused_and_reads_as_absent(state, redis_client, prefix):
    state.save_session("session-1", session_data(), 60)
    key = state.key_for("session", "session-1")
    value = bytearray(redis_client.get(key))
    value[-20] ^= 0x01
    redis_client.set(key, bytes(value))
    assert state.get_session("session-1") is None


def test_a_value_moved_to_another_key_is_refused(state, redis_client, prefix):
    state.save_session("victim", session_data(), 60)
    redis_client.copy(state.key_for("session", "victim"), state.key_for("session", "attacker"))
    assert state.get_session("attacker") is None
    assert state.get_session("victim") == session_data()


def test_a_value_moved_to_another_kind_of_key_is_refused(state, redis_client, prefix):
    state.save_code_and_token("code-1", {"user": {"sub": "x"}}, 60, "token-1", {}, 60, "c1",
                              sid=None)
    redis_client.copy(state.key_for("code", "code-1"), state.key_for("token", "code-1"))
    assert state.get_access_token("code-1") is None


def test_a_value_whose_key_id_is_changed_is_refused(state, redis_client, prefix, data_key):
    other = DataKey("test-key-2", data_key.secret)  # same secret, another id
    relabelled = BrokerState(redis_client, prefix, sealer(data_key, other, seals=data_key))
    state.save_session("session-1", session_data(), 60)
    key = state.key_for("session", "session-1")
    redis_client.set(key, redis_client.get(key).replace(b":test-key-1:", b":test-key-2:", 1))
    assert relabelled.get_session("session-1") is None


def test_a_plain_value_written_into_redis_is_never_accepted(state, redis_client, prefix):
    """Write access to Redis must not let anyone plant a signed-in resident."""
    redis_client.set(state.key_for("session", "forged"), json.dumps(session_data()))
    redis_client.set(state.key_for("pending-match", "forged"), json.dumps({"user": "x"}))
    assert state.get_session("forged") is None
    assert state.take_pending_match("forged") is None


def test_a_value_sealed_with_a_key_no_longer_configured_reads_as_absent(redis_client, prefix,
                                                                       data_key):
    BrokerState(redis_client, prefix, sealer(data_key)).save_session("s", session_data(), 60)
    elsewhere = BrokerState(redis_client, prefix, sealer(DataKey.generate("test-key-9")))
    assert elsewhere.get_session("s") is None


def test_a_refused_value_is_counted_and_logged_without_its_content(state, redis_client, prefix,
                                                                  caplog):
    from broker.observability import SEALED_VALUES_REFUSED

    before = SEALED_VALUES_REFUSED.labels("session")._value.get()
    redis_client.set(state.key_for("session", "s"), json.dumps(session_data()))
    assert state.get_session("s") is None
    assert SEALED_VALUES_REFUSED.labels("session")._value.get() == before + 1
    assert "could not be opened" in caplog.text and SECRET_NAME not in caplog.text


def test_a_state_without_data_keys_refuses_to_write_personal_data(redis_client, prefix):
    with pytest.raises(RuntimeError):
        BrokerState(redis_client, prefix).save_session("s", session_data(), 60)
    assert raw_values(redis_client, prefix) == {}


# Rotation

def test_during_a_rotation_values_sealed_with_either_key_open(redis_client, prefix, data_key):
    new = DataKey.generate("test-key-2")
    BrokerState(redis_client, prefix, sealer(data_key)).save_session("old", session_data(), 60)
    rotated = BrokerState(redis_client, prefix, sealer(data_key, new, seals=new))
    rotated.save_session("new", session_data(), 60)
    assert redis_client.get(rotated.key_for("session", "new")).startswith(b"sealed:v1:test-key-2:")
    assert rotated.get_session("old") == rotated.get_session("new") == session_data()


def test_only_the_sealing_key_seals(data_key):
    new = DataKey.generate("test-key-2")
    both = sealer(data_key, new, seals=new)
    assert both.seal("k", b"x").startswith(b"sealed:v1:test-key-2:")
    with pytest.raises(SealedValueRefused):
        sealer(data_key).open("k", both.seal("k", b"x"))


def test_the_same_value_sealed_twice_looks_different(data_key):
    seal = sealer(data_key)
    assert seal.seal("k", b"same") != seal.seal("k", b"same")


def test_a_data_key_never_shows_its_secret(data_key):
    assert base64.urlsafe_b64encode(data_key.secret).rstrip(b"=").decode() not in repr(data_key)
    assert data_key.secret.hex() not in repr(data_key)


# Configuration

def config_file(tmp_path, keys_dir, **overrides):
    return write_config(tmp_path, keys_dir, Ports(1, 2, 3), "redis://127.0.0.1:6379/0", "t:",
                        **overrides)


def test_production_refuses_to_start_without_a_data_key(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, mode="production", data_keys=None,
                       issuer="https://broker.example")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.key == "data_keys" and "required in production" in error.value.problem


def test_development_without_data_keys_seals_with_a_key_for_the_process_alone(tmp_path, keys_dir,
                                                                              caplog):
    from broker.app import data_sealer

    config = load_config(config_file(tmp_path, keys_dir, data_keys=None), environ={})
    assert config.data_keys == () and config.sealer() is None
    assert data_sealer(config).key_ids == ("ephemeral",)
    assert "no data_keys configured" in caplog.text


def test_a_data_key_can_come_from_the_environment(tmp_path, keys_dir):
    secret = base64.b64encode(bytes(range(32))).decode()
    path = config_file(tmp_path, keys_dir,
                       data_keys=[{"id": "from-env", "key": "${BROKER_DATA_KEY}"}])
    config = load_config(path, environ={"BROKER_DATA_KEY": secret})
    assert [(k.id, k.key.secret, k.encrypts) for k in config.data_keys] == [
        ("from-env", bytes(range(32)), True)]


@pytest.mark.parametrize(("data_keys", "key", "problem"), [
    ([{"id": "k", "key": base64.b64encode(b"short").decode()}], "data_keys[0].key", "32 bytes"),
    ([{"id": "k", "key": "not base64!"}], "data_keys[0].key", "base64"),
    ([{"id": "k", "key": ""}], "data_keys[0].key", "is empty"),
    ([{"id": "bad id", "key": base64.b64encode(bytes(32)).decode()}], "data_keys[0].id",
     "letters, digits"),
    ([{"id": "a", "key": base64.b64encode(bytes(32)).decode()},
      {"id": "b", "key": base64.b64encode(bytes(range(32))).decode()}], "data_keys",
     "exactly one key must encrypt"),
    ([{"id": "a", "key": base64.b64encode(bytes(32)).decode()},
      {"id": "a", "key": base64.b64encode(bytes(32)).decode(), "encrypts": False}],
     "data_keys[1]", "duplicate key id"),
    ([{"id": "a", "key": base64.b64encode(bytes(32)).decode(), "encrypts": False}], "data_keys",
     "exactly one key must encrypt"),
    ("keys", "data_keys", "must be list"),
])
def test_a_bad_data_key_is_refused_naming_its_key(tmp_path, keys_dir, data_keys, key, problem):
    with pytest.raises(ConfigError) as error:
        load_config(config_file(tmp_path, keys_dir, data_keys=data_keys), environ={})
    assert error.value.key == key and problem in error.value.problem


def test_a_data_key_file_that_is_not_an_oct_jwk_is_refused(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, data_keys=[
        {"file": str(keys_dir / "broker-oidc-signing.jwk.json")}])
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.key == "data_keys[0].file" and "kty oct" in error.value.problem


def test_the_demo_and_example_configurations_name_a_data_key():
    for name in ("config/demo.yaml", "config/example.yaml", "deploy/compose/broker.yaml"):
        assert yaml.safe_load(open(name))["data_keys"][0]["file"].endswith(".jwk.json"), name
