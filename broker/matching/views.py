"""Cycle 3, with one owner: the council's extra question, its page, its routes (the answer, the
language switch, back) and what a valid answer is; and the count of the pipeline's outcomes.

The journey (`broker.journey`) puts a sign-in on the question (`ask_cycle3`: the pending match
in Redis, and a 303 to the question's own reusable address, ADR 23) and takes it back through
`Cycle3Journey`: the browser check, the outcome of matching again, or the resident stopping.
No endpoint is named across packages.

The account-creation question is matching's too: the journey hands over a `NeedsConsent`
outcome (`ask_consent`) and the resident's answer goes back as an outcome the same way.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import replace
from typing import Protocol

from flask import Blueprint, Flask, g, render_template, request, url_for
from flask_babel import force_locale, gettext

from broker.config import CouncilConfig
from broker.context import current_broker
from broker.identity import Flow, PendingMatch, VerifiedIdentity
from broker.matching.pipeline import (
    ConsentDeclined,
    Matched,
    NeedsConsent,
    NeedsCycle3,
    NotFound,
    Outcome,
    Unavailable,
)
from broker.observability import MATCHING_OUTCOMES, set_flow
from broker.web.brand_pages import use_council_brand
from broker.web.i18n import supported
from broker.web.pages import PAGES, contact_lines, render_page

MAX_ANSWER_LENGTH = 256
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _l(message: str) -> str:
    return message


INVALID_ANSWER = _l("Enter your answer in the format shown in the hint")


def _language(ui_locale: str) -> str:
    return ui_locale if ui_locale in ("en", "cy") else "en"


def cycle3_page(council: CouncilConfig, service_name: str, ui_locale: str, token: str,
                answer: str = "", error: bool = False):
    """The question, or (`error`) the question with the last answer that did not fit and the
    GOV.UK error summary: served by the GET (200), the POST only redirects here."""
    assert council.matching is not None and council.matching.cycle3 is not None
    cycle3 = council.matching.cycle3
    lang = _language(ui_locale)
    g.ui_locale = lang
    g.language_switch_url = url_for("matching.cycle3_question", token=token,
                                    lang="en" if lang == "cy" else "cy")
    with force_locale(lang):
        body = render_template(
            "matching/cycle3.html", page=PAGES["cycle3"].translated(), name="cycle3", token=token,
            label=cycle3.label[lang], hint=cycle3.hint[lang], answer=answer,
            error=gettext(INVALID_ANSWER) if error else None,
            council=council.name, service_name=service_name)
    return body, 200, {"Cache-Control": "no-store"}


def cycle3_leave_page(token: str, ui_locale: str):
    """"Back" from the cycle 3 question: the identity check cannot be gone back to, so the
    resident is asked whether to stop signing in, never stopped without a word."""
    lang = _language(ui_locale)
    g.ui_locale = lang
    g.language_switch_url = None
    with force_locale(lang):
        body = render_template("matching/cycle3_leave.html", token=token)
    return body, 200, {"Cache-Control": "no-store"}


def valid_answer(council: CouncilConfig, answer: str) -> bool:
    assert council.matching is not None and council.matching.cycle3 is not None
    return (len(answer) <= MAX_ANSWER_LENGTH
            and re.fullmatch(council.matching.cycle3.pattern, answer) is not None)


def contact_text(contact: dict[str, str]) -> str:
    """The council's contact details from configuration, as one line in the page's language."""
    return "; ".join(contact_lines(contact.items()))


def record_outcome(council_id: str, outcome: Outcome) -> None:
    """broker_matching_outcomes_total: which cycle decided, and how."""
    if isinstance(outcome, Matched):
        cycle, result = outcome.how.removeprefix("cycle-"), "match"
    elif isinstance(outcome, NeedsCycle3):
        cycle, result = "1", "no-match"
    elif isinstance(outcome, NeedsConsent):
        cycle, result = "final", "consent-asked"
    elif isinstance(outcome, ConsentDeclined):
        cycle, result = "final", "consent-declined"
    elif isinstance(outcome, NotFound):
        cycle, result = "final", "not-found"
    elif isinstance(outcome, Unavailable):
        cycle, result = "any", "unavailable"
    else:
        cycle, result = "none", "not-configured"
    MATCHING_OUTCOMES.labels(council_id, cycle, result).inc()


class Cycle3Journey(Protocol):
    """What cycle 3's routes need from the journey (implemented by `broker.journey`)."""

    def check_browser(self, flow: Flow, step: str) -> None:
        """Ends the request with the other-browser page when this browser did not start `flow`."""
        ...

    def matched(self, pending: PendingMatch, outcome: Outcome):
        """Carries the sign-in on with matching's outcome after the answer."""
        ...

    def stopped(self, flow: Flow, description: str, page: str | None):
        """The resident stopped: `page` tells them, or (None) straight back to the council app."""
        ...


def _pending(token: str) -> PendingMatch | None:
    return (current_broker().state.get_pending_match(token)
            if TOKEN_PATTERN.fullmatch(token) else None)


def _service_name(flow: Flow, council: CouncilConfig) -> str:
    use_council_brand(council.id)
    return current_broker().clients.get(flow.client_id).config.name


def install(app: Flask, journey: Cycle3Journey) -> None:
    """Registers cycle 3's routes, which hand the sign-in back through `journey`."""
    bp = Blueprint("matching", __name__, template_folder="templates")

    @bp.post("/matching/cycle3")
    def cycle3_answer():
        """The resident's answer (or their cancel) for the council's cycle 3 question."""
        broker = current_broker()
        state = broker.state
        token = request.form.get("token", "")
        pending = _pending(token)
        if pending is None:
            return render_page("session-expired")
        flow = pending.flow
        set_flow(flow.id)
        g.ui_locale = flow.ui_locale
        journey.check_browser(flow, "at the cycle 3 question")
        council = broker.config.councils.get(pending.council_id)
        if request.form.get("action") == "cancel":
            if state.take_pending_match(token) is None:
                return render_page("session-expired")
            return journey.stopped(flow, "the resident cancelled", "matching-cancelled")
        if council is None or council.matching is None or council.matching.cycle3 is None:
            # The configuration changed under a waiting resident: start again, never guess.
            state.take_pending_match(token)
            return render_page("session-expired")
        answer = request.form.get("answer", "").strip()
        if not valid_answer(council, answer):
            # Post/Redirect/Get (ADR 23): the error is shown at the question's own address, so
            # a reload asks again instead of posting again. The wrong answer, which may be
            # personal, stays with the pending match in Redis (sealed), never in the URL.
            rejected = replace(pending, rejected_answer=answer[:MAX_ANSWER_LENGTH])
            if not state.update_pending_match(token, rejected):
                return render_page("session-expired")  # answered in another tab, or expired
            return _to_question(token)
        if state.take_pending_match(token) is None:
            return render_page("session-expired")  # a second submit of the same page
        outcome = broker.matching.answer_cycle3(council, pending.identity, pending.match_id,
                                                answer)
        return journey.matched(pending, outcome)

    @bp.get("/matching/cycle3")
    def cycle3_question():
        """The question's own address, the one a resident may leave open: a reload, Back or a
        mobile browser waking a background tab shows it again, in this browser only. With
        `lang` (the language switch) the sign-in keeps the language chosen."""
        broker = current_broker()
        token = request.args.get("token", "")
        pending = _pending(token)
        if pending is None:
            return render_page("session-expired")
        set_flow(pending.flow.id)
        lang = supported(request.args.get("lang"))
        g.ui_locale = lang or _language(pending.flow.ui_locale)
        journey.check_browser(pending.flow, "at the cycle 3 question")
        council = broker.config.councils.get(pending.council_id)
        if council is None or council.matching is None or council.matching.cycle3 is None:
            return render_page("session-expired")  # the configuration changed under the resident
        flow = pending.flow
        if lang and lang != flow.ui_locale:
            remaining = _pending_ttl(flow)
            if remaining <= 0:
                return render_page("session-expired")
            flow = replace(flow, ui_locale=lang)
            broker.state.save_pending_match(token, replace(pending, flow=flow), ttl=remaining)
        return cycle3_page(council, _service_name(flow, council), flow.ui_locale, token,
                           answer=pending.rejected_answer or "",
                           error=pending.rejected_answer is not None)

    @bp.get("/matching/cycle3/back")
    def cycle3_back():
        """"Back" from the cycle 3 page: the upstream's step cannot be gone back to, so the
        resident is asked whether to stop signing in (the answer posts the page's Cancel);
        nothing ends here."""
        token = request.args.get("token", "")
        pending = _pending(token)
        if pending is None:
            return render_page("session-expired")
        journey.check_browser(pending.flow, "back from the cycle 3 question")
        _service_name(pending.flow, current_broker().config.councils[pending.council_id])
        return cycle3_leave_page(token, pending.flow.ui_locale)

    @bp.get("/matching/create-account")
    def consent():
        """The question: may the council create an account for this resident?"""
        token = request.args.get("token", "")
        pending = _waiting(token)
        if pending is None:
            return render_page("session-expired")
        set_flow(pending.flow.id)
        lang = supported(request.args.get("lang")) or _language(pending.flow.ui_locale)
        g.ui_locale = lang
        journey.check_browser(pending.flow, "at the account-creation question")
        return _consent_page(token, pending, lang)

    @bp.post("/matching/create-account")
    def consent_answer():
        """Yes: the council creates the account and the sign-in goes on. No: nothing is
        created, and the council app hears `access_denied`."""
        token = request.form.get("token", "")
        pending = _waiting(token)
        if pending is None:
            return render_page("session-expired")
        set_flow(pending.flow.id)
        g.ui_locale = supported(request.form.get("lang")) or _language(pending.flow.ui_locale)
        journey.check_browser(pending.flow, "at the account-creation question")
        answer = request.form.get("answer")
        if answer not in ("yes", "no"):
            return _consent_page(token, pending, g.ui_locale)
        _client, council = _consent_context(pending)
        taken = current_broker().state.take_pending_consent(token)
        if taken is None or council is None or council.matching is None \
                or not council.matching.account_creation_url:
            return render_page("session-expired")  # a second submit, or the council changed
        pending = replace(taken, flow=replace(taken.flow, ui_locale=g.ui_locale))
        if answer == "no":
            return journey.matched(pending, ConsentDeclined())
        outcome = current_broker().matching.create_account(council, pending.identity,
                                                           pending.match_id, pending.cycle3_answer)
        return journey.matched(pending, outcome)

    app.register_blueprint(bp)


def ask_cycle3(flow: Flow, identity: VerifiedIdentity, council: CouncilConfig, match_id: str,
               from_session: bool):
    """Keeps the sign-in and sends the browser to the question's own page. The step before (the
    continuation after the hub's answer, an OpenID callback with its code) is single-use: a
    page shown there would end the sign-in when reloaded."""
    token = secrets.token_urlsafe(32)
    current_broker().state.save_pending_match(
        token, PendingMatch(flow, identity, council.id, match_id, from_session),
        ttl=current_broker().config.oidc.flow_ttl_seconds)
    return _to_question(token)


def _to_question(token: str):
    """303 to the question's own address: a GET that reload, Back and Forward show again."""
    return "", 303, {"Location": url_for("matching.cycle3_question", token=token),
                     "Cache-Control": "no-store"}


# The account-creation question

def _pending_ttl(flow: Flow) -> int:
    """Never beyond the longest a waiting sign-in can live: the flow's TTL to reach the
    upstream's answer, then the same again here."""
    ttl = current_broker().config.oidc.flow_ttl_seconds
    return min(ttl, flow.created_at + 2 * ttl - int(time.time()))


def ask_consent(flow: Flow, identity: VerifiedIdentity, council: CouncilConfig,
                outcome: NeedsConsent, from_session: bool):
    """Keeps the sign-in and sends the browser to the question's own page, a GET that a reload
    (or a mobile browser waking a background tab) shows again."""
    token = secrets.token_urlsafe(32)
    ttl = _pending_ttl(flow)
    if ttl <= 0:
        return render_page("session-expired")
    current_broker().state.save_pending_consent(
        token, PendingMatch(flow, identity, council.id, outcome.match_id, from_session,
                            cycle3_answer=outcome.cycle3_answer), ttl=ttl)
    return "", 303, {"Location": url_for("matching.consent", token=token),
                     "Cache-Control": "no-store"}


def _waiting(token: str) -> PendingMatch | None:
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    return current_broker().state.get_pending_consent(token)


def _consent_context(pending: PendingMatch):
    broker = current_broker()
    client = broker.clients.get(pending.flow.client_id)
    council = broker.config.councils.get(pending.council_id)
    use_council_brand(pending.council_id)
    return client, council


def _consent_page(token: str, pending: PendingMatch, lang: str):
    client, council = _consent_context(pending)
    if client is None or council is None or council.matching is None:
        return render_page("session-expired")
    g.language_switch_url = url_for("matching.consent", token=token,
                                    lang="en" if lang == "cy" else "cy")
    wording = council.matching.account_creation_consent_text
    with force_locale(lang):
        page = PAGES["consent"].translated()
        body = render_template("matching/consent.html", page=page, token=token, lang=lang,
                               explanation=wording[lang] if wording else page.what_next,
                               service_name=client.config.name)
    return body, 200, {"Cache-Control": "no-store"}
