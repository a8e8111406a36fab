"""Council apps as OAuth 2.0 clients, from configuration (RFC 6749 section 2)."""

from __future__ import annotations

import hmac

from authlib.oauth2.rfc6749 import ClientMixin

from broker.config import ClientConfig
from broker.identity import LevelOfAssurance
from broker.oidc.claims import ClaimsEntitlement


class RelyingParty(ClientMixin):
    """A registered council app. Redirect URIs match exactly; no default is ever guessed."""

    def __init__(self, config: ClientConfig):
        self.config = config
        self.client_id = config.client_id

    def get_client_id(self) -> str:
        return self.config.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    @property
    def id_token_signed_response_alg(self) -> str:
        return self.config.id_token_signed_response_alg

    @property
    def allowed_claims(self) -> tuple[str, ...] | None:
        return self.config.allowed_claims

    @property
    def claims_entitlement(self) -> ClaimsEntitlement:
        return ClaimsEntitlement(self.config.scopes, self.config.allowed_claims)

    def minimum_level(self, acr_values: str | None) -> LevelOfAssurance:
        """The level of assurance a resident must reach for this request.

        The client's configured `default_level` is a floor: `acr_values` (OIDC Core 3.1.2.1; of
        several, the least demanding is the one the client accepts) can raise it, never lower
        it, because the request passes through the resident's browser, where it can be edited.
        Only a client configured with `acr_values_may_lower_level` lets its requests ask for
        less. Values that are not one of our levels are ignored. The ID token's `acr` states
        the level the resident reached, which is at least this one."""
        requested = []
        for value in (acr_values or "").split():
            try:
                requested.append(LevelOfAssurance.from_uri(value))
            except ValueError:
                continue
        floor = self.config.default_level
        if not requested:
            return floor
        asked = min(requested, key=lambda level: level.value)
        if self.config.acr_values_may_lower_level or asked.value >= floor.value:
            return asked
        return floor

    def check_post_logout_redirect_uri(self, uri: str) -> bool:
        return uri in self.config.post_logout_redirect_uris

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.config.scopes)
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.config.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        expected = self.config.client_secret or ""
        return bool(expected) and hmac.compare_digest(expected.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint in ("token", "par") and method == self.config.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class ClientRegistry:
    def __init__(self, clients: dict[str, ClientConfig]):
        self._clients = {cid: RelyingParty(c) for cid, c in clients.items()}

    def get(self, client_id: str | None) -> RelyingParty | None:
        return self._clients.get(client_id or "") if isinstance(client_id, str) else None

    def __iter__(self):
        return iter(self._clients.values())
