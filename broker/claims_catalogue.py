"""The claims and scopes the broker offers council apps, by name only.

Below both configuration (which checks a client's `claims` allow-list against it) and the
OpenID Connect provider (which releases claims and lists them in discovery), so reading the
configuration never imports the provider. What each claim holds and when it is released:
broker/oidc/claims.py.
"""

SCOPE_CLAIMS = {
    "profile": ("given_name", "middle_name", "family_name", "birthdate"),
    "address": ("address",),
}
SCOPE_OF_CLAIM = {claim: scope for scope, claims in SCOPE_CLAIMS.items() for claim in claims}
VERIFICATION_ELEMENTS = ("assurance_level", "time")  # beside trust_framework, always returned
SUPPORTED_SCOPES = ("openid", *SCOPE_CLAIMS)
PERSON_CLAIMS = tuple(c for claims in SCOPE_CLAIMS.values() for c in claims)
EXTRA_CLAIMS = ("verified_claims", "local_account_id")
RELEASABLE_CLAIMS = (*PERSON_CLAIMS, *EXTRA_CLAIMS)  # what a client's `claims` allow-list may name
SUPPORTED_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                    "sid", "at_hash", *PERSON_CLAIMS, *EXTRA_CLAIMS)
