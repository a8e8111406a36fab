"""The pages matching shows: the council's cycle 3 question, and whether to create an account.

The journey (`broker.journey`) owns the flow and the cycle 3 routes; this module knows the pages,
their wording and what a valid answer is, and counts the pipeline's outcomes. The account-creation
question has its own routes here: the journey hands over a `NeedsConsent` outcome (`ask_consent`),
and the resident's answer goes back to the journey as an outcome, through the `JourneyHooks` the
journey installs (matching may not import the journey).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from flask import Blueprint, Flask, current_app, g, render_template, request, url_for
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

bp = Blueprint("matching", __name__, template_folder="templates")

MAX_ANSWER_LENGTH = 256
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _l(message: str) -> str:
    return message


INVALID_ANSWER = _l("Enter your answer in the format shown in the hint")


def _language(ui_locale: str) -> str:
    return ui_locale if ui_locale in ("en", "cy") else "en"


def cycle3_page(council: CouncilConfig, service_name: str, ui_locale: str, token: str,
                answer: str = "", error: bool = False, status: int = 200):
    assert council.matching is not None and council.matching.cycle3 is not None
    cycle3 = council.matching.cycle3
    lang = _language(ui_locale)
    g.ui_locale = lang
    g.language_switch_url = url_for("signin.cycle3_language", token=token,
                                    lang="en" if lang == "cy" else "cy")
    with force_locale(lang):
        body = render_template(
            "matching/cycle3.html", page=PAGES["cycle3"].translated(), name="cycle3", token=token,
            label=cycle3.label[lang], hint=cycle3.hint[lang], answer=answer,
            error=gettext(INVALID_ANSWER) if error else None,
            council=council.name, service_name=service_name)
    return body, status, {"Cache-Control": "no-store"}


def cycle3_leave_page(token: str, ui_locale: str):
    """"Back" from the cycle 3 question: the identity check cannot be gone back to, so the
    resident is asked whether to stop signing in, never stopped without a word."""
    lang = _language(ui_locale)
    g.ui_locale = lang
    g.language_switch_url = None
    with force_locale(lang):
        body = render_template("matching/cycle3_leave.html", token=token, lang=lang)
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


# The account-creation question

@dataclass(frozen=True)
class JourneyHooks:
    """What matching's own routes need from the journey, which they may not import: whether the
    browser is the one that started the flow, the page when it is not, and where an outcome
    goes on (a code, or an OAuth error, for the council app)."""

    started_in_this_browser: Callable[[Flow], bool]
    other_browser: Callable[[Flow, str], object]
    resume: Callable[[PendingMatch, Outcome], object]


def install_journey_hooks(app: Flask, hooks: JourneyHooks) -> None:
    app.extensions["matching_journey_hooks"] = hooks


def _hooks() -> JourneyHooks:
    return current_app.extensions["matching_journey_hooks"]


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
    if not _hooks().started_in_this_browser(pending.flow):
        return _hooks().other_browser(pending.flow, "at the account-creation question")
    return _consent_page(token, pending, lang)


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


@bp.post("/matching/create-account")
def consent_answer():
    """Yes: the council creates the account and the sign-in goes on. No: nothing is created,
    and the council app hears `access_denied`."""
    token = request.form.get("token", "")
    pending = _waiting(token)
    if pending is None:
        return render_page("session-expired")
    set_flow(pending.flow.id)
    g.ui_locale = supported(request.form.get("lang")) or _language(pending.flow.ui_locale)
    if not _hooks().started_in_this_browser(pending.flow):
        return _hooks().other_browser(pending.flow, "at the account-creation question")
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
        return _hooks().resume(pending, ConsentDeclined())
    outcome = current_broker().matching.create_account(council, pending.identity,
                                                       pending.match_id, pending.cycle3_answer)
    return _hooks().resume(pending, outcome)
