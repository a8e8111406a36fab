"""The core identity JWT's claims read by joserfc's claims registry: each refusal performed on an
otherwise valid token really signed with the DID document's key."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from broker.one_login.core_identity import CoreIdentityRejected, validate_core_identity
from broker.one_login.did import DidDocument

DID = "did:web:identity.one-login.test"
KEY = ECKey.generate_key("P-256", auto_kid=True)
KID = f"{DID}#{KEY.kid}"
DOCUMENT = DidDocument(DID, {KID: ECKey.import_key(KEY.as_dict(private=False))})
CHECK = {"identity_issuer": "https://identity.one-login.test/", "client_id": "broker",
         "sub": "urn:fdc:resident", "leeway": 30}


def token(**changes) -> str:
    now = int(time.time())
    claims = {"iss": CHECK["identity_issuer"], "aud": "broker", "sub": "urn:fdc:resident",
              "nbf": now, "iat": now, "exp": now + 3600, "vot": "P2", **changes}
    return jwt.encode({"alg": "ES256", "kid": KID},
                      {k: v for k, v in claims.items() if v is not None}, KEY)


@pytest.mark.parametrize("audience", ["broker", ["broker"]])
def test_a_valid_core_identity_is_read(audience):
    claims = validate_core_identity(token(aud=audience), DOCUMENT, now=int(time.time()), **CHECK)
    assert claims["vot"] == "P2"


# Times are relative to when the test runs, not to when it was collected.
@pytest.mark.parametrize("changes, why", [
    (lambda now: {"iss": "https://oidc.one-login.test/"}, "not from the identity service"),
    (lambda now: {"aud": "another-client"}, "another client"),
    (lambda now: {"aud": ["broker", "another-client"]}, "another client"),
    (lambda now: {"sub": "urn:fdc:someone-else"}, "another user"),
    (lambda now: {"exp": None}, "exp"),
    (lambda now: {"exp": now - 120}, "expired"),
    (lambda now: {"nbf": now + 600}, "not valid yet"),
])
def test_a_core_identity_failing_a_check_is_refused(changes, why):
    with pytest.raises(CoreIdentityRejected, match=why):
        validate_core_identity(token(**changes(int(time.time()))), DOCUMENT, now=int(time.time()), **CHECK)
