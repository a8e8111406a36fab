"""GOV.UK Verify's SAML hub as an upstream plug-in (`broker.upstreams.interface`).

The hand-off is a signed AuthnRequest in a self-posting form (HTTP-POST binding, RelayState the
flow id); the hub answers with a cross-site POST to the assertion consumer service
(`broker.hub.views`), whose Response `broker.hub.responses` verifies and translates. Everything
that does not depend on SAML (the level against the flow's minimum, AuthnInstant against
`max_age` and `prompt=login`, the Response's freshness, replay of its IDs) the journey checks.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography import x509
from flask import Flask, g, request

from broker.config import BrokerConfig
from broker.hub.federation import MetadataError
from broker.hub.metadata_source import HubMetadataSource
from broker.hub.requests import build_authn_request
from broker.identity import Flow, SamlRequest
from broker.state import BrokerState
from broker.upstreams.interface import (
    ConfigProblem,
    FailureKind,
    HandOff,
    Journey,
    Upstream,
    UpstreamFailure,
)
from broker.web.design import current_language, language_switch_url
from broker.web.page_cache import render_with_holes

log = logging.getLogger(__name__)

EXPIRY_WARNING_DAYS = 30


class HubUpstream(Upstream):
    """The broker as a service provider in Verify's federation."""

    name = "verify"

    def __init__(self, config: BrokerConfig, state: BrokerState | None):
        self.config = config
        self.state = state
        self.metadata = HubMetadataSource(config.hub, state)

    @property
    def clock_skew_seconds(self) -> int:
        return self.config.saml.clock_skew_seconds

    def hand_off(self, flow: Flow, *, force_login: bool) -> HandOff:
        try:
            hub = self.metadata.current()
        except MetadataError as exc:
            raise UpstreamFailure(FailureKind.UNAVAILABLE, f"hub metadata: {exc}") from None
        authn = build_authn_request(self.config.saml, hub, flow.minimum_level, flow.id,
                                    force_authn=force_login)
        page = render_with_holes(
            "hub_handoff.html", current_language(), destination=authn.destination,
            saml_request=authn.encoded, relay_state=flow.id, csp_nonce=g.get("csp_nonce", ""),
            language_switch_url=language_switch_url((request.endpoint or "",)))
        return HandOff(replace(flow, saml=SamlRequest(authn.id)),
                       (page, 200, {"Cache-Control": "no-store"}))

    def register(self, app: Flask, journey: Journey) -> None:
        from broker.hub.views import blueprint

        app.register_blueprint(blueprint(self, journey))

    def readiness(self) -> dict[str, dict[str, Any]]:
        status = self.metadata.status()
        return {"hub_metadata": {
            "ok": status.usable,
            "fetched_at": status.fetched_at,
            "valid_until": status.valid_until.isoformat() if status.valid_until else None,
            "last_error": status.last_error,
        }}

    def present_metrics(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        status = self.metadata.status()
        age = GaugeMetricFamily("broker_hub_metadata_age_seconds",
                                "Seconds since the hub metadata in use was fetched")
        age.add_metric([], time.time() - status.fetched_at if status.fetched_at
                       else float("nan"))
        usable = GaugeMetricFamily(
            "broker_hub_metadata_usable",
            "1 when verified hub metadata within its validUntil is available")
        # Unknown (NaN, which no `== 0` alert matches) while the state store is down and this
        # process holds no copy of its own: the outage is broker_state_store_up's to report.
        unknown = (not status.usable and status.fetched_at is None
                   and self.state is not None and not self.state.ping())
        usable.add_metric([], float("nan") if unknown else 1.0 if status.usable else 0.0)
        return (age, usable)

    def configuration_problems(self, *, offline: bool, now: datetime) -> Iterator[ConfigProblem]:
        """Fetches and verifies the hub's metadata as the broker will (offline: only a local
        file), without sharing the result."""
        hub_config = self.config.hub
        if offline and not hub_config.metadata_file:
            return
        key = "hub.metadata_file" if hub_config.metadata_file else "hub.metadata_url"
        source_log = logging.getLogger("broker.hub.metadata_source")
        was_disabled, source_log.disabled = source_log.disabled, True  # it would repeat our line
        try:
            metadata = HubMetadataSource(hub_config, state=None).refresh()
        except MetadataError as exc:
            yield ConfigProblem(key, f"hub metadata not usable: {exc}")
            return
        finally:
            source_log.disabled = was_disabled
        for index, cert in enumerate(metadata.signing_certs):
            problem = _expiry_problem(cert.pem, now)
            if problem:
                yield ConfigProblem(key, f"hub signing certificate {index + 1}: {problem[1]}",
                                    problem[0])
        if metadata.valid_until and (metadata.valid_until - now).total_seconds() < 24 * 3600:
            yield ConfigProblem(key, f"hub metadata validUntil "
                                     f"{metadata.valid_until:%Y-%m-%dT%H:%M:%SZ} is less than a "
                                     "day away", "warning")


def _expiry_problem(base64_der: str, now: datetime) -> tuple[str, str] | None:
    """("error"|"warning", text) for a metadata certificate (base64 DER) that has expired, is
    not yet valid, or expires within EXPIRY_WARNING_DAYS."""
    body = "".join(line for line in base64_der.strip().splitlines() if "-----" not in line)
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode("".join(body.split())))
    except ValueError as exc:
        return "error", f"cannot read the certificate: {exc}"
    if cert.not_valid_after_utc <= now:
        return "error", f"certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    if cert.not_valid_before_utc > now:
        return "error", f"certificate is not valid until {cert.not_valid_before_utc:%Y-%m-%d}"
    days = (cert.not_valid_after_utc - now).days
    if days < EXPIRY_WARNING_DAYS:
        return "warning", (f"certificate expires in {days} days, on "
                           f"{cert.not_valid_after_utc:%Y-%m-%d}")
    return None
