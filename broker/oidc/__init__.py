"""The OpenID Connect provider council apps plug into, built on Authlib's server components."""
