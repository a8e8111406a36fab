"""Any OpenID provider returning OpenID Connect for Identity Assurance 1.0 `verified_claims` as
the broker's upstream: an identity service provider certified under the UK digital identity and
attributes trust framework, or any other that speaks OIDC4IDA.

A plug-in of the one journey (broker.upstreams.interface): discovery, authorization code with
PKCE, `private_key_jwt` or `client_secret_basic`, the ID token and /userinfo checked, and the
resident's `verified_claims` turned into the same Matching Dataset and level of assurance as
Verify's hub gives, by the operator's mapping (docs/adr/0020-openid-identity-assurance-upstream.md).
"""
