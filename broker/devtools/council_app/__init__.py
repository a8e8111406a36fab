"""A demo council app: an OIDC relying party built on Authlib's Flask client."""
