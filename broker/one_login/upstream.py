"""GOV.UK One Login as an upstream plug-in (`broker.upstreams.interface`).

The hand-off is a top-level redirect to One Login's authorization endpoint (`state` the flow id,
the nonce kept in the flow's `openid` field); One Login answers at the redirect URI with a
top-level GET, so the browser is checked before One Login is asked anything
(`broker.one_login.views`). Everything that does not depend on OpenID Connect (the level against
the flow's minimum, `auth_time` against `max_age` and `prompt=login`, freshness, replay) the
journey checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Flask

from broker.config import BrokerConfig
from broker.identity import Flow, OpenIdRequest, VerifiedIdentity
from broker.one_login.authorization import LevelNotOffered
from broker.one_login.callback import OneLoginClient
from broker.one_login.logout import upstream_subject
from broker.one_login.provider import OneLoginProvider, OneLoginUnavailable
from broker.state import BrokerState
from broker.upstreams.interface import (
    ConfigProblem,
    FailureKind,
    HandOff,
    Journey,
    Upstream,
    UpstreamFailure,
)

log = logging.getLogger(__name__)


class OneLoginUpstream(Upstream):
    """The broker as One Login's relying party: one client for every council."""

    name = "one_login"

    def __init__(self, config: BrokerConfig, state: BrokerState | None):
        if config.one_login is None:
            raise ValueError("upstream one_login needs a one_login section")
        self.config = config
        self.settings = config.one_login
        self.state = state
        self.client = OneLoginClient(config.one_login, OneLoginProvider(config.one_login))
        self.redirect_uri = config.one_login_redirect_uri

    @property
    def clock_skew_seconds(self) -> int:
        return self.settings.clock_skew_seconds

    def hand_off(self, flow: Flow, *, force_login: bool) -> HandOff:
        try:
            authn = self.client.authentication_request(
                flow.id, flow.minimum_level, flow.ui_locale, force_login=force_login,
                redirect_uri=self.redirect_uri)
        except OneLoginUnavailable as exc:
            raise UpstreamFailure(FailureKind.UNAVAILABLE, f"One Login: {exc}") from None
        except LevelNotOffered as exc:
            raise UpstreamFailure(FailureKind.NOT_PROVEN, str(exc)) from None
        return HandOff(replace(flow, openid=OpenIdRequest(authn.nonce)),
                       ("", 302, {"Location": authn.url, "Cache-Control": "no-store"}))

    def register(self, app: Flask, journey: Journey) -> None:
        from broker.one_login.views import blueprint

        app.register_blueprint(blueprint(self, journey))

    def readiness(self) -> dict[str, dict[str, Any]]:
        return {"one_login": self.client.provider.status()}

    def configuration_problems(self, *, offline: bool, now: datetime) -> Iterator[ConfigProblem]:
        """Fetches One Login's discovery document, JWKS and DID document as the broker will
        (nothing offline: they are dependencies that come and go, which /readyz reports)."""
        if offline:
            return
        source_log = logging.getLogger("broker.one_login.provider")
        was_disabled, source_log.disabled = source_log.disabled, True  # it would repeat our line
        try:
            OneLoginProvider(self.settings).refresh()
        except OneLoginUnavailable as exc:
            yield ConfigProblem("one_login.discovery_url", f"One Login's documents not usable: {exc}")
        finally:
            source_log.disabled = was_disabled

    def logout_subject(self, identity: VerifiedIdentity) -> str | None:
        """One Login's logout token names the resident by its issuer and `sub` (hashed)."""
        issuer = self.client.issuer()
        if not identity.persistent_id or issuer is None or identity.issuer != issuer:
            return None
        return upstream_subject(issuer, identity.persistent_id)
