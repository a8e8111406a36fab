"""A stub OpenID provider returning OpenID Connect for Identity Assurance `verified_claims`
(development and tests only)."""
