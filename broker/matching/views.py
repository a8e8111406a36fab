"""Cycle 3, with one owner: the council's extra question, its page, its routes (the answer, the
language switch, back) and what a valid answer is; and the count of the pipeline's outcomes.

The journey (`broker.journey`) puts a sign-in on the question (`cycle3_page`, the pending match
in Redis) and takes it back through `Cycle3Journey`: the browser check, the outcome of matching
again, or the resident stopping. No endpoint is named across packages.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Protocol

from flask import Blueprint, Flask, g, render_template, request, url_for
from flask_babel import gettext

from broker.config import CouncilConfig
from broker.context import current_broker
from broker.identity import Flow, PendingMatch
from broker.matching.pipeline import Matched, NeedsCycle3, NotFound, Outcome, Unavailable
from broker.observability import MATCHING_OUTCOMES, set_flow
from broker.web.brand_pages import use_council_brand
from broker.web.pages import PAGES, render_page

MAX_ANSWER_LENGTH = 256
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")

INVALID_ANSWER = {
    "en": "Enter your answer in the format shown in the hint",
    "cy": "Rhowch eich ateb yn y fformat a ddangosir yn y cyngor",
}
CONTINUE = {"en": "Continue", "cy": "Parhau"}
CANCEL = {"en": "Cancel signing in", "cy": "Canslo mewngofnodi"}
BACK = {"en": "Back", "cy": "Yn ôl"}
ERROR_SUMMARY = {"en": "There is a problem", "cy": "Mae problem wedi codi"}


def cycle3_page(council: CouncilConfig, service_name: str, ui_locale: str, token: str,
                answer: str = "", error: bool = False, status: int = 200):
    assert council.matching is not None and council.matching.cycle3 is not None
    cycle3 = council.matching.cycle3
    lang = ui_locale if ui_locale in ("en", "cy") else "en"
    g.ui_locale = lang
    g.language_switch_url = url_for("matching.cycle3_language", token=token,
                                    lang="en" if lang == "cy" else "cy")
    body = render_template(
        "matching/cycle3.html", page=PAGES["cycle3"], name="cycle3", lang=lang, token=token,
        label=cycle3.label[lang], hint=cycle3.hint[lang], answer=answer,
        error=INVALID_ANSWER[lang] if error else None, error_summary=ERROR_SUMMARY[lang],
        continue_label=CONTINUE[lang], cancel_label=CANCEL[lang], back_label=BACK[lang],
        council=council.name, service_name=service_name,
        csp_nonce=g.get("csp_nonce", ""))
    return body, status, {"Cache-Control": "no-store"}


def valid_answer(council: CouncilConfig, answer: str) -> bool:
    assert council.matching is not None and council.matching.cycle3 is not None
    return (len(answer) <= MAX_ANSWER_LENGTH
            and re.fullmatch(council.matching.cycle3.pattern, answer) is not None)


def contact_text(contact: dict[str, str]) -> str:
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
        service_name = _service_name(flow, council)
        answer = request.form.get("answer", "").strip()
        if not valid_answer(council, answer):
            return cycle3_page(council, service_name, flow.ui_locale, token,
                               answer=answer[:MAX_ANSWER_LENGTH], error=True, status=400)
        if state.take_pending_match(token) is None:
            return render_page("session-expired")  # a second submit of the same page
        outcome = broker.matching.answer_cycle3(council, pending.identity, pending.match_id,
                                                answer)
        return journey.matched(pending, outcome)

    @bp.get("/matching/cycle3")
    def cycle3_language():
        """The cycle 3 page again in the language the resident switched to; the sign-in keeps it."""
        broker = current_broker()
        token, lang = request.args.get("token", ""), request.args.get("lang", "")
        pending = _pending(token)
        if pending is None or lang not in ("en", "cy"):
            return render_page("session-expired")
        journey.check_browser(pending.flow, "at the cycle 3 language switch")
        flow = replace(pending.flow, ui_locale=lang)
        # Never beyond the longest a waiting sign-in can live: the flow's TTL to reach the
        # upstream's answer, then the same again on this page.
        ttl = broker.config.oidc.flow_ttl_seconds
        remaining = min(ttl, flow.created_at + 2 * ttl - int(time.time()))
        council = broker.config.councils.get(pending.council_id)
        if remaining <= 0 or council is None or council.matching is None \
                or council.matching.cycle3 is None:
            return render_page("session-expired")
        broker.state.save_pending_match(token, replace(pending, flow=flow), ttl=remaining)
        return cycle3_page(council, _service_name(flow, council), lang, token)

    @bp.get("/matching/cycle3/back")
    def cycle3_back():
        """"Back" from the cycle 3 page: the upstream's step cannot be replayed, so back is to
        the council app."""
        state = current_broker().state
        token = request.args.get("token", "")
        pending = _pending(token)
        if pending is None:
            return render_page("session-expired")
        journey.check_browser(pending.flow, "back from the cycle 3 question")
        if state.take_pending_match(token) is None:
            return render_page("session-expired")
        return journey.stopped(pending.flow, "the resident went back", None)

    app.register_blueprint(bp)
