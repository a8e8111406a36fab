"""Every field of the verified identity survives every place the journey stores it.

The records are filled generically from their type hints, every field set to something other
than its default, so a field added to `VerifiedIdentity` (or to anything it holds) is covered
here the day it is added; a type the one serializer (broker.codec) cannot carry fails here
instead of being dropped on the way (a dropped `persistent_id` once merged two residents)."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
import uuid
from datetime import date
from typing import Any

import pytest

from broker.codec import UnsupportedType, decode, encode
from broker.identity import Flow, PendingMatch, VerifiedIdentity
from broker.oidc.sessions import BrokerSession, SessionStore
from broker.sealing import Sealer
from broker.state import BrokerState
from broker.upstreams.interface import UpstreamAnswer


def populated(hint: Any, name: str = "value") -> Any:
    """A value of type `hint` unlike any default: non-empty, non-zero, true, the last member."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is str:
        return f"{name}-{uuid.uuid4().hex[:6]}"
    if hint is bool:
        return True
    if hint is int:
        return 1_700_000_007
    if hint is float:
        return 2.5
    if hint is date:
        return date(2001, 2, 3)
    if hint is Any:
        return {"k": name}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return list(hint)[-1]
    if origin in (types.UnionType, typing.Union):
        return populated(next(a for a in args if a is not type(None)), name)
    if origin is tuple:
        return (populated(args[0], name), populated(args[0], name + "-2"))
    if origin is list:
        return [populated(args[0], name)]
    if origin is dict:
        return {f"{name}-key": populated(args[1], name)}
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return hint(**{f.name: populated(hints[f.name], f.name)
                       for f in dataclasses.fields(hint) if f.init})
    raise AssertionError(f"the test cannot fill {hint!r}: teach `populated` and broker.codec")


def assert_nothing_default(record: Any) -> None:
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.default is not dataclasses.MISSING:
            assert value != f.default, f"{type(record).__name__}.{f.name} left at its default"
        if dataclasses.is_dataclass(value):
            assert_nothing_default(value)


@pytest.fixture
def state(redis_client):
    prefix = f"test-identity-{uuid.uuid4().hex[:12]}:"
    yield BrokerState(redis_client, prefix, Sealer.ephemeral())
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


@pytest.fixture
def identity() -> VerifiedIdentity:
    identity = populated(VerifiedIdentity)
    assert_nothing_default(identity)
    assert identity.persistent_id
    return identity


def test_the_answer_and_its_flow_survive_the_keeping_between_the_acs_and_the_continuation(
        state):
    """The ACS keeps the upstream's answer and renames the flow under the answer's token in one
    round trip (ADR 24); the continuation takes both back, every field intact."""
    flow = populated(Flow)
    assert_nothing_default(flow)
    answer = populated(UpstreamAnswer)
    assert_nothing_default(answer)
    state.save_flow(flow, ttl=60)
    taken, firsts = state.take_flow_for_answer(flow.id, [("t", "id-1", 60)], ("t" * 43, answer, 60))
    assert (taken, firsts) == (flow, [True])
    assert state.take_answer("t" * 43, UpstreamAnswer) == (flow, answer)
    assert state.take_answer("t" * 43, UpstreamAnswer) is None  # once


def test_an_answer_for_an_unknown_flow_is_kept_for_nothing(state):
    answer = populated(UpstreamAnswer)
    flow, firsts = state.take_flow_for_answer("no-such-flow", [], ("u" * 43, answer, 60))
    assert flow is None and firsts == []
    state.discard_answer("u" * 43)
    assert state.take_answer("u" * 43, UpstreamAnswer) is None


def test_the_flow_survives_redis(state):
    flow = populated(Flow)
    state.save_flow(flow, ttl=60)
    assert state.take_flow(flow.id) == flow


@pytest.mark.parametrize(("kept", "dropped"), [("saml", "openid"), ("openid", "saml")])
def test_each_upstreams_request_in_the_flow_survives_redis_typed(state, kept, dropped):
    """One typed field per upstream protocol (no untyped `extra` dict): what the hub or an OpenID
    upstream was asked comes back as its own dataclass, and the other field stays empty."""
    flow = dataclasses.replace(populated(Flow), **{dropped: None})
    state.save_flow(flow, ttl=60)
    restored = state.take_flow(flow.id)
    assert restored == flow
    assert type(getattr(restored, kept)) is type(getattr(flow, kept))
    assert getattr(restored, dropped) is None
    assert encode(flow)[kept] == dataclasses.asdict(getattr(flow, kept))


def test_a_flow_stored_before_the_typed_fields_is_no_upstreams_flow():
    """A flow written by a broker before the upgrade (`authn_request_id`, `extra`) reads back
    with no upstream and no request, so no upstream's endpoint accepts an answer for it."""
    old = {"id": "f", "client_id": "c", "authorize_params": {}, "authn_request_id": "_r",
           "minimum_level": "LEVEL_2", "created_at": 1, "extra": {"one_login_nonce": "n"}}
    flow = decode(Flow, old)
    assert (flow.upstream, flow.saml, flow.openid) == ("", None, None)


def test_the_identity_survives_the_cycle3_page(state, identity):
    pending = populated(PendingMatch)
    pending = dataclasses.replace(pending, identity=identity)
    assert_nothing_default(pending)
    state.save_pending_match("p" * 43, pending, ttl=60)
    assert state.get_pending_match("p" * 43) == pending
    restored = state.take_pending_match("p" * 43)
    assert restored == pending and restored.identity.persistent_id == identity.persistent_id


def test_updating_a_pending_match_keeps_its_lifetime(state, identity):
    pending = dataclasses.replace(populated(PendingMatch), identity=identity,
                                  rejected_answer=None)
    state.save_pending_match("p" * 43, pending, ttl=60)
    rejected = dataclasses.replace(pending, rejected_answer="12-AB")
    assert state.update_pending_match("p" * 43, rejected)
    assert state.get_pending_match("p" * 43) == rejected
    assert 0 < state.redis.ttl(state.key_for("pending-match", "p" * 43)) <= 60


def test_updating_a_taken_pending_match_brings_nothing_back(state, identity):
    """Two tabs: one answered (the match is taken), the other posts a wrong answer after."""
    pending = dataclasses.replace(populated(PendingMatch), identity=identity)
    state.save_pending_match("p" * 43, pending, ttl=60)
    state.take_pending_match("p" * 43)
    assert not state.update_pending_match("p" * 43, pending)
    assert state.get_pending_match("p" * 43) is None


def test_the_identity_survives_the_broker_session(state, identity):
    sessions = SessionStore(state, idle_seconds=600, absolute_seconds=3600)
    session = sessions.new(identity)
    session.clients["app"] = "sub"
    sessions.save(session)
    restored = sessions.load(session.id)
    assert restored == session
    assert restored.identity.persistent_id == identity.persistent_id


def test_single_sign_on_carries_every_field_but_the_councils_hash(identity):
    session = BrokerSession("id", "sid", identity, 1)
    at_other_council = session.identity_for("https://other-council.example")
    assert at_other_council.hashed_pid != identity.hashed_pid
    assert dataclasses.replace(at_other_council, hashed_pid=identity.hashed_pid) == identity


def test_a_field_added_to_the_identity_is_carried_with_no_change_to_the_serializer():
    extended = dataclasses.make_dataclass(
        "ExtendedIdentity", [("identity_provider", str, dataclasses.field(default=""))],
        bases=(VerifiedIdentity,), frozen=True)
    record = populated(extended)
    assert record.identity_provider
    assert decode(extended, encode(record)) == record


def test_a_field_the_serializer_cannot_carry_fails_loudly_instead_of_vanishing():
    extended = dataclasses.make_dataclass(
        "IdentityWithSet", [("tags", frozenset, dataclasses.field(default=frozenset()))],
        bases=(VerifiedIdentity,), frozen=True)
    base = populated(VerifiedIdentity)
    record = extended(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
                      tags=frozenset({"x"}))
    with pytest.raises(UnsupportedType):
        encode(record)


def test_a_stored_record_missing_a_required_field_is_refused():
    written = encode(populated(VerifiedIdentity))
    del written["hashed_pid"]
    with pytest.raises(ValueError, match="hashed_pid"):
        decode(VerifiedIdentity, written)


def test_a_session_written_by_the_previous_release_is_still_read(state, redis_client):
    """Rolling deploys: the hand-written JSON of the release before used the same names (sealed,
    as every release since sealing writes it)."""
    import json

    old = {"sid": "sid-1", "created_at": 2_000_000_000, "clients": {"app": "sub"},
           "identity": {"hashed_pid": "ab", "level_of_assurance": "LEVEL_2", "issuer": "idp",
                        "authenticated_at": 2_000_000_000, "persistent_id": "pid",
                        "matching_dataset": {
                            "first_names": [{"value": "Jo", "verified": True,
                                             "valid_from": "2001-02-03", "valid_to": None}],
                            "middle_names": [], "surnames": [], "dates_of_birth": [],
                            "gender": None, "current_addresses": [], "previous_addresses": []}}}
    key = state.key_for("session", "old-session")
    redis_client.set(key, state.sealer.seal(key, json.dumps(old).encode()), ex=60)
    sessions = SessionStore(state, idle_seconds=600, absolute_seconds=3600)
    session = sessions.load("old-session", now=2_000_000_001)
    assert session.identity.persistent_id == "pid" and session.clients == {"app": "sub"}
    assert session.identity.matching_dataset.first_names[0].valid_from == date(2001, 2, 3)


def test_a_record_in_an_unknown_form_is_no_record_rather_than_an_error(state, redis_client):
    key = state.key_for("pending-match", "q" * 43)
    redis_client.set(key, state.sealer.seal(key, b'{"flow": {}}'), ex=60)
    assert state.get_pending_match("q" * 43) is None
