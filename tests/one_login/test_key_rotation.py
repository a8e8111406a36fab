"""Item 9 of issue 24: One Login rotates its ID token keys (JWKS) and its identity keys (DID
document) together, and the first sign-in afterwards must succeed.

The broker holds the documents from before the rotation. The ID token names a key it does not
have, so it fetches the documents again (at most once a minute); the same redemption must then
check the core identity JWT against the fresh DID document, not the one it started with, which
would need a second fetch the once-a-minute limit refuses."""

from __future__ import annotations

import pytest
import responses
from joserfc.jwk import ECKey

from broker.identity import VerifiedIdentity
from broker.onelogin.callback import AnswerRejected, OneLoginClient
from broker.onelogin.provider import OneLoginProvider
from tests.one_login.fake import DID, DID_URL, ISSUER, FakeOneLogin
from tests.one_login.test_answer_validation import EXPECTED, NONCE, one_login_config

JWKS_URL = f"{ISSUER}.well-known/jwks.json"


@pytest.fixture
def fake():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        one_login = FakeOneLogin()
        one_login.register(mock)
        one_login.mock = mock
        yield one_login


def fetches(fake, url: str) -> int:
    return sum(1 for call in fake.mock.calls if call.request.url == url)


def rotate(fake, id_token_key: bool = True, identity_key: bool = True) -> None:
    """One Login publishes new keys and withdraws the old ones."""
    if id_token_key:
        fake.id_token_key = ECKey.generate_key("P-256", auto_kid=True)
    if identity_key:
        fake.identity_key = ECKey.generate_key("P-256", auto_kid=True)


@pytest.mark.parametrize(("id_token_key", "identity_key"), [
    pytest.param(True, True, id="both-keys"),
    pytest.param(True, False, id="id-token-key"),
    pytest.param(False, True, id="identity-key"),
])
def test_the_first_sign_in_after_one_login_rotates_its_keys_succeeds(fake, id_token_key,
                                                                     identity_key):
    config = one_login_config()
    provider = OneLoginProvider(config)
    provider.current()  # the documents from before the rotation
    rotate(fake, id_token_key, identity_key)
    fake.answer(fake.mock, fake.id_token(NONCE), fake.userinfo())
    identity = OneLoginClient(config, provider).redeem("code-1", EXPECTED)
    assert isinstance(identity, VerifiedIdentity), identity
    assert fetches(fake, JWKS_URL) == fetches(fake, DID_URL) == 2  # one refetch, for both


def test_a_redemption_that_started_before_another_ones_refetch_uses_the_fresh_documents(fake):
    """Two sign-ins at once: the one whose refetch is refused by the once-a-minute limit takes
    the documents the other fetched, rather than failing on the set it started with."""
    config = one_login_config()
    provider = OneLoginProvider(config)
    before = provider.current()
    rotate(fake)
    fresh = provider.refetch_for_unknown_key(before)  # the other sign-in's refetch
    assert fresh is not None and fresh is not before
    assert provider.refetch_for_unknown_key(before) is fresh
    assert fetches(fake, DID_URL) == 2


def test_a_key_one_login_never_published_is_still_refused_after_one_refetch(fake):
    config = one_login_config()
    provider = OneLoginProvider(config)
    provider.current()
    rotate(fake)
    fake.answer(fake.mock, fake.id_token(NONCE),
                fake.userinfo(fake.core_identity(kid=f"{DID}#never-published")))
    with pytest.raises(AnswerRejected, match="DID document"):
        OneLoginClient(config, provider).redeem("code-1", EXPECTED)
    assert fetches(fake, DID_URL) == 2
