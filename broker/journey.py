"""The sign-in journey, top to bottom; the one module that knows every protocol.

    1. /authorize         a council app's request, validated; a Flow bound to this browser
    2. hand-off           to the upstream: an AuthnRequest to Verify's hub, or an authentication
                          request to GOV.UK One Login (or single sign-on from the broker
                          session, straight to 5)
    3. /saml/acs          the hub's cross-site POST: verified and kept, then 303 to ...
    4. /signin/continue   ... a same-site GET: only the browser that started the flow goes on
    3b. /onelogin/callback  One Login's top-level GET: the binding cookie comes with it, so the
                          browser is checked first and the answer, once verified, goes on to 5
    5. matching           cycle 0/1 by the pipeline; the cycle 3 question and /matching/cycle3
    6. session            one per browser: reused, renewed, or the old one logged out first
    7. code               302 to the council app's redirect_uri
    8. upstream logout    One Login's back-channel logout ends the resident's broker sessions

Each upstream side (broker.hub, broker.onelogin) gives a `VerifiedIdentity`, matching an
`Outcome`, the OIDC side a code; none of them imports another, and none of them renders
another's page. Why flows are bound to the browser: docs/adr/0012-flows-bound-to-the-browser.md;
why one session per browser: docs/adr/0013-one-session-per-browser.md; One Login as the
upstream: docs/adr/0014-one-login-upstream.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import replace

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from flask import Blueprint, Response, g, jsonify, make_response, request, url_for

from broker.context import current_broker
from broker.hub.federation import MetadataError
from broker.hub.outcomes import HubFailure, ResponseRejected
from broker.hub.requests import build_authn_request
from broker.hub.responses import read_response
from broker.identity import Flow, LevelOfAssurance, PendingMatch, VerifiedIdentity, VerifiedSignIn
from broker.matching.pipeline import (
    Matched,
    NeedsCycle3,
    NoMatchingConfigured,
    NotFound,
    Outcome,
    Unavailable,
)
from broker.matching.views import (
    MAX_ANSWER_LENGTH,
    contact_text,
    cycle3_page,
    record_outcome,
    valid_answer,
)
from broker.observability import (
    HUB_STATUSES,
    SIGNINS_COMPLETED,
    SIGNINS_FAILED,
    SIGNINS_STARTED,
    audit,
    set_flow,
)
from broker.oidc.authorization_request import PAR_REQUEST_URI_PREFIX, check_authorization_request
from broker.oidc.claims import signed_in_resident
from broker.oidc.logout import notify_council_apps
from broker.oidc.server import StoredAuthorizationRequest
from broker.oidc.sessions import BrokerSession
from broker.onelogin.authorization import LevelNotOffered
from broker.onelogin.callback import AnswerRejected, ExpectedAnswer, OneLoginFailure, failure_for_error
from broker.onelogin.logout import (
    LOGOUT_TOKEN_MAX_AGE_SECONDS,
    LogoutTokenRejected,
    read_logout_token,
    upstream_subject,
)
from broker.onelogin.provider import OneLoginUnavailable
from broker.ratelimit import count_client
from broker.web.brand_pages import use_council_brand
from broker.web.cookies import BINDING, SESSION, cookies
from broker.web.design import current_language, language_switch_url
from broker.web.i18n import ui_locale_from
from broker.web.page_cache import render_with_holes
from broker.web.pages import render_page

log = logging.getLogger(__name__)
bp = Blueprint("signin", __name__)

MAX_PARAM_LENGTH = 4096
MAX_PARAMS = 40
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
VERIFIED_SIGNIN_TTL = 120  # the 303 after the ACS is followed at once, with or without JavaScript
MAX_STATE_LENGTH = 128  # the flow id, as One Login's `state` or the hub's RelayState
MAX_CODE_LENGTH = 512
ONE_LOGIN_NONCE = "one_login_nonce"  # in Flow.extra: the nonce One Login's ID token must carry


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
        reusable = (session is not None and "login" not in prompt
                    and session.satisfies(minimum, max_age, now))
        broker.authorization_server.get_consent_grant(
            oauth_request, end_user=session if reusable else None)
    except OAuth2Error as error:
        error_code = error.error or "invalid_request"
        return _redirect(oidc_error_url(params, error_code, error.description or error_code))

    ui_locale = g.ui_locale = ui_locale_from(params.get("ui_locales"))
    binding = _browser_binding()

    def new_flow(authn_request_id: str) -> Flow:
        return Flow(id=secrets.token_urlsafe(32), client_id=client.client_id,
                    authorize_params=params, authn_request_id=authn_request_id,
                    minimum_level=minimum, created_at=int(now), ui_locale=ui_locale,
                    browser_binding=_binding_hash(binding))

    if reusable:  # single sign-on: the broker session stands in for the hub
        flow = new_flow(authn_request_id="")
        council = broker.config.councils[client.config.council]
        set_flow(flow.id)
        SIGNINS_STARTED.labels(client.config.council).inc()
        log.info("sign-in from the broker session: flow %s client %s", flow.id[:8], client.client_id)
        response = _match(flow, session.identity_for(council.pid_hashing_entity_id),
                          from_session=True)
        return _set_binding_cookie(make_response(response), binding)
    hand_off = (_hand_off_to_one_login if broker.config.upstream == "one_login"
                else _hand_off_to_hub)
    return _set_binding_cookie(make_response(hand_off(new_flow, client, params, minimum, prompt,
                                                      max_age)), binding)


# 2. Hand-off to the upstream: Verify's hub or One Login

def _hand_off_to_hub(new_flow, client, params: dict[str, str], minimum: LevelOfAssurance,
                     prompt: list[str], max_age: int | None):
    broker = current_broker()
    try:
        hub = broker.hub_metadata.current()
    except MetadataError:
        return render_page("unavailable", continue_url=oidc_error_url(
            params, "temporarily_unavailable", "the identity hub is unavailable"),
            service_name=client.config.name)
    authn = build_authn_request(broker.config.saml, hub, minimum,
                                force_authn="login" in prompt or max_age is not None)
    flow = new_flow(authn_request_id=authn.id)
    broker.state.save_flow(flow, ttl=broker.config.oidc.flow_ttl_seconds)
    set_flow(flow.id)
    SIGNINS_STARTED.labels(client.config.council).inc()
    log.info("sign-in started: flow %s client %s level %s", flow.id[:8], client.client_id,
             minimum.name)
    page = render_with_holes(
        "hub_handoff.html", current_language(), destination=authn.destination,
        saml_request=authn.encoded, relay_state=flow.id, csp_nonce=g.get("csp_nonce", ""),
        language_switch_url=language_switch_url(("signin.authorize",)))
    return page, 200, {"Cache-Control": "no-store"}


def _hand_off_to_one_login(new_flow, client, params: dict[str, str], minimum: LevelOfAssurance,
                           prompt: list[str], max_age: int | None):
    """A top-level redirect to One Login, `state` the flow id; the flow keeps the nonce."""
    broker = current_broker()
    flow = new_flow(authn_request_id="")
    try:
        authn = broker.one_login.authentication_request(
            flow.id, minimum, flow.ui_locale, force_login="login" in prompt or max_age is not None,
            redirect_uri=broker.config.one_login_redirect_uri)
    except OneLoginUnavailable as exc:
        log.error("One Login unavailable at the hand-off: %s", exc)
        return render_page("unavailable", continue_url=oidc_error_url(
            params, "temporarily_unavailable", "the identity service is unavailable"),
            service_name=client.config.name)
    except LevelNotOffered:
        return render_page("level-not-met", continue_url=oidc_error_url(
            params, "access_denied", "no identity confidence for this level"),
            service_name=client.config.name)
    flow.extra[ONE_LOGIN_NONCE] = authn.nonce
    broker.state.save_flow(flow, ttl=broker.config.oidc.flow_ttl_seconds)
    set_flow(flow.id)
    SIGNINS_STARTED.labels(client.config.council).inc()
    log.info("sign-in started at One Login: flow %s client %s level %s", flow.id[:8],
             client.client_id, minimum.name)
    return _redirect(authn.url)


def _failure_page(flow: Flow, name: str, error: str, description: str):
    """An upstream's refusal or failure: the resident's page, and the way back to the council
    app with an OAuth error. It grants nothing."""
    client, council = _context(flow)
    SIGNINS_FAILED.labels(council.id, name).inc()
    audit("signin.failed", council=council.id, client=client.client_id, reason=name)
    return render_page(name, continue_url=oidc_error_url(flow.authorize_params, error, description),
                       service_name=client.config.name)


# 3. The assertion consumer service

@bp.post("/saml/acs")
def assertion_consumer_service():
    """Verifies the hub's answer and keeps it for the browser that started the flow.

    The hub's POST is cross-site, so the Lax binding cookie is not sent with it: nothing here
    may give this browser a session or a code. A failure (cancel, rejected answer) is shown
    here: it grants nothing."""
    broker = current_broker()
    relay_state = request.form.get("RelayState", "")
    saml_response = request.form.get("SAMLResponse", "")
    if not relay_state or not saml_response or len(relay_state) > 128:
        return render_page("session-expired")
    flow = broker.state.take_flow(relay_state)
    if flow is None or not flow.authn_request_id:  # none, used, or a flow sent to One Login
        log.info("assertion consumer service: unknown or used RelayState")
        SIGNINS_FAILED.labels("unknown", "session-expired").inc()
        return render_page("session-expired")
    set_flow(flow.id)
    g.ui_locale = flow.ui_locale  # the hub's cross-site POST brings no language: the flow does
    _client, council = _context(flow)
    try:
        hub = broker.hub_metadata.current()
    except MetadataError:
        return _failure_page(flow, "unavailable", "temporarily_unavailable",
                             "the identity hub is unavailable")
    try:
        result = read_response(saml_response, flow, broker.config, hub, broker.state,
                               council.pid_hashing_entity_id)
    except ResponseRejected as exc:
        HUB_STATUSES.labels("rejected").inc()
        log.warning("hub response rejected: flow %s: %s", flow.id[:8], exc)
        return _failure_page(flow, "rejected", "access_denied",
                             "the identity hub's answer could not be verified")
    HUB_STATUSES.labels(result.reason.value if isinstance(result, HubFailure) else "success").inc()
    if isinstance(result, HubFailure):
        log.info("sign-in failed at the hub: flow %s reason %s (%s)", flow.id[:8],
                 result.reason.value, result.detail)
        return _failure_page(flow, result.reason.value, result.oidc_error, result.reason.value)

    token = secrets.token_urlsafe(32)
    broker.state.save_verified_signin(token, VerifiedSignIn(flow, result), VERIFIED_SIGNIN_TTL)
    return _redirect(url_for("signin.continue_signin", token=token), status=303)


# 4. Back in the browser that started the flow

@bp.get("/signin/continue")
def continue_signin():
    token = request.args.get("token", "")
    signin = current_broker().state.take_verified_signin(token) if _valid_token(token) else None
    if signin is None:
        return render_page("session-expired")
    set_flow(signin.flow.id)
    g.ui_locale = signin.flow.ui_locale
    if not _started_in_this_browser(signin.flow):
        return _other_browser(signin.flow, "after the hub")
    return _match(signin.flow, signin.identity, from_session=False)


# 3b. One Login's answer

@bp.get("/onelogin/callback")
def one_login_callback():
    """One Login's redirect with `code` and `state`, or `error` (OIDC Core 3.1.2.5, 3.1.2.6).

    A top-level GET from One Login's site, so the Lax binding cookie comes with it: the browser
    is checked here, before One Login is asked anything, and a verified answer goes straight on
    to matching (the ACS's hop through /signin/continue exists only for the hub's POST). The
    flow is taken once: a replayed callback, or a second use of its code, finds nothing."""
    broker = current_broker()
    state = request.args.get("state", "")
    if (broker.config.upstream != "one_login" or broker.one_login is None or not state
            or len(state) > MAX_STATE_LENGTH):
        return render_page("session-expired")
    flow = broker.state.take_flow(state)
    if flow is None or not isinstance(flow.extra.get(ONE_LOGIN_NONCE), str):
        log.info("One Login callback: unknown or used state")
        SIGNINS_FAILED.labels("unknown", "session-expired").inc()
        return render_page("session-expired")
    set_flow(flow.id)
    g.ui_locale = flow.ui_locale
    if not _started_in_this_browser(flow):
        return _other_browser(flow, "after One Login")
    _client, council = _context(flow)
    if request.args.get("error"):
        failure = failure_for_error(request.args["error"], request.args.get("error_description"))
        HUB_STATUSES.labels(failure.page).inc()
        log.info("sign-in failed at One Login: flow %s: %s", flow.id[:8], failure.detail)
        return _failure_page(flow, failure.page, failure.oidc_error, failure.page)
    code = request.args.get("code", "")
    if not code or len(code) > MAX_CODE_LENGTH:
        return _failure_page(flow, "rejected", "access_denied",
                             "the identity service's answer is malformed")
    expected = ExpectedAnswer(nonce=flow.extra[ONE_LOGIN_NONCE], minimum_level=flow.minimum_level,
                              council_entity_id=council.pid_hashing_entity_id,
                              redirect_uri=broker.config.one_login_redirect_uri)
    try:
        result = broker.one_login.redeem(code, expected)
    except OneLoginUnavailable as exc:
        log.error("One Login unavailable: flow %s: %s", flow.id[:8], exc)
        return _failure_page(flow, "hub-error", "temporarily_unavailable",
                             "the identity service is unavailable")
    except AnswerRejected as exc:
        HUB_STATUSES.labels("rejected").inc()
        log.warning("One Login answer rejected: flow %s: %s", flow.id[:8], exc)
        return _failure_page(flow, "rejected", "access_denied",
                             "the identity service's answer could not be verified")
    if isinstance(result, OneLoginFailure):
        HUB_STATUSES.labels(result.page).inc()
        log.info("sign-in failed at One Login: flow %s: %s", flow.id[:8], result.detail)
        return _failure_page(flow, result.page, result.oidc_error, result.page)
    HUB_STATUSES.labels("success").inc()
    return _match(flow, result, from_session=False)


# 5. Matching: cycle 0 and 1, then the cycle 3 question, account creation or not found

def _match(flow: Flow, identity: VerifiedIdentity, from_session: bool):
    broker = current_broker()
    client, council = _context(flow)
    match_id = secrets.token_urlsafe(16)
    outcome = broker.matching.start(council, identity, match_id)
    if "none" in flow.authorize_params.get("prompt", "").split():
        silent = _silent_failure(flow, outcome)  # prompt=none: no page may be shown (OIDC Core 3.1.2.1)
        if silent is not None:
            return silent
    if isinstance(outcome, NeedsCycle3):
        record_outcome(council.id, outcome)
        token = secrets.token_urlsafe(32)
        broker.state.save_pending_match(
            token, PendingMatch(flow, identity, council.id, match_id, from_session),
            ttl=broker.config.oidc.flow_ttl_seconds)
        return cycle3_page(council, client.config.name, flow.ui_locale, token)
    return _after_matching(flow, identity, outcome, from_session)


def _silent_failure(flow: Flow, outcome: Outcome):
    errors = {NeedsCycle3: ("interaction_required", "the council needs one more detail"),
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
    if isinstance(outcome, NotFound):
        log.info("sign-in not matched: flow %s council %s", flow.id[:8], council.id)
        assert council.matching is not None
        return render_page("no-record", service_name=client.config.name,
                           contact=contact_text(council.matching.contact),
                           continue_url=oidc_error_url(flow.authorize_params, "access_denied",
                                                       "no matching local account"))
    if isinstance(outcome, Unavailable):
        return render_page("matching-unavailable", service_name=client.config.name,
                           continue_url=oidc_error_url(
                               flow.authorize_params, "temporarily_unavailable",
                               "the council's records cannot be checked now"))
    raise TypeError(f"unexpected outcome {outcome!r}")


@bp.post("/matching/cycle3")
def cycle3_answer():
    """The resident's answer (or their cancel) for the council's cycle 3 question."""
    broker = current_broker()
    state = broker.state
    token = request.form.get("token", "")
    pending = state.get_pending_match(token) if _valid_token(token) else None
    if pending is None:
        return render_page("session-expired")
    flow = pending.flow
    set_flow(flow.id)
    g.ui_locale = flow.ui_locale
    if not _started_in_this_browser(flow):
        return _other_browser(flow, "at the cycle 3 question")
    client, council = _context(flow)
    if request.form.get("action") == "cancel":
        if state.take_pending_match(token) is None:
            return render_page("session-expired")
        log.info("cycle 3 cancelled: flow %s council %s", flow.id[:8], council.id)
        return render_page("matching-cancelled", service_name=client.config.name,
                           continue_url=oidc_error_url(flow.authorize_params, "access_denied",
                                                       "the resident cancelled"))
    if council.matching is None or council.matching.cycle3 is None or council.id != pending.council_id:
        # The configuration changed under a waiting resident: start again, never guess.
        state.take_pending_match(token)
        return render_page("session-expired")
    answer = request.form.get("answer", "").strip()
    if not valid_answer(council, answer):
        return cycle3_page(council, client.config.name, flow.ui_locale, token,
                           answer=answer[:MAX_ANSWER_LENGTH], error=True, status=400)
    if state.take_pending_match(token) is None:
        return render_page("session-expired")  # a second submit of the same page
    outcome = broker.matching.answer_cycle3(council, pending.identity, pending.match_id, answer)
    return _after_matching(flow, pending.identity, outcome, pending.from_session)


@bp.get("/matching/cycle3")
def cycle3_language():
    """The cycle 3 page again in the language the resident switched to; the sign-in keeps it."""
    broker = current_broker()
    token, lang = request.args.get("token", ""), request.args.get("lang", "")
    pending = broker.state.get_pending_match(token) if _valid_token(token) else None
    if pending is None or lang not in ("en", "cy"):
        return render_page("session-expired")
    if not _started_in_this_browser(pending.flow):
        return _other_browser(pending.flow, "at the cycle 3 language switch")
    flow = replace(pending.flow, ui_locale=lang)
    # Never beyond the longest a waiting sign-in can live: the flow's TTL to reach the ACS,
    # then the same again on this page.
    ttl = broker.config.oidc.flow_ttl_seconds
    remaining = min(ttl, flow.created_at + 2 * ttl - int(time.time()))
    if remaining <= 0:
        return render_page("session-expired")
    broker.state.save_pending_match(token, replace(pending, flow=flow), ttl=remaining)
    client, council = _context(flow)
    return cycle3_page(council, client.config.name, lang, token)


@bp.get("/matching/cycle3/back")
def cycle3_back():
    """"Back" from the cycle 3 page: the hub step cannot be replayed, so back is to the council."""
    state = current_broker().state
    token = request.args.get("token", "")
    pending = state.get_pending_match(token) if _valid_token(token) else None
    if pending is None:
        return render_page("session-expired")
    if not _started_in_this_browser(pending.flow):
        return _other_browser(pending.flow, "back from the cycle 3 question")
    if state.take_pending_match(token) is None:
        return render_page("session-expired")
    return _redirect(oidc_error_url(pending.flow.authorize_params, "access_denied",
                                    "the resident went back"))


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
    with broker.state.batched_writes():  # the session and the code: one round trip
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


# 8. One Login's back-channel logout: the resident signed out of GOV.UK One Login

def _index_for_upstream_logout(session: BrokerSession) -> None:
    """A session opened or renewed by a One Login sign-in, filed under the One Login subject
    that a logout token will name (as a hash; the index holds the session's key name)."""
    broker = current_broker()
    identity = session.identity
    if (broker.one_login is None or not identity.persistent_id
            or identity.issuer != broker.one_login.issuer()):
        return
    broker.state.add_upstream_session(upstream_subject(identity.issuer, identity.persistent_id),
                                      session.id, broker.config.oidc.session_absolute_seconds)


@bp.post("/onelogin/backchannel-logout")
def one_login_backchannel_logout():
    """One Login's logout_token (Back-Channel Logout 1.0 section 2.5): the resident's broker
    sessions end as at /logout (their tokens and codes revoked) and their council apps are told.
    Errors are 400 `invalid_request` (section 2.8)."""
    broker = current_broker()
    headers = {"Cache-Control": "no-store"}
    if broker.one_login is None:
        return jsonify(error="invalid_request"), 400, headers
    try:
        trust = broker.one_login.provider.current()
    except OneLoginUnavailable:
        return jsonify(error="temporarily_unavailable"), 503, headers
    config = broker.config.one_login
    try:
        claims = read_logout_token(request.form.get("logout_token"), trust, config.client_id,
                                   config.clock_skew_seconds)
    except LogoutTokenRejected as exc:
        log.warning("One Login logout token rejected: %s", exc)
        return jsonify(error="invalid_request", error_description=str(exc)), 400, headers
    if not broker.state.first_sighting("onelogin-logout", claims["jti"], LOGOUT_TOKEN_MAX_AGE_SECONDS * 2):
        return jsonify(error="invalid_request", error_description="replayed"), 400, headers
    ended = 0
    for key_name in broker.state.take_upstream_sessions(
            upstream_subject(trust.provider.issuer, claims["sub"])):
        session = broker.sessions.end_at(key_name)
        if session is not None:
            ended += 1
            notify_council_apps(broker, session)
    audit("signout.upstream", upstream="one_login", sessions=ended)
    log.info("One Login back-channel logout: %d broker session(s) ended", ended)
    return "", 200, headers
