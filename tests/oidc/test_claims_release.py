"""Data minimisation: what a council app receives, at /userinfo and in the ID token.

A claim is released only when it was asked for and the client's registered scopes and its
`claims` allow-list both permit it, whichever way it was asked for; scope claims come from
/userinfo only; `verified_claims` answers claim by claim (IDA 1.0)."""

from __future__ import annotations

import itertools
import json

import jwt
import pytest
import requests

from tests.conftest import COUNCIL_CLIENT_ID
from tests.oidc.conftest import SECRET, client_entry
from tests.oidc_client import authorize, query, redeem, sign_in

PERSON = ("given_name", "middle_name", "family_name", "birthdate", "address")
SCOPE_OF = {"given_name": "profile", "middle_name": "profile", "family_name": "profile",
            "birthdate": "profile", "address": "address"}
REGISTERED_SCOPES = {"openid": ["openid"], "profile": ["openid", "profile"],
                     "all": ["openid", "profile", "address"]}
ALLOW_LISTS = {"none": None, "given": ["given_name"],
               "example": ["given_name", "family_name", "birthdate", "verified_claims"],
               "address": ["address", "verified_claims"]}
EVERYTHING = {name: None for name in PERSON}
CLAIMS_REQUESTS = {
    "no-claims": None,
    "userinfo-all": {"userinfo": {**EVERYTHING, "verified_claims": None}},
    "id-token-all": {"id_token": {**EVERYTHING, "verified_claims": None}},
    "verified-per-claim": {
        "userinfo": {"verified_claims": {"verification": {"trust_framework": None},
                                         "claims": {"given_name": None, "address": None}}},
        "id_token": {"verified_claims": {"verification": {"time": None},
                                         "claims": {"birthdate": None, "middle_name": None}}}},
}
REQUESTED_SCOPES = ("openid", "openid profile", "openid address", "openid profile address")


def client_id_for(scopes: str, allow: str) -> str:
    return f"c-{scopes}-{allow}"


@pytest.fixture
def matrix_stack(stack_factory):
    def changes(ports):
        clients = [client_entry(COUNCIL_CLIENT_ID, ports)]
        for (scopes_name, scopes), (allow_name, allow) in itertools.product(
                REGISTERED_SCOPES.items(), ALLOW_LISTS.items()):
            extra = {"scopes": scopes}
            if allow is not None:
                extra["claims"] = allow
            clients.append(client_entry(client_id_for(scopes_name, allow_name), ports, **extra))
        return {"clients": clients, "rate_limits": {"enabled": False}}

    return stack_factory(changes)


def permitted(claim: str, scopes: list[str], allow: list[str] | None) -> bool:
    if allow is not None and claim not in allow:
        return False
    return claim not in SCOPE_OF or SCOPE_OF[claim] in scopes


def expected_release(target: str, requested_scope: str, claims_request: dict | None,
                     scopes: list[str], allow: list[str] | None) -> dict[str, set[str]]:
    """What the specification says this client receives: plain claims and verified ones."""
    asked = dict((claims_request or {}).get(target) or {})
    names = set(asked) - {"verified_claims"}
    if target == "userinfo":
        granted = set(requested_scope.split()) & set(scopes)
        names |= {c for c, s in SCOPE_OF.items() if s in granted}
    plain = {c for c in names if permitted(c, scopes, allow)}
    verified: set[str] = set()
    if "verified_claims" in asked and permitted("verified_claims", scopes, allow):
        spec = asked["verified_claims"]
        wanted = set(PERSON) if spec is None else set(spec["claims"])
        verified = {c for c in wanted if permitted(c, scopes, allow)}
    return {"plain": plain, "verified": verified}


def released(claims: dict) -> dict[str, set[str]]:
    return {"plain": set(claims) & set(PERSON),
            "verified": set((claims.get("verified_claims") or {}).get("claims") or {})}


def id_token_claims(stack, id_token: str, audience: str) -> dict:
    key = jwt.PyJWKClient(f"{stack.broker_url}/.well-known/jwks.json").get_signing_key_from_jwt(
        id_token)
    return jwt.decode(id_token, key.key, algorithms=["ES256"], audience=audience,
                      issuer=stack.broker_url)


def test_every_combination_of_scope_claims_and_allow_list_releases_nothing_beyond_them(
        matrix_stack):
    browser = requests.Session()
    sign_in(matrix_stack, browser)  # one hub sign-in; every request below reuses the session
    checked = 0
    for (scopes_name, scopes), (allow_name, allow), requested_scope, claims_name in \
            itertools.product(REGISTERED_SCOPES.items(), ALLOW_LISTS.items(), REQUESTED_SCOPES,
                              CLAIMS_REQUESTS):
        client_id = client_id_for(scopes_name, allow_name)
        claims_request = CLAIMS_REQUESTS[claims_name]
        attempt = authorize(matrix_stack, session=browser, client_id=client_id,
                            scope=requested_scope,
                            claims=json.dumps(claims_request) if claims_request else None)
        params = query(attempt.response.headers["Location"])
        token = redeem(matrix_stack, params["code"], attempt.verifier, attempt.redirect_uri,
                       auth=(client_id, SECRET)).json()
        info = requests.get(f"{matrix_stack.broker_url}/userinfo", timeout=10, headers={
            "Authorization": f"Bearer {token['access_token']}"}).json()
        id_token = id_token_claims(matrix_stack, token["id_token"], client_id)
        case = (client_id, requested_scope, claims_name)
        for target, claims in (("userinfo", info), ("id_token", id_token)):
            expected = expected_release(target, requested_scope, claims_request, scopes, allow)
            assert released(claims) == expected, (target, *case)
            if allow is not None:
                assert released(claims)["plain"] <= set(allow), (target, *case)
                assert released(claims)["verified"] <= set(allow), (target, *case)
        checked += 1
    assert checked == 192


def signed_in_claims(stack, client_id: str = COUNCIL_CLIENT_ID, **authorize_params
                     ) -> tuple[dict, dict]:
    attempt, params = sign_in(stack, client_id=client_id, **authorize_params)
    token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri,
                   auth=(client_id, SECRET)).json()
    info = requests.get(f"{stack.broker_url}/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {token['access_token']}"}).json()
    return info, id_token_claims(stack, token["id_token"], client_id)


@pytest.fixture
def narrow_stack(stack_factory):
    def changes(ports):
        return {"clients": [
            client_entry(COUNCIL_CLIENT_ID, ports),
            client_entry("openid-only", ports, scopes=["openid"]),
            client_entry("example-allow-list", ports, claims=[
                "given_name", "family_name", "birthdate", "verified_claims"]),
        ]}

    return stack_factory(changes)


def test_claims_parameter_cannot_bypass_the_clients_registered_scopes(narrow_stack):
    request = {"userinfo": {"address": None, "birthdate": None, "verified_claims": None},
               "id_token": {"address": None, "birthdate": None, "verified_claims": None}}
    info, id_token = signed_in_claims(narrow_stack, "openid-only", scope="openid",
                                      claims=json.dumps(request))
    for claims in (info, id_token):
        assert not set(claims) & {*PERSON, "verified_claims"}


def test_verified_claims_hold_only_what_the_allow_list_permits(narrow_stack):
    request = {"userinfo": {"verified_claims": None}}
    info, _ = signed_in_claims(narrow_stack, "example-allow-list",
                               claims=json.dumps(request))
    assert set(info["verified_claims"]["claims"]) == {"given_name", "family_name", "birthdate"}
    assert "address" not in info and "middle_name" not in info


def test_verified_claims_return_only_the_claims_and_verification_requested(narrow_stack):
    request = {"userinfo": {"verified_claims": {"verification": {"trust_framework": None},
                                                "claims": {"given_name": None}}}}
    info, _ = signed_in_claims(narrow_stack, scope="openid", claims=json.dumps(request))
    assert info["verified_claims"] == {"verification": {"trust_framework": "uk_tfida"},
                                       "claims": {"given_name": "Jane"}}


def test_scope_claims_come_from_userinfo_and_not_the_id_token(narrow_stack):
    info, id_token = signed_in_claims(narrow_stack, scope="openid profile address")
    assert info["given_name"] == "Jane" and info["address"]["postal_code"] == "AB1 2CD"
    assert not set(id_token) & {*PERSON, "verified_claims"}


def test_id_token_carries_personal_data_only_when_its_claims_member_asks(narrow_stack):
    request = {"id_token": {"family_name": None}}
    _, id_token = signed_in_claims(narrow_stack, scope="openid profile",
                                   claims=json.dumps(request))
    assert id_token["family_name"] == "Doe"
    assert not set(id_token) & (set(PERSON) - {"family_name"})


def test_malformed_verified_claims_request_is_invalid_request(narrow_stack):
    for request in ({"userinfo": {"verified_claims": "all"}},
                    {"userinfo": {"verified_claims": {"claims": ["given_name"]}}}):
        attempt = authorize(narrow_stack, claims=json.dumps(request))
        assert query(attempt.response.headers["Location"])["error"] == "invalid_request"
