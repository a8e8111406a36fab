"""The one page matching shows: the council's cycle 3 question (and reading its answer).

The journey (`broker.journey`) owns the routes and the flow; this module knows the page, its
wording and what a valid answer is, and counts the pipeline's outcomes.
"""

from __future__ import annotations

import re

from flask import Blueprint, g, render_template, url_for
from flask_babel import gettext

from broker.config import CouncilConfig
from broker.matching.pipeline import Matched, NeedsCycle3, NotFound, Outcome, Unavailable
from broker.observability import MATCHING_OUTCOMES
from broker.web.pages import PAGES

bp = Blueprint("matching", __name__, template_folder="templates")

MAX_ANSWER_LENGTH = 256

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
    g.language_switch_url = url_for("signin.cycle3_language", token=token,
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
