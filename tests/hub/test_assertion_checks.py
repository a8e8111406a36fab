"""The checks GOV.UK Verify's profile adds to the assertion: encryption, the flow it answers,
who it is for, when it is valid, how many there are and who issued them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub_messages import Forgery, forge


def _ago(seconds: int) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def _from_now(seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_plain_assertion_where_encryption_is_required_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(encrypt=False)))
    assert_rejected(outcome, "is not encrypted")


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


def test_assertion_answering_another_flow_inside_a_response_for_this_one_is_rejected(
        stack, send):
    from tests.oidc_client import authorize

    other = authorize(stack)
    outcome = send(lambda a: forge(stack, other.authn_request_id,
                                   Forgery(response_in_response_to=a.authn_request_id)))
    assert_rejected(outcome, "python3-saml")


def test_assertion_without_in_response_to_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, None, Forgery(response_in_response_to=a.authn_request_id)))
    assert_rejected(outcome, "SubjectConfirmationData InResponseTo does not match this flow")


def test_wrong_audience_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   audience="https://another-broker.example/saml/metadata"))
    assert_rejected(outcome, "not a valid audience")


def test_wrong_destination_is_rejected(stack, send):
    forgery = Forgery(destination="https://another-broker.example/saml/acs")
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Destination is not our assertion consumer service")


def test_wrong_recipient_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   recipient="https://another-broker.example/saml/acs"))
    assert_rejected(outcome, "python3-saml: A valid SubjectConfirmation was not found")


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
    assert_rejected(outcome, "SubjectConfirmation")


def test_subject_confirmation_expired_within_the_skew_is_accepted(stack, send):
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id,
                                          confirmation_not_on_or_after=_ago(20))))


def test_more_than_one_assertion_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(extra_assertions=1)))
    assert_rejected(outcome, "SAML Response must contain 1 assertion")


def test_assertion_issuer_that_differs_from_the_response_issuer_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   issuer="https://an-identity-provider.example/"))
    assert_rejected(outcome, "Invalid issuer in the Assertion")


def test_response_issuer_that_is_not_the_hub_is_rejected(stack, send):
    forgery = Forgery(response_issuer="https://another-hub.example/")
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Response Issuer is not the hub")
