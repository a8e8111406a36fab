"""The sign-in journey, top to bottom; it knows the upstreams only through their interface.

    1. /authorize         a council app's request, validated; a Flow bound to this browser
    2. hand-off           to the council's upstream (`broker.upstreams`: Verify's hub, One Login,
                          ...), or single sign-on from the broker session, straight to 5
    3. the answer         the upstream's endpoint (ACS, redirect URI) hands its answer to
                          `UpstreamJourney.answered`: the protocol-neutral checks run here, once,
                          for every upstream; a cross-site answer (the hub's POST) goes to
                          `answered_cross_site`, which takes its flow and keeps it (ADR 25), then
    4. /signin/continue   ... a same-site GET: only the browser that started the flow goes on
    5. matching           cycle 0/1 by the pipeline; cycle 3's question and its routes are
                          matching's own (`broker.matching.views`), which hands the outcome back;
                          its questions are reached by a 303 to their own reusable address, so
                          that a reload never repeats the single-use step of 3 or 4
    6. session            one per browser: reused, renewed, or the old one logged out first
    7. code               302 to the council app's redirect_uri
    8. upstream logout    an upstream's back-channel logout ends the resident's broker sessions

Each upstream gives an `UpstreamAnswer` or an `UpstreamFailure`, matching an `Outcome`, the OIDC
side a code; none of them imports another, and none of them renders another's page. Why flows
are bound to the browser: docs/adr/0012-flows-bound-to-the-browser.md; why one session per
browser: docs/adr/0013-one-session-per-browser.md; the upstream interface:
docs/adr/0019-one-upstream-interface.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import replace

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from flask import Blueprint, Response, abort, g, make_response, request, url_for

from broker.context import current_broker
from broker.identity import Flow, PendingMatch, VerifiedIdentity
from broker.matching.pipeline import (
    ConsentDeclined,
    Matched,
    NeedsConsent,
    NeedsCycle3,
    NoMatchingConfigured,
    NotFound,
    Outcome,
    Unavailable,
)
from broker.matching.views import ask_consent, ask_cycle3, contact_text, record_outcome
from broker.observability import (
    SIGNINS_COMPLETED,
    SIGNINS_FAILED,
    SIGNINS_STARTED,
    UPSTREAM_ANSWERS,
    audit,
    set_flow,
)
from broker.oidc.authorization_request import PAR_REQUEST_URI_PREFIX, check_authorization_request
from broker.oidc.claims import signed_in_resident
from broker.oidc.logout import notify_council_apps
from broker.oidc.server import StoredAuthorizationRequest
from broker.oidc.sessions import BrokerSession
from broker.ratelimit import count_client
from broker.upstreams.interface import (
    FailureKind,
    Upstream,
    UpstreamAnswer,
    UpstreamFailure,
)
from broker.upstreams.neutral_checks import check_answer
from broker.web.brand_pages import current_council_id, use_council_brand
from broker.web.cookies import BINDING, SESSION, cookies
from broker.web.i18n import ui_locale_from
from broker.web.pages import page_link, render_page

log = logging.getLogger(__name__)
bp = Blueprint("signin", __name__)

MAX_PARAM_LENGTH = 4096
MAX_PARAMS = 40
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
VERIFIED_SIGNIN_TTL = 120  # the 303 after the ACS is followed at once, with or without JavaScript
# The resident's page for each way an upstream can fail, and at the hand-off (our side could
# not reach the service: the broker is unavailable, not the service's answer).
FAILURE_PAGES = {
    FailureKind.CANCELLED: "cancelled",
    FailureKind.AUTHENTICATION_FAILED: "authn-failed",
    FailureKind.NOT_PROVEN: "level-not-met",
    FailureKind.PENDING: "loa-pending",
    FailureKind.LOGIN_REQUIRED: "no-passive",
    FailureKind.FRAUD: "not-verified",
    FailureKind.UNAVAILABLE: "hub-error",
    FailureKind.REJECTED: "rejected",
}
HAND_OFF_PAGES = {**FAILURE_PAGES, FailureKind.UNAVAILABLE: "unavailable"}
FAILURE_DESCRIPTIONS = {
    FailureKind.CANCELLED: "the resident cancelled at the identity service",
    FailureKind.AUTHENTICATION_FAILED: "the resident could not authenticate",
    FailureKind.NOT_PROVEN: "no identity at the level required",
    FailureKind.PENDING: "the identity check has not finished",
    FailureKind.LOGIN_REQUIRED: "the resident must sign in",
    FailureKind.FRAUD: "the identity could not be confirmed",
    FailureKind.UNAVAILABLE: "the identity service is unavailable",
    FailureKind.REJECTED: "the identity service's answer could not be verified",
}


# Answers the council app and the resident's browser

def oidc_error_url(params: dict[str, str], error: str, description: str) -> str:
    """The authorization error response (RFC 6749 4.1.2.1) with `iss` (RFC 9207)."""
    query = [("error", error), ("error_description", description)]
    if params.get("state"):
        query.append(("state", params["state"]))
    query.append(("iss", current_broker().config.issuer))
    return add_params_to_uri(params["redirect_uri"], query)


def _redirect(url: str, status: int = 302):
    return "", status, {"Location": url, "Cache-Control": "no-store"}


def _context(flow: Flow):
    """The flow's client and council; every page from here on wears the council's brand."""
    broker = current_broker()
    client = broker.clients.get(flow.client_id)
    use_council_brand(client.config.council)
    return client, broker.config.councils[client.config.council]


def _valid_token(token: str) -> bool:
    return TOKEN_PATTERN.fullmatch(token) is not None


# The browser binding: a random value in a Lax, HttpOnly cookie (`__Host-` over https, so no
# other host can plant one); its hash in the Flow.

def _binding_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _browser_binding() -> str:
    """This browser's binding value: the one the broker already gave it (so that two tabs' flows
    both complete), or a new one. Over https only the `__Host-` cookie is read, which nobody but
    the broker's own host can have set; a plain-named value planted by a sibling is ignored."""
    value = cookies().get(BINDING) or ""
    return value if _valid_token(value) else secrets.token_urlsafe(32)


def _set_binding_cookie(response: Response, value: str) -> Response:
    """Lax: it comes with the same-site steps (the GET after the ACS, the cycle 3 form), never
    with another site's POST. No max-age: it ends with the browser session."""
    cookies().set(response, BINDING, value)
    return response


def _started_in_this_browser(flow: Flow) -> bool:
    value = cookies().get(BINDING) or ""
    return (bool(flow.browser_binding) and _valid_token(value)
            and hmac.compare_digest(_binding_hash(value), flow.browser_binding))


def _other_browser(flow: Flow, step: str):
    """A flow's step reached from a browser that did not start it: a login CSRF attempt, or a
    resident who switched browser. Either way nothing of the flow is used here."""
    log.warning("sign-in refused: flow %s %s from a browser that did not start it",
                flow.id[:8], step)
    SIGNINS_FAILED.labels(_context(flow)[1].id, "other-browser").inc()
    audit("signin.refused", reason="other-browser", step=step, client=flow.client_id)
    return render_page("other-browser")


# 1. /authorize

def _max_age(params: dict[str, str]) -> int | None:
    if not params.get("max_age"):
        return None
    if not params["max_age"].isdigit():
        raise InvalidRequestError("'max_age' must be a non-negative integer")
    return int(params["max_age"])


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    broker = current_broker()
    params = {key: request.values.get(key, "") for key in request.values}
    if len(params) > MAX_PARAMS or any(len(value) > MAX_PARAM_LENGTH for value in params.values()):
        return render_page("invalid-request", status=400)
    client = broker.clients.get(params.get("client_id"))
    if client is None:
        log.info("authorize: unknown client")
        return render_page("invalid-request")
    use_council_brand(client.config.council)
    if params.get("request_uri", "").startswith(PAR_REQUEST_URI_PREFIX):
        pushed = broker.state.take_pushed_request(params["request_uri"])
        if pushed is None or pushed["client_id"] != client.client_id:
            log.info("authorize: unknown, used or expired request_uri for client %s", client.client_id)
            return render_page("invalid-request")
        params = pushed["params"]
    if not client.check_redirect_uri(params.get("redirect_uri", "")):
        log.info("authorize: unregistered redirect_uri for client %s", client.client_id)
        return render_page("invalid-request")
    count_client("authorize", client.client_id)  # only now is it this client's request

    now = time.time()
    session = broker.sessions.load(cookies().get(SESSION), now)
    oauth_request = StoredAuthorizationRequest(f"{broker.config.issuer}/authorize", params)
    try:
        if client.config.require_pushed_authorization_requests and not request.values.get(
                "request_uri"):
            raise InvalidRequestError("this client must use pushed authorization requests")
        params = check_authorization_request(params)
        max_age = _max_age(params)
        minimum = client.minimum_level(params.get("acr_values"))
        prompt = params.get("prompt", "").split()
        upstream = broker.upstreams.for_council(client.config.council)
        # Single sign-on never crosses upstreams: a session proved by One Login is no proof
        # for a council whose residents prove themselves at Verify's hub.
        reusable = (session is not None and "login" not in prompt
                    and session.identity.upstream == upstream.name
                    and session.satisfies(minimum, max_age, now))
        broker.authorization_server.get_consent_grant(
            oauth_request, end_user=session if reusable else None)
    except OAuth2Error as error:
        error_code = error.error or "invalid_request"
        return _redirect(oidc_error_url(params, error_code, error.description or error_code))

    ui_locale = g.ui_locale = ui_locale_from(params.get("ui_locales"))
    binding = _browser_binding()

    flow = Flow(id=secrets.token_urlsafe(32), client_id=client.client_id,
                authorize_params=params, minimum_level=minimum, created_at=int(now),
                ui_locale=ui_locale, browser_binding=_binding_hash(binding))
    if reusable:  # single sign-on: the broker session stands in for the upstream
        council = broker.config.councils[client.config.council]
        set_flow(flow.id)
        SIGNINS_STARTED.labels(client.config.council).inc()
        log.info("sign-in from the broker session: flow %s client %s", flow.id[:8], client.client_id)
        response = _match(flow, session.identity_for(council.pid_hashing_entity_id),
                          from_session=True)
        return _set_binding_cookie(make_response(response), binding)
    response = _hand_off(upstream, replace(flow, upstream=upstream.name), client,
                         force_login="login" in prompt or max_age is not None)
    return _set_binding_cookie(make_response(response), binding)


# 2. Hand-off to the council's upstream

def _hand_off(upstream: Upstream, flow: Flow, client, force_login: bool):
    broker = current_broker()
    try:
        hand_off = upstream.hand_off(flow, force_login=force_login)
    except UpstreamFailure as failure:
        log.log(logging.ERROR if failure.kind is FailureKind.UNAVAILABLE else logging.INFO,
                "hand-off to %s failed: %s", upstream.name, failure.detail)
        return render_page(HAND_OFF_PAGES[failure.kind], continue_url=oidc_error_url(
            flow.authorize_params, failure.kind.oidc_error, FAILURE_DESCRIPTIONS[failure.kind]),
            service_name=client.config.name)
    flow = hand_off.flow
    broker.state.save_flow(flow, ttl=broker.config.oidc.flow_ttl_seconds)
    set_flow(flow.id)
    SIGNINS_STARTED.labels(client.config.council).inc()
    log.info("sign-in started at %s: flow %s client %s level %s", upstream.name, flow.id[:8],
             client.client_id, flow.minimum_level.name)
    return hand_off.response


def _ending_page(flow: Flow, name: str, **details):
    """A page that ends the sign-in, reached by a 303 to its own address (`page_link`: signed,
    an hour). The step that decided it (an upstream's answer or code, a form) is single-use, so
    the page shown there would turn into "expired" when a browser reloads it, and the resident
    would lose the way back and the council's contact details. It grants nothing (the way back
    is the council app's error response), so it needs no binding to the browser."""
    return _redirect(page_link(name, flow.ui_locale, council=current_council_id(), **details),
                     status=303)


def _failure_page(flow: Flow, kind: FailureKind):
    """An upstream's refusal or failure: the resident's page, and the way back to the council
    app with an OAuth error."""
    client, council = _context(flow)
    name = FAILURE_PAGES[kind]
    SIGNINS_FAILED.labels(council.id, name).inc()
    audit("signin.failed", council=council.id, client=client.client_id, reason=name)
    return _ending_page(flow, name, continue_url=oidc_error_url(
        flow.authorize_params, kind.oidc_error, FAILURE_DESCRIPTIONS[kind]),
        service_name=client.config.name)


# 3. The upstream's answer: what every upstream's endpoint hands to the journey

class UpstreamJourney:
    """The journey as the upstreams' endpoints see it (`broker.upstreams.interface.Journey`)."""

    def take_flow(self, upstream: Upstream, flow_id: str) -> Flow:
        flow = current_broker().state.take_flow(flow_id)
        if flow is None or flow.upstream != upstream.name:  # none, used, or another upstream's
            abort(_unknown_flow(upstream))
        set_flow(flow.id)
        g.ui_locale = flow.ui_locale
        if not _started_in_this_browser(flow):
            abort(make_response(_other_browser(flow, f"after {upstream.name}")))
        return flow

    def answered(self, upstream: Upstream, flow: Flow, result: UpstreamAnswer | UpstreamFailure):
        if isinstance(result, UpstreamAnswer):
            result = replace(result, upstream=upstream.name)
            checked = check_answer(result, flow, time.time(), upstream.clock_skew_seconds)
            result = checked or _replayed(upstream, result.answer_ids,
                                          result.remember_for) or result
        else:
            result = _replayed(upstream, result.answer_ids, result.remember_for) or result
        if isinstance(result, UpstreamFailure):
            return _answer_failed(upstream, flow, result)
        UPSTREAM_ANSWERS.labels(upstream.name, "success").inc()
        _client, council = _context(flow)
        return _match(flow, result.identity_for(council.pid_hashing_entity_id), from_session=False)

    def answered_cross_site(self, upstream: Upstream, flow_id: str,
                            result: UpstreamAnswer | UpstreamFailure, *,
                            answers: Callable[[Flow], bool]):
        """One round trip to Redis: the flow taken, the answer's ids marked seen and a verified
        answer kept for the browser that started the flow (ADR 25). Everything refused after it
        discards what was kept."""
        state = current_broker().state
        token = None
        if isinstance(result, UpstreamAnswer):
            result = replace(result, upstream=upstream.name)
            token = secrets.token_urlsafe(32)
        flow, firsts = state.take_flow_for_answer(
            flow_id, _sightings(upstream, result.answer_ids, result.remember_for),
            (token, result, VERIFIED_SIGNIN_TTL) if token else None)
        if flow is None or flow.upstream != upstream.name:
            if token:
                state.discard_answer(token)
            return _unknown_flow(upstream)
        set_flow(flow.id)
        g.ui_locale = flow.ui_locale  # a cross-site POST brings no language: the flow does
        replayed = _replay_failure(result.answer_ids, firsts)
        if not answers(flow):
            failure = UpstreamFailure(FailureKind.REJECTED,
                                      f"the {upstream.name} answer is not for this flow")
        elif isinstance(result, UpstreamAnswer):
            failure = check_answer(result, flow, time.time(), upstream.clock_skew_seconds) \
                or replayed
        else:
            failure = replayed or result
        if failure is not None:
            if token:
                state.discard_answer(token)
            return _answer_failed(upstream, flow, failure)
        UPSTREAM_ANSWERS.labels(upstream.name, "success").inc()
        return _redirect(url_for("signin.continue_signin", token=token), status=303)

    def end_sessions(self, upstream: Upstream, subject: str) -> int:
        broker = current_broker()
        ended = 0
        for key_name in broker.state.take_upstream_sessions(subject):
            session = broker.sessions.end_at(key_name)
            if session is not None:
                ended += 1
                notify_council_apps(broker, session)
        audit("signout.upstream", upstream=upstream.name, sessions=ended)
        return ended


upstream_journey = UpstreamJourney()


def _unknown_flow(upstream: Upstream) -> Response:
    log.info("%s answer: unknown or used flow", upstream.name)
    SIGNINS_FAILED.labels("unknown", "session-expired").inc()
    return make_response(render_page("session-expired"))


def _answer_failed(upstream: Upstream, flow: Flow, failure: UpstreamFailure):
    UPSTREAM_ANSWERS.labels(upstream.name, failure.kind.value).inc()
    if failure.kind in (FailureKind.REJECTED, FailureKind.UNAVAILABLE):
        log.warning("%s answer %s: flow %s: %s", upstream.name, failure.kind.value,
                    flow.id[:8], failure.detail)
    else:
        log.info("sign-in failed at %s: flow %s: %s (%s)", upstream.name, flow.id[:8],
                 failure.kind.value, failure.detail)
    return _failure_page(flow, failure.kind)


def _sightings(upstream: Upstream, answer_ids: tuple[str, ...], ttl: int
               ) -> list[tuple[str, str, int]]:
    return [(f"answer-{upstream.name}", ident, max(ttl, 1)) for ident in answer_ids]


def _replay_failure(answer_ids: tuple[str, ...], firsts: list[bool]) -> UpstreamFailure | None:
    repeated = [ident.replace(":", " ") for ident, first in zip(answer_ids, firsts, strict=True)
                if not first]
    if not repeated:
        return None
    return UpstreamFailure(FailureKind.REJECTED, f"{', '.join(repeated)} was already used")


def _replayed(upstream: Upstream, answer_ids: tuple[str, ...], ttl: int
              ) -> UpstreamFailure | None:
    """Marks every id of the answer seen (one round trip); a failure when any was seen before."""
    if not answer_ids:
        return None
    firsts = current_broker().state.first_sightings(_sightings(upstream, answer_ids, ttl))
    return _replay_failure(answer_ids, firsts)


# 4. Back in the browser that started the flow

@bp.get("/signin/continue")
def continue_signin():
    token = request.args.get("token", "")
    kept = (current_broker().state.take_answer(token, UpstreamAnswer) if _valid_token(token)
            else None)
    if kept is None:
        return render_page("session-expired")
    flow, answer = kept
    set_flow(flow.id)
    g.ui_locale = flow.ui_locale
    if not _started_in_this_browser(flow):
        return _other_browser(flow, "after the upstream")
    _client, council = _context(flow)
    return _match(flow, answer.identity_for(council.pid_hashing_entity_id), from_session=False)


# 5. Matching: cycle 0 and 1, then the cycle 3 question, account creation or not found

def _match(flow: Flow, identity: VerifiedIdentity, from_session: bool):
    broker = current_broker()
    _client, council = _context(flow)
    match_id = secrets.token_urlsafe(16)
    outcome = broker.matching.start(council, identity, match_id)
    if "none" in flow.authorize_params.get("prompt", "").split():
        silent = _silent_failure(flow, outcome)  # prompt=none: no page may be shown (OIDC Core 3.1.2.1)
        if silent is not None:
            return silent
    if isinstance(outcome, NeedsCycle3):
        record_outcome(council.id, outcome)
        return ask_cycle3(flow, identity, council, match_id, from_session)
    return _after_matching(flow, identity, outcome, from_session)


def _silent_failure(flow: Flow, outcome: Outcome):
    errors = {NeedsCycle3: ("interaction_required", "the council needs one more detail"),
              NeedsConsent: ("interaction_required", "the council asks before creating an account"),
              NotFound: ("access_denied", "no matching local account"),
              Unavailable: ("temporarily_unavailable", "the council's records cannot be checked now")}
    if type(outcome) not in errors:
        return None
    error, description = errors[type(outcome)]
    return _redirect(oidc_error_url(flow.authorize_params, error, description))


def _after_matching(flow: Flow, identity: VerifiedIdentity, outcome: Outcome,
                    from_session: bool):
    g.ui_locale = flow.ui_locale  # pages in the language the council app asked for
    client, council = _context(flow)
    record_outcome(council.id, outcome)
    if isinstance(outcome, Matched):
        log.info("sign-in matched: flow %s council %s by %s", flow.id[:8], council.id, outcome.how)
        return _complete(flow, identity, from_session, local_account_id=outcome.local_account_id)
    if isinstance(outcome, NoMatchingConfigured):
        return _complete(flow, identity, from_session)
    if isinstance(outcome, NeedsConsent):
        return ask_consent(flow, identity, council, outcome, from_session)
    if isinstance(outcome, ConsentDeclined):
        log.info("account creation declined: flow %s council %s", flow.id[:8], council.id)
        return _redirect(oidc_error_url(flow.authorize_params, "access_denied",
                                        "the resident declined account creation"))
    if isinstance(outcome, NotFound):
        log.info("sign-in not matched: flow %s council %s", flow.id[:8], council.id)
        assert council.matching is not None
        return _ending_page(flow, "no-record", service_name=client.config.name,
                            contact=contact_text(council.matching.contact),
                            continue_url=oidc_error_url(flow.authorize_params, "access_denied",
                                                        "no matching local account"))
    if isinstance(outcome, Unavailable):
        return _ending_page(flow, "matching-unavailable", service_name=client.config.name,
                            continue_url=oidc_error_url(
                                flow.authorize_params, "temporarily_unavailable",
                                "the council's records cannot be checked now"))
    raise TypeError(f"unexpected outcome {outcome!r}")


class MatchingJourney:
    """The journey as cycle 3's routes (`broker.matching.views`) see it
    (`broker.matching.views.Cycle3Journey`): the browser check, and where the sign-in goes on."""

    def check_browser(self, flow: Flow, step: str) -> None:
        if not _started_in_this_browser(flow):
            abort(make_response(_other_browser(flow, step)))

    def matched(self, pending: PendingMatch, outcome: Outcome):
        return _after_matching(pending.flow, pending.identity, outcome, pending.from_session)

    def stopped(self, flow: Flow, description: str, page: str | None):
        """The resident stopped at the question: `page` says so, or straight back to the app."""
        url = oidc_error_url(flow.authorize_params, "access_denied", description)
        if page is None:
            return _redirect(url)
        client, _council = _context(flow)
        return _ending_page(flow, page, service_name=client.config.name, continue_url=url)


matching_journey = MatchingJourney()


# 6. The broker session: one per browser

def _session_for(identity: VerifiedIdentity, from_session: bool
                 ) -> tuple[BrokerSession | None, bool]:
    """The browser's session for this sign-in, and whether its cookie must be (re)set.

    Single sign-on continues the session it came from (None if that session ended meanwhile).
    A fresh hub sign-in of the same resident renews the session, keeping its `sid` and apps; a
    different resident's first ends the browser's session, with back-channel logout to its
    apps, so a shared browser never mixes two people."""
    broker = current_broker()
    current = broker.sessions.load(cookies().get(SESSION))
    same_resident = current is not None and current.identity.is_same_resident(identity)
    if from_session:
        return (current, False) if same_resident else (None, False)
    if same_resident:
        return broker.sessions.renewed(current, identity), True
    if current is not None:
        ended = broker.sessions.end(current.id)
        if ended is not None:
            log.info("a different resident signed in: the browser's previous session ended")
            audit("session.ended", reason="another-resident-signed-in")
            notify_council_apps(broker, ended)
    return broker.sessions.new(identity), True


def set_session_cookie(response, session: BrokerSession, config) -> None:
    """Opaque id only; Lax so that council apps' top-level redirects to /authorize carry it."""
    cookies().set(response, SESSION, session.id,
                  max_age=config.oidc.session_absolute_seconds)


# 7. The code for the council app

def _complete(flow: Flow, identity: VerifiedIdentity, from_session: bool,
              local_account_id: str | None = None):
    """Issues the code for a verified (and matched) resident, within the browser's session."""
    broker = current_broker()
    client = broker.clients.get(flow.client_id)
    params = flow.authorize_params
    server = broker.authorization_server
    oauth_request = StoredAuthorizationRequest(f"{broker.config.issuer}/authorize", params)
    try:
        grant = server.get_consent_grant(oauth_request, end_user=True)
    except OAuth2Error as error:
        return render_page("invalid-request", continue_url=oidc_error_url(
            params, error.error or "invalid_request", error.description or "invalid request"),
            service_name=client.config.name)
    session, new_cookie = _session_for(identity, from_session)
    if session is None:
        log.info("sign-in from a broker session that has ended: flow %s", flow.id[:8])
        return render_page("session-expired")
    resident = signed_in_resident(identity, sid=session.sid,
                                  trust_framework=broker.config.oidc.trust_framework,
                                  local_account_id=local_account_id)
    session.clients[client.client_id] = resident.sub
    with broker.state.batched_writes():  # the session, the code and its token: one round trip
        broker.sessions.save(session)
        if new_cookie:
            _index_for_upstream_logout(session)
        response = server.create_authorization_response(oauth_request, grant_user=resident,
                                                        grant=grant)
    log.info("sign-in completed: flow %s client %s level %s", flow.id[:8], client.client_id,
             identity.level_of_assurance.name)
    SIGNINS_COMPLETED.labels(client.config.council, identity.level_of_assurance.name).inc()
    audit("signin.completed", council=client.config.council, client=client.client_id,
          level_of_assurance=identity.level_of_assurance.name, from_session=from_session)
    response.headers["Cache-Control"] = "no-store"
    if new_cookie:
        set_session_cookie(response, session, broker.config)
    return response


# 8. Upstream logout: the resident signed out at their identity service

def _index_for_upstream_logout(session: BrokerSession) -> None:
    """A session opened or renewed by an upstream with back-channel logout, filed under the
    name that upstream's logout will give the resident (a hash; the index holds the session's
    key name)."""
    broker = current_broker()
    upstream = broker.upstreams.named(session.identity.upstream)
    subject = upstream.logout_subject(session.identity) if upstream is not None else None
    if subject is None:
        return
    broker.state.add_upstream_session(subject, session.id,
                                      broker.config.oidc.session_absolute_seconds)
