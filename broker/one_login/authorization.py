"""The authentication request to One Login (OpenID Connect Core 1.0 section 3.1.2.1, as One Login
profiles it): authorization code flow, `state` and `nonce`, vectors of trust, and the identity
claims asked for in the `claims` parameter so that /userinfo returns them.

Vectors of trust (RFC 8485, One Login's profile): `Cl.Cm` is medium-level authentication and
`P1`/`P2` low/medium confidence in the identity (GPG 45). Each Verify level a council may ask for
maps to the vector that gives at least that confidence; the level actually reached is read from
the `vot` of the core identity JWT, never from what was asked.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from broker.config import OneLoginConfig
from broker.identity import LevelOfAssurance

CORE_IDENTITY_CLAIM = "https://vocab.account.gov.uk/v1/coreIdentityJWT"
ADDRESS_CLAIM = "https://vocab.account.gov.uk/v1/address"
RETURN_CODE_CLAIM = "https://vocab.account.gov.uk/v1/returnCode"

LEVEL_FOR_VOT = {"P1": LevelOfAssurance.LEVEL_1, "P2": LevelOfAssurance.LEVEL_2,
                 "P3": LevelOfAssurance.LEVEL_3}
VOT_FOR_LEVEL = {level: vot for vot, level in LEVEL_FOR_VOT.items()}


class LevelNotOffered(Exception):
    """The council needs a level One Login has no identity confidence for (LEVEL_4)."""


def vector_of_trust(minimum: LevelOfAssurance) -> str:
    if minimum not in VOT_FOR_LEVEL:
        raise LevelNotOffered(f"One Login offers no identity confidence for {minimum.name}")
    return f"Cl.Cm.{VOT_FOR_LEVEL[minimum]}"


@dataclass(frozen=True)
class AuthenticationRequest:
    url: str
    nonce: str


def build_authentication_request(config: OneLoginConfig, authorization_endpoint: str,
                                 redirect_uri: str, state: str, minimum: LevelOfAssurance,
                                 ui_locale: str, force_login: bool) -> AuthenticationRequest:
    """`state` is the flow id (unguessable, single use); the nonce binds the ID token to it."""
    nonce = secrets.token_urlsafe(32)
    claims = {"userinfo": {CORE_IDENTITY_CLAIM: None, ADDRESS_CLAIM: None,
                           RETURN_CODE_CLAIM: None}}
    params = {
        "response_type": "code",
        "scope": " ".join(config.scopes),
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "nonce": nonce,
        "vtr": json.dumps([vector_of_trust(minimum)]),
        "claims": json.dumps(claims, separators=(",", ":")),
        "ui_locales": ui_locale if ui_locale in ("en", "cy") else "en",
    }
    if force_login:
        params["prompt"] = "login"
    separator = "&" if "?" in authorization_endpoint else "?"
    return AuthenticationRequest(f"{authorization_endpoint}{separator}{urlencode(params)}", nonce)
