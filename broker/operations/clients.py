"""`broker clients list|show`: the council apps registered in the configuration.

Registration is configuration (the `clients:` list in the YAML), so this only reads it back as
the broker will use it; secrets are never printed.
"""

from __future__ import annotations

import sys

from broker.config import SECRET_AUTH_METHODS, ClientConfig, load_config


def list_clients(config_path: str | None) -> int:
    config = load_config(config_path)
    print(f"{'CLIENT ID':<32}{'COUNCIL':<24}{'AUTH':<22}{'LEVEL':<9}REDIRECT URIS")
    for client in config.clients.values():
        print(f"{client.client_id:<32}{client.council:<24}{client.token_endpoint_auth_method:<22}"
              f"{client.default_level.name:<9}{' '.join(client.redirect_uris)}")
    print(f"{len(config.clients)} client(s)", file=sys.stderr)
    return 0


def show_client(config_path: str | None, client_id: str) -> int:
    config = load_config(config_path)
    client = config.clients.get(client_id)
    if client is None:
        print(f"broker: {config.source}: clients: no client with client_id {client_id!r}",
              file=sys.stderr)
        return 2
    council = config.councils[client.council]
    for label, value in describe(client, council.name, council.entity_id):
        print(f"{label + ':':<32}{value}")
    return 0


def describe(client: ClientConfig, council_name: str, council_entity_id: str
             ) -> list[tuple[str, str]]:
    if client.token_endpoint_auth_method in SECRET_AUTH_METHODS:
        credentials = "client_secret set (not shown)"
    elif client.jwks_uri:
        credentials = f"jwks_uri {client.jwks_uri}"
    else:
        kids = [str(key.get("kid", "?")) for key in (client.jwks or {}).get("keys", [])]
        credentials = f"inline jwks, kid {', '.join(kids) or '(none)'}"
    return [
        ("client_id", client.client_id),
        ("name", client.name),
        ("council", f"{client.council} ({council_name}; subjects pairwise to {council_entity_id})"),
        ("token_endpoint_auth_method", client.token_endpoint_auth_method),
        ("credentials", credentials),
        ("redirect_uris", " ".join(client.redirect_uris)),
        ("post_logout_redirect_uris", " ".join(client.post_logout_redirect_uris) or "(none)"),
        ("backchannel_logout_uri", client.backchannel_logout_uri or "(none)"),
        ("scopes", " ".join(client.scopes)),
        ("claims", " ".join(client.allowed_claims) if client.allowed_claims is not None else "(all)"),
        ("default_level", client.default_level.name),
        ("acr_values_may_lower_level", "yes" if client.acr_values_may_lower_level else "no"),
        ("id_token_signed_response_alg", client.id_token_signed_response_alg),
        ("require_pushed_authorization_requests",
         "yes" if client.require_pushed_authorization_requests else "no"),
    ]
