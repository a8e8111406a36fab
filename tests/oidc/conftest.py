"""A stack with several council apps: two councils, every client authentication method,
ES256 and RS256, a PAR-only client, logout URIs, and a published-but-not-signing key."""

from __future__ import annotations

import json

import pytest
from joserfc.jwk import ECKey, RSAKey

from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET

OTHER_COUNCIL_CLIENT = "other-council-app"
SAME_COUNCIL_CLIENT = "council-app-2"
JWT_CLIENT = "jwt-client"
RS256_CLIENT = "rs256-client"
PAR_CLIENT = "par-client"
POST_CLIENT = "post-client"
REMOTE_JWKS_CLIENT = "remote-jwks-client"
REMOTE_JWKS_URI = "https://jwt-council.example.gov.uk/jwks.json"
SECRET = "another-secret"


@pytest.fixture(scope="session")
def oidc_keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("oidc-keys")
    files = {}
    for name, key in (("rsa", RSAKey.generate_key(2048, auto_kid=True)),
                      ("next", ECKey.generate_key("P-256", auto_kid=True))):
        files[name] = directory / f"{name}.jwk.json"
        files[name].write_text(json.dumps(key.as_dict(private=True)))
    client_key = ECKey.generate_key("P-256", auto_kid=True)
    return {"files": files, "client_key": client_key}


def client_entry(client_id: str, ports, **extra) -> dict:
    entry = {"client_id": client_id, "council": "test-borough", "client_secret": SECRET,
             "redirect_uris": [f"{ports.url('council')}/callback"],
             "scopes": ["openid", "profile", "address"]}
    entry.update(extra)
    return entry


@pytest.fixture
def oidc_stack(stack_factory, keys_dir, oidc_keys):
    def changes(ports):
        council = ports.url("council")
        return {
            "oidc.signing_keys": [
                {"file": str(keys_dir / "broker-oidc-signing.jwk.json")},
                {"file": str(oidc_keys["files"]["rsa"])},
                {"file": str(oidc_keys["files"]["next"]), "signs": False},
            ],
            "councils.other-borough": {"name": "Other Borough Council",
                                       "entity_id": "https://other-borough.example.gov.uk"},
            "clients": [
                client_entry(COUNCIL_CLIENT_ID, ports, client_secret=COUNCIL_CLIENT_SECRET,
                             post_logout_redirect_uris=[f"{council}/signed-out"],
                             backchannel_logout_uri="https://council-app.example.gov.uk/bcl"),
                client_entry(SAME_COUNCIL_CLIENT, ports,
                             backchannel_logout_uri="https://council-app-2.example.gov.uk/bcl"),
                client_entry(OTHER_COUNCIL_CLIENT, ports, council="other-borough"),
                client_entry(JWT_CLIENT, ports, client_secret=None,
                             token_endpoint_auth_method="private_key_jwt",
                             jwks={"keys": [oidc_keys["client_key"].as_dict(private=False)]}),
                client_entry(REMOTE_JWKS_CLIENT, ports, client_secret=None,
                             token_endpoint_auth_method="private_key_jwt",
                             jwks_uri=REMOTE_JWKS_URI),
                client_entry(RS256_CLIENT, ports, id_token_signed_response_alg="RS256"),
                client_entry(PAR_CLIENT, ports, require_pushed_authorization_requests=True),
                client_entry(POST_CLIENT, ports, token_endpoint_auth_method="client_secret_post"),
                client_entry("claims-limited", ports, claims=["given_name"]),
            ],
        }

    return stack_factory(changes)
