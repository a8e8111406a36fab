"""The One Login plug-in's endpoints: the redirect URI, back-channel logout, and the public keys
of the broker's `private_key_jwt` for One Login's registration."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Blueprint, jsonify, request

from broker.one_login.callback import AnswerRejected, ExpectedAnswer, failure_for_error
from broker.one_login.client_auth import public_jwks
from broker.one_login.logout import upstream_subject
from broker.one_login.provider import OneLoginUnavailable
from broker.upstreams.interface import FailureKind, Journey, UpstreamFailure
from broker.upstreams.logout_token import answer_backchannel_logout
from broker.web.pages import render_page

if TYPE_CHECKING:
    from broker.one_login.upstream import OneLoginUpstream

log = logging.getLogger(__name__)

MAX_STATE_LENGTH = 128  # the flow id
MAX_CODE_LENGTH = 512


def blueprint(upstream: OneLoginUpstream, journey: Journey) -> Blueprint:
    bp = Blueprint("one_login", __name__)

    @bp.get("/onelogin/jwks.json")
    def jwks():
        """The public keys of the broker's private_key_jwt, for One Login's registration."""
        response = jsonify(public_jwks(upstream.settings))
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    @bp.get("/onelogin/callback")
    def callback():
        """One Login's redirect with `code` and `state`, or `error` (OIDC Core 3.1.2.5, 3.1.2.6).

        A top-level GET from One Login's site, so the Lax binding cookie comes with it: the
        journey checks the browser (`take_flow`) before One Login is asked anything. The
        flow is taken once: a replayed callback, or a second use of its code, finds nothing."""
        state = request.args.get("state", "")
        if not state or len(state) > MAX_STATE_LENGTH:
            return render_page("session-expired")
        flow = journey.take_flow(upstream, state)
        if flow.openid is None:  # the registry's name matched, the request did not
            return render_page("session-expired")
        if request.args.get("error"):
            failure = failure_for_error(request.args["error"],
                                        request.args.get("error_description"))
            return journey.answered(upstream, flow, failure)
        code = request.args.get("code", "")
        if not code or len(code) > MAX_CODE_LENGTH:
            result = UpstreamFailure(FailureKind.REJECTED, "the callback has no usable code")
            return journey.answered(upstream, flow, result)
        expected = ExpectedAnswer(nonce=flow.openid.nonce, redirect_uri=upstream.redirect_uri)
        try:
            result = upstream.client.redeem(code, expected)
        except OneLoginUnavailable as exc:
            result = UpstreamFailure(FailureKind.UNAVAILABLE, str(exc))
        except AnswerRejected as exc:
            result = UpstreamFailure(FailureKind.REJECTED, str(exc))
        return journey.answered(upstream, flow, result)

    @bp.post("/onelogin/backchannel-logout")
    def backchannel_logout():
        """One Login's logout_token: the resident's broker sessions end as at /logout (their
        tokens and codes revoked) and their council apps are told."""
        settings = upstream.settings
        return answer_backchannel_logout(
            upstream.client.provider, client_id=settings.client_id,
            leeway=settings.clock_skew_seconds, state=upstream.state,
            replay_kind="onelogin-logout", subject=upstream_subject,
            end_sessions=lambda subject: journey.end_sessions(upstream, subject))

    return bp
