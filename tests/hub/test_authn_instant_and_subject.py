"""What the identity provider's authn assertion says about the resident, taken exactly: when
they authenticated (the ID token's auth_time, checked against prompt=login and max_age), who
they are (the persistent NameID, byte for byte), and the hashed PID built from the identity
provider and the council's hashing entity id."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from broker.devtools.stub_hub.identities import IDENTITIES
from broker.identity import LevelOfAssurance
from broker.pairwise import hash_pid
from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub_messages import forge
from tests.oidc_client import post_to_acs, redeem


def _ago(seconds: int) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def _id_token(stack, outcome) -> dict:
    from tests.oidc_client import query

    code = query(outcome.response.headers["Location"])["code"]
    attempt = outcome.attempt
    token = redeem(stack, code, attempt.verifier, attempt.redirect_uri).json()
    return jwt.decode(token["id_token"], options={"verify_signature": False})


def test_auth_time_is_when_the_resident_authenticated_at_the_identity_provider(stack, send):
    authenticated = _ago(120).replace(microsecond=0)
    outcome = send(lambda a: forge(stack, a.authn_request_id, authn_instant=authenticated))
    assert_signed_in(outcome)
    assert _id_token(stack, outcome)["auth_time"] == int(authenticated.timestamp())


def test_an_old_authentication_is_refused_when_the_council_asked_for_a_fresh_one(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, authn_instant=_ago(3600)),
                   prompt="login")
    assert_rejected(outcome, "authenticated before this sign-in began (prompt=login)")


def test_an_authentication_older_than_max_age_is_refused(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, authn_instant=_ago(600)),
                   max_age="60")
    assert_rejected(outcome, "authenticated longer ago than the council's max_age")


def test_an_authentication_within_max_age_is_accepted(stack, send):
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id, authn_instant=_ago(30)),
                          max_age="300"))


def test_an_authentication_in_the_future_is_refused(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   authn_instant=datetime.now(UTC) + timedelta(hours=1)))
    assert_rejected(outcome, "authentication time is in the future")


@pytest.mark.parametrize("space", ["\u00a0", "\u2003", " ", "\n"])
def test_a_persistent_id_with_surrounding_whitespace_is_not_that_resident(stack, send, space):
    """Jane's PID followed by a no-break space (or an em space) is not Jane."""
    jane = IDENTITIES["jane"].pid
    outcome = send(lambda a: forge(stack, a.authn_request_id, pid=jane + space,
                                   mds_pid=jane + space))
    assert_rejected(outcome, "NameID has surrounding whitespace")


def test_a_persistent_id_that_differs_only_by_whitespace_in_one_assertion_is_refused(stack, send):
    jane = IDENTITIES["jane"].pid
    outcome = send(lambda a: forge(stack, a.authn_request_id, mds_pid=jane + "\u00a0"))
    assert_rejected(outcome, "NameID has surrounding whitespace")


def test_the_hashed_pid_uses_the_identity_provider_and_the_councils_entity_id(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id))
    assert_signed_in(outcome)
    expected = hash_pid(stack.hub.idp.entity_id, "https://test-borough.example.gov.uk",
                        IDENTITIES["jane"].pid, LevelOfAssurance.LEVEL_2)
    assert _id_token(stack, outcome)["sub"] == expected


def test_a_council_that_used_verify_keeps_its_hashed_pids_through_hashing_entity_id(
        stack_factory):
    """Verify hashed with the council's matching service entity id: the same value, the same
    subjects and the same stored links."""
    from tests.oidc_client import authorize
    from tests.oidc_client import query as query_of

    msa = "https://matching.test-borough.example.gov.uk/SAML2/metadata"
    stack = stack_factory(lambda ports: {
        "councils.test-borough.hashing_entity_id": msa})
    attempt = authorize(stack)
    answer = post_to_acs(stack, _encoded(forge(stack, attempt.authn_request_id)),
                         attempt.relay_state)
    code = query_of(answer.headers["Location"])["code"]
    token = redeem(stack, code, attempt.verifier, attempt.redirect_uri).json()
    claims = jwt.decode(token["id_token"], options={"verify_signature": False})
    assert claims["sub"] == hash_pid(stack.hub.idp.entity_id, msa, IDENTITIES["jane"].pid,
                                     LevelOfAssurance.LEVEL_2)


def _encoded(xml: str) -> str:
    from broker.devtools.stub_hub import saml

    return saml.encode(xml)


def test_the_response_binds_to_the_flow_not_the_assertions_in_response_to(stack, send):
    """A genuine hub Response for this flow, whose assertions answered some other hub request,
    signs in; the same assertions under a Response for another flow do not."""
    from tests.oidc_client import authorize

    other = authorize(stack)
    outcome = send(lambda a: forge(stack, other.authn_request_id,
                                   hub_request_id="_hub-request-" + str(int(time.time()))))
    assert_rejected(outcome, "InResponseTo does not match this flow")
