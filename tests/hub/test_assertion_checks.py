"""The checks GOV.UK Verify's profile puts on the Response and on the identity provider's two
assertions: encryption, the flow the Response answers, who issued and signed each assertion,
that both are about one resident, and when they were made.

The assertions were made for the hub (its Recipient, its request as InResponseTo, no
Conditions): the binding to our flow is the hub-signed Response's InResponseTo, and, as
verify-service-provider (ADR 0022), the assertions' Recipient and InResponseTo are not checked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub_messages import Forgery, forge, untrusted_signer


def _ago(seconds: int) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def _from_now(seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_plain_assertion_where_encryption_is_required_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(encrypt=False)))
    assert_rejected(outcome, "plain (unencrypted) Assertion")


def test_assertion_encrypted_to_an_unknown_key_is_rejected(stack, send):
    from broker.devtools.keys import self_signed_pair

    _, stranger_cert = self_signed_pair("not the broker")
    forgery = Forgery(encryption_cert_pem=stranger_cert)
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "assertion could not be decrypted")


def test_response_for_another_flow_is_rejected(stack, send):
    from tests.oidc_client import authorize

    other = authorize(stack)
    outcome = send(lambda a: forge(stack, other.authn_request_id))
    assert_rejected(outcome, "InResponseTo does not match this flow")


def test_unsolicited_response_without_in_response_to_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, None))
    assert_rejected(outcome, "InResponseTo does not match this flow")


def test_assertions_answer_the_hubs_request_and_name_the_hubs_recipient(stack, send):
    """As Verify sends them: their InResponseTo and Recipient are the hub's, never ours."""
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   hub_request_id="_the-hubs-own-request",
                                   recipient="https://hub.example/SAML2/SSO/Response/POST"))
    assert_signed_in(outcome)


def test_an_audience_that_is_neither_the_hub_nor_us_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   audience="https://another-broker.example/saml/metadata"))
    assert_rejected(outcome, "Audience is neither the hub nor us")


def test_wrong_destination_is_rejected(stack, send):
    forgery = Forgery(destination="https://another-broker.example/saml/acs")
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Destination is not our assertion consumer service")


def test_conditions_not_yet_valid_beyond_the_skew_are_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, not_before=_from_now(45)))
    assert_rejected(outcome, "Conditions NotBefore is in the future")


def test_conditions_not_yet_valid_within_the_skew_are_accepted(stack, send):
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id, not_before=_from_now(20))))


def test_conditions_expired_beyond_the_skew_are_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, not_on_or_after=_ago(45)))
    assert_rejected(outcome, "Conditions NotOnOrAfter has passed")


def test_conditions_expired_within_the_skew_are_accepted(stack, send):
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id, not_on_or_after=_ago(20))))


def test_subject_confirmation_expired_beyond_the_skew_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   confirmation_not_on_or_after=_ago(45)))
    assert_rejected(outcome, "SubjectConfirmationData has expired")


def test_subject_confirmation_expired_within_the_skew_is_accepted(stack, send):
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id,
                                          confirmation_not_on_or_after=_ago(20))))


def test_a_third_assertion_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(extra_assertions=1)))
    assert_rejected(outcome, "expected two encrypted assertions, found 3")


def test_a_response_with_only_the_authn_assertion_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(omit="mds")))
    assert_rejected(outcome, "expected two encrypted assertions, found 1")


def test_two_matching_dataset_assertions_and_no_authn_assertion_are_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   Forgery(omit="authn", extra_assertions=1)))
    assert_rejected(outcome, "expected one authn assertion and one Matching Dataset assertion")


def test_an_assertion_issuer_that_is_not_an_identity_provider_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   issuer="https://an-identity-provider.example/"))
    assert_rejected(outcome, "not an identity provider of the federation")


def test_assertions_issued_by_the_hub_are_rejected(stack, send):
    """The hub is in the metadata, but not as an identity provider."""
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   Forgery(assertion_signer=stack.hub.signer),
                                   issuer=stack.hub.entity_id))
    assert_rejected(outcome, "not an identity provider of the federation")


def test_assertions_signed_by_the_hub_instead_of_the_identity_provider_are_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   Forgery(assertion_signer=stack.hub.signer)))
    assert_rejected(outcome, "Assertion signature does not verify with a trusted key")


def test_an_assertion_signed_by_another_identity_provider_is_rejected(stack, send):
    """Each identity provider's key verifies only what that identity provider issued."""
    other = stack.hub.idp_signers[1]
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(mds_signer=other)))
    assert_rejected(outcome, "Assertion signature does not verify with a trusted key")


def test_assertions_from_two_identity_providers_are_rejected(stack, send):
    other = stack.hub.idp_signers[1]
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(mds_signer=other),
                                   mds_issuer=other.entity_id))
    assert_rejected(outcome, "the two assertions have different Issuers")


def test_assertions_about_two_residents_are_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, mds_pid="stub-pid-someone-else"))
    assert_rejected(outcome, "the two assertions name different subjects")


def test_an_identity_provider_key_that_is_not_in_the_metadata_is_rejected(stack, send):
    impostor = untrusted_signer(stack.hub.idp.entity_id)
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(assertion_signer=impostor)))
    assert_rejected(outcome, "Assertion signature does not verify with a trusted key")


def test_response_issuer_that_is_not_the_hub_is_rejected(stack, send):
    forgery = Forgery(response_issuer="https://another-hub.example/")
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Response Issuer is not the hub")


def test_a_response_issued_an_hour_ago_is_rejected(stack, send):
    forgery = Forgery(response_issue_instant=_ago(3600))
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "the answer is too old")


def test_a_response_issued_an_hour_from_now_is_rejected(stack, send):
    forgery = Forgery(response_issue_instant=_from_now(3600))
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "the answer is issued in the future")


def test_a_response_issued_within_the_skew_ahead_is_accepted(stack, send):
    forgery = Forgery(response_issue_instant=_from_now(20))
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id, forgery)))


def test_assertions_issued_an_hour_ago_are_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, issued_at=_ago(3600),
                                   confirmation_not_on_or_after=_from_now(300)))
    assert_rejected(outcome, "Assertion IssueInstant is too old")


def test_assertions_issued_in_the_future_are_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, issued_at=_from_now(3600)))
    assert_rejected(outcome, "Assertion IssueInstant is in the future")
