"""The hub plug-in's endpoints: the assertion consumer service, and our SAML service provider
metadata for the hub's operators."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Blueprint, request

from broker.hub.federation import HubMetadata, MetadataError
from broker.hub.outcomes import NotThisRequest, ResponseRejected
from broker.hub.requests import authn_request_id_for
from broker.hub.responses import read_response
from broker.hub.sp_metadata import sp_metadata
from broker.upstreams.interface import FailureKind, Journey, UpstreamAnswer, UpstreamFailure
from broker.web.pages import render_page

if TYPE_CHECKING:
    from broker.hub.upstream import HubUpstream

log = logging.getLogger(__name__)

MAX_RELAY_STATE_LENGTH = 128  # a flow id


def blueprint(upstream: HubUpstream, journey: Journey) -> Blueprint:
    bp = Blueprint("hub", __name__)

    @bp.get("/saml/metadata")
    def metadata():
        return sp_metadata(upstream.config), 200, {
            "Content-Type": "application/samlmetadata+xml"}

    @bp.post("/saml/acs")
    def assertion_consumer_service():
        """The hub's answer, verified and handed to the journey.

        The hub's POST is cross-site, so the Lax binding cookie does not come with it: the
        journey keeps the answer for the browser that started the flow. The Response is read
        before the flow is taken (its InResponseTo is checked against the AuthnRequest ID the
        RelayState's flow was sent with), so that the journey takes the flow in the one round
        trip that also keeps the answer (ADR 24)."""
        relay_state = request.form.get("RelayState", "")
        saml_response = request.form.get("SAMLResponse", "")
        if not relay_state or not saml_response or len(relay_state) > MAX_RELAY_STATE_LENGTH:
            return render_page("session-expired")
        request_id = authn_request_id_for(relay_state)
        try:
            hub = upstream.metadata.current()
        except MetadataError as exc:
            result = UpstreamFailure(FailureKind.UNAVAILABLE, f"hub metadata: {exc}")
        else:
            try:
                result = read_response(saml_response, request_id, upstream.config, hub)
            except NotThisRequest as exc:
                request_id, result = _for_an_earlier_release(upstream, relay_state, request_id,
                                                             saml_response, hub, exc)
            except ResponseRejected as exc:
                result = UpstreamFailure(FailureKind.REJECTED, str(exc))
        return journey.answered_cross_site(
            upstream, relay_state, result,
            answers=lambda flow: flow.saml is not None and flow.saml.authn_request_id == request_id)

    return bp


def _for_an_earlier_release(upstream: HubUpstream, relay_state: str, derived: str,
                            saml_response: str, hub: HubMetadata, refusal: NotThisRequest
                            ) -> tuple[str, UpstreamAnswer | UpstreamFailure]:
    """A flow an earlier release started (before ADR 25) sent an AuthnRequest with a random ID,
    kept in the flow: its answer is read again against that ID, so that a deploy does not fail
    the sign-ins in flight. One more round trip, only for an answer that names another request;
    such flows are gone `oidc.flow_ttl_seconds` after the deploy. (request id, result)."""
    flow = upstream.state.peek_flow(relay_state) if upstream.state is not None else None
    earlier = flow.saml.authn_request_id if flow is not None and flow.saml is not None else None
    if earlier is None or earlier == derived:
        return derived, UpstreamFailure(FailureKind.REJECTED, str(refusal))
    try:
        return earlier, read_response(saml_response, earlier, upstream.config, hub)
    except ResponseRejected as exc:
        return earlier, UpstreamFailure(FailureKind.REJECTED, str(exc))
