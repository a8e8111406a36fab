"""Where the pipeline meets the resident: the ACS hand-off and the cycle 3 page.

`match_then_complete` runs the pipeline for a verified resident and turns its outcome into a
response: a code for the council app, the cycle 3 question, the council's "we could not find
your record" page (`access_denied`) or "try again later" (`temporarily_unavailable`). The cycle 3
page keeps its sign-in in Redis (`BrokerState.save_pending_match`) under an unguessable token
that travels in the form; the answer is taken atomically, so a double submit cannot match twice.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import replace

from flask import Blueprint, current_app, g, render_template, request, url_for
from flask_babel import gettext

from broker.identity import Flow, VerifiedIdentity
from broker.matching.pending import PendingMatch
from broker.matching.pipeline import (
    Matched,
    MatchingPipeline,
    NeedsCycle3,
    NoMatchingConfigured,
    NotFound,
    Outcome,
    Unavailable,
)
from broker.observability import MATCHING_OUTCOMES
from broker.web.brand_pages import use_council_brand
from broker.web.pages import PAGES, render_page

log = logging.getLogger(__name__)
bp = Blueprint("matching", __name__, template_folder="templates")

MAX_ANSWER_LENGTH = 256
TOKEN_MAX_LENGTH = 64
Complete = Callable[..., object]

INVALID_ANSWER = {
    "en": "Enter your answer in the format shown in the hint",
    "cy": "Rhowch eich ateb yn y fformat a ddangosir yn y cyngor",
}
CONTINUE = {"en": "Continue", "cy": "Parhau"}
CANCEL = {"en": "Cancel signing in", "cy": "Canslo mewngofnodi"}
BACK = {"en": "Back", "cy": "Yn ôl"}
ERROR_SUMMARY = {"en": "There is a problem", "cy": "Mae problem wedi codi"}


def _broker():
    return current_app.extensions["broker"]


def _pipeline() -> MatchingPipeline:
    return _broker().matching


def _error_url(flow: Flow, error: str, description: str) -> str:
    from broker.signin import oidc_error_url

    return oidc_error_url(flow.authorize_params, error, description)


def _context(flow: Flow):
    broker = _broker()
    client = broker.clients.get(flow.client_id)
    use_council_brand(client.config.council)
    return client, broker.config.councils[client.config.council]


def match_then_complete(flow: Flow, identity: VerifiedIdentity, complete: Complete):
    """Called by the ACS for a verified resident; `complete(flow, identity, local_account_id=…)`
    issues the code (it lives in broker.signin, which this module must not import at load)."""
    _client, council = _context(flow)
    match_id = secrets.token_urlsafe(16)
    outcome = _pipeline().start(council, identity, match_id)
    if "none" in flow.authorize_params.get("prompt", "").split():
        silent = _silent_failure(flow, outcome)  # prompt=none: no page may be shown (OIDC Core 3.1.2.1)
        if silent is not None:
            return silent
    if isinstance(outcome, NeedsCycle3):
        record_outcome(council.id, outcome)
        token = secrets.token_urlsafe(32)
        _broker().state.save_pending_match(
            token, PendingMatch(flow, identity, council.id, match_id).to_json_dict(),
            ttl=_broker().config.oidc.flow_ttl_seconds)
        return _cycle3_page(flow, token)
    return _respond(flow, identity, outcome, complete)


def _silent_failure(flow: Flow, outcome: Outcome):
    errors = {NeedsCycle3: ("interaction_required", "the council needs one more detail"),
              NotFound: ("access_denied", "no matching local account"),
              Unavailable: ("temporarily_unavailable", "the council's records cannot be checked now")}
    if type(outcome) not in errors:
        return None
    error, description = errors[type(outcome)]
    return "", 302, {"Location": _error_url(flow, error, description), "Cache-Control": "no-store"}


def _contact_text(contact: dict[str, str]) -> str:
    """The council's contact details from configuration, as one line in the page's language."""
    labels = {"phone": gettext("Phone"), "email": gettext("Email"), "address": gettext("Address")}
    return "; ".join(f"{labels.get(key, key.replace('_', ' ').capitalize())}: {value}"
                     for key, value in contact.items())


def record_outcome(council_id: str, outcome: Outcome) -> None:
    """broker_matching_outcomes_total: which cycle decided, and how."""
    if isinstance(outcome, Matched):
        cycle, result = outcome.how.removeprefix("cycle-"), "match"
    elif isinstance(outcome, NeedsCycle3):
        cycle, result = "1", "no-match"
    elif isinstance(outcome, NotFound):
        cycle, result = "final", "not-found"
    elif isinstance(outcome, Unavailable):
        cycle, result = "any", "unavailable"
    else:
        cycle, result = "none", "not-configured"
    MATCHING_OUTCOMES.labels(council_id, cycle, result).inc()


def _respond(flow: Flow, identity: VerifiedIdentity, outcome: Outcome, complete: Complete):
    g.ui_locale = flow.ui_locale  # pages in the language the council app asked for
    client, council = _context(flow)
    record_outcome(council.id, outcome)
    if isinstance(outcome, Matched):
        log.info("sign-in matched: flow %s council %s by %s", flow.id[:8], council.id, outcome.how)
        return complete(flow, identity, local_account_id=outcome.local_account_id)
    if isinstance(outcome, NoMatchingConfigured):
        return complete(flow, identity)
    if isinstance(outcome, NotFound):
        log.info("sign-in not matched: flow %s council %s", flow.id[:8], council.id)
        assert council.matching is not None
        return render_page("no-record", service_name=client.config.name,
                           contact=_contact_text(council.matching.contact),
                           continue_url=_error_url(flow, "access_denied", "no matching local account"))
    if isinstance(outcome, Unavailable):
        return render_page("matching-unavailable", service_name=client.config.name,
                           continue_url=_error_url(flow, "temporarily_unavailable",
                                                   "the council's records cannot be checked now"))
    raise TypeError(f"unexpected outcome {outcome!r}")


def _cycle3_page(flow: Flow, token: str, answer: str = "", error: bool = False, status: int = 200):
    client, council = _context(flow)
    assert council.matching is not None and council.matching.cycle3 is not None
    cycle3 = council.matching.cycle3
    lang = flow.ui_locale if flow.ui_locale in ("en", "cy") else "en"
    g.ui_locale = lang
    g.language_switch_url = url_for("matching.cycle3_language", token=token,
                                    lang="en" if lang == "cy" else "cy")
    body = render_template(
        "matching/cycle3.html", page=PAGES["cycle3"], name="cycle3", lang=lang, token=token,
        label=cycle3.label[lang], hint=cycle3.hint[lang], answer=answer,
        error=INVALID_ANSWER[lang] if error else None, error_summary=ERROR_SUMMARY[lang],
        continue_label=CONTINUE[lang], cancel_label=CANCEL[lang], back_label=BACK[lang],
        council=council.name, service_name=client.config.name,
        csp_nonce=g.get("csp_nonce", ""))
    return body, status, {"Cache-Control": "no-store"}


def _valid_token(token: str) -> bool:
    return 0 < len(token) <= TOKEN_MAX_LENGTH and re.fullmatch(r"[A-Za-z0-9_-]+", token) is not None


@bp.post("/matching/cycle3")
def cycle3_answer():
    """The resident's answer (or their cancel) for the council's cycle 3 question."""
    from broker.signin import complete_sign_in

    state = _broker().state
    token = request.form.get("token", "")
    if not _valid_token(token):
        return render_page("session-expired")
    raw = state.get_pending_match(token)
    if raw is None:
        return render_page("session-expired")
    pending = PendingMatch.from_json_dict(raw)
    g.ui_locale = pending.flow.ui_locale
    client, council = _context(pending.flow)
    if request.form.get("action") == "cancel":
        if state.take_pending_match(token) is None:
            return render_page("session-expired")
        log.info("cycle 3 cancelled: flow %s council %s", pending.flow.id[:8], council.id)
        return render_page("matching-cancelled", service_name=client.config.name,
                           continue_url=_error_url(pending.flow, "access_denied",
                                                   "the resident cancelled"))
    if council.matching is None or council.matching.cycle3 is None or council.id != pending.council_id:
        # The configuration changed under a waiting resident: start again, never guess.
        state.take_pending_match(token)
        return render_page("session-expired")
    answer = request.form.get("answer", "").strip()
    if (len(answer) > MAX_ANSWER_LENGTH
            or re.fullmatch(council.matching.cycle3.pattern, answer) is None):
        return _cycle3_page(pending.flow, token, answer[:MAX_ANSWER_LENGTH], error=True, status=400)
    if state.take_pending_match(token) is None:
        return render_page("session-expired")  # a second submit of the same page
    outcome = _pipeline().answer_cycle3(council, pending.identity, pending.match_id, answer)
    return _respond(pending.flow, pending.identity, outcome, complete_sign_in)


@bp.get("/matching/cycle3")
def cycle3_language():
    """The cycle 3 page again in the language the resident switched to; the sign-in keeps it."""
    state = _broker().state
    token, lang = request.args.get("token", ""), request.args.get("lang", "")
    raw = state.get_pending_match(token) if _valid_token(token) else None
    if raw is None or lang not in ("en", "cy"):
        return render_page("session-expired")
    pending = PendingMatch.from_json_dict(raw)
    flow = replace(pending.flow, ui_locale=lang)
    # Never beyond the longest a waiting sign-in can live: the flow's TTL to reach the ACS,
    # then the same again on this page.
    ttl = _broker().config.oidc.flow_ttl_seconds
    remaining = min(ttl, flow.created_at + 2 * ttl - int(time.time()))
    if remaining <= 0:
        return render_page("session-expired")
    state.save_pending_match(token, replace(pending, flow=flow).to_json_dict(), ttl=remaining)
    return _cycle3_page(flow, token)


@bp.get("/matching/cycle3/back")
def cycle3_back():
    """"Back" from the cycle 3 page: the hub step cannot be replayed, so back is to the council."""
    state = _broker().state
    token = request.args.get("token", "")
    raw = state.take_pending_match(token) if _valid_token(token) else None
    if raw is None:
        return render_page("session-expired")
    flow = PendingMatch.from_json_dict(raw).flow
    return "", 302, {"Location": _error_url(flow, "access_denied", "the resident went back"),
                     "Cache-Control": "no-store"}
