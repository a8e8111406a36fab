"""Every page a resident can meet, with what happened and what to do next.

One catalogue, so that every failure has its own clear page and no handler improvises wording.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from broker.errors import StateUnavailable
from broker.web.brand_pages import current_council_id, remembered_council, use_council_brand
from broker.web.design import current_language
from broker.web.i18n import SWITCH_PARAMETER, other_language

log = logging.getLogger(__name__)


PAGE_LINK_MAX_AGE = 3600
# Pages that no longer know the flow, but can offer the way back to the resident's council.
WAY_BACK_PAGES = ("session-expired",)
# Endpoints a council app's server calls: their errors are OAuth JSON, never a resident page.
BACK_CHANNEL_ENDPOINTS = ("oidc.token", "oidc.pushed_authorization_request", "oidc.userinfo")


def _l(message: str) -> str:
    """Marks a catalogue text for `make translations`; `translated` shows it in the page's language.

    The catalogue keeps the English text, so code and tests can compare with it."""
    return message


@dataclass(frozen=True)
class Page:
    """A heading, one sentence of what happened, what to do next, and the HTTP status."""

    title: str
    what_happened: str
    what_next: str
    status: int

    def translated(self) -> Page:
        return Page(gettext(self.title), gettext(self.what_happened), gettext(self.what_next),
                    self.status)


PAGES = {
    "cancelled": Page(
        _l("You cancelled signing in"),
        _l("You chose not to prove your identity, so you have not been signed in."),
        _l("You can go back to the council service and start again whenever you are ready."), 200),
    "authn-failed": Page(
        _l("We could not verify your identity"),
        _l("The identity provider could not confirm who you are."),
        _l("Go back to the council service to try again, or contact the council to use the "
           "service another way."), 200),
    "not-verified": Page(
        _l("We could not confirm your identity"),
        _l("Your identity check could not be completed online."),
        _l("Contact the council to use the service another way."), 200),
    "loa-pending": Page(
        _l("Your identity is still being checked"),
        _l("Your identity provider has not finished checking your identity."),
        _l("Try again once they have told you it is ready."), 200),
    "level-not-met": Page(
        _l("You need a higher level of identity check"),
        _l("This service needs a stronger check of your identity than the one you completed."),
        _l("Go back to the council service and sign in again with a stronger identity check."), 200),
    "no-passive": Page(
        _l("You need to sign in"),
        _l("You are not signed in, and this service asked us not to ask you to sign in."),
        _l("Go back to the council service and choose to sign in."), 200),
    "hub-error": Page(
        _l("Sorry, there is a problem with the identity service"),
        _l("The national identity service could not complete your sign-in."),
        _l("Try again later. Go back to the council service to start again."), 502),
    "rejected": Page(
        _l("Sorry, we could not check your sign-in"),
        _l("The answer we received from the identity service could not be trusted, so you "
           "have not been signed in."),
        _l("Go back to the council service and start again."), 400),
    "session-expired": Page(
        _l("Your sign-in has expired or is not recognised"),
        _l("This can happen if you used the back button, waited too long, or opened the "
           "page in another tab."),
        _l("Go back to the council service and start signing in again."), 400),
    "other-browser": Page(
        _l("Finish signing in from the browser you started in"),
        _l("This sign-in was started in a different browser or window, so it cannot be "
           "finished here. You have not been signed in."),
        _l("Go back to the council service and start signing in again."), 400),
    "invalid-request": Page(
        _l("Sorry, this sign-in link is not valid"),
        _l("The council service sent a request we cannot accept."),
        _l("Go back to the council service and try again. If it happens again, contact the council."), 400),
    "unavailable": Page(
        _l("Sorry, the service is unavailable"),
        _l("Part of the sign-in service is not working at the moment."),
        _l("Try again in a few minutes."), 503),
    "signed-out": Page(
        _l("You have signed out"),
        _l("You have been signed out of the council services you used with this identity."),
        _l("You can close this window, or go back to a council service to sign in again."), 200),
    "not-found": Page(
        _l("Page not found"),
        _l("The page you asked for does not exist."),
        _l("Check the address, or go back to the council service."), 404),
    "too-many-requests": Page(
        _l("Sorry, there have been too many attempts to sign in"),
        _l("We have received too many requests from your connection in a short time."),
        _l("Wait a minute, then go back to the council service and start again."), 429),
    "too-large": Page(
        _l("Sorry, that request was too large"),
        _l("We received more data than a sign-in needs."),
        _l("Go back to the council service and start again."), 413),
    # Matching to the council's local account (broker/matching/).
    "cycle3": Page(
        _l("We need one more detail to find your council record"),
        _l("Your identity is verified, but the council could not yet find your record."),
        _l("Answer the question to continue."), 200),
    "no-record": Page(
        _l("We could not find your council record"),
        _l("Your identity is verified, but the council could not find a record that matches it."),
        _l("Contact the council using the details below. They can help you use the service."), 200),
    "matching-unavailable": Page(
        _l("Sorry, we cannot check your council record at the moment"),
        _l("The council's records could not be checked. Nothing has been changed."),
        _l("Try again later. Go back to the council service to start again."), 503),
    "matching-cancelled": Page(
        _l("You cancelled signing in"),
        _l("You chose not to answer the council's question, so you have not been signed in."),
        _l("You can go back to the council service and start again whenever you are ready."), 200),
    "error": Page(
        _l("Sorry, there is a problem with the service"),
        _l("Something went wrong on our side."),
        _l("Try again later. If you contact us, give the reference number below."), 500),
}


def _page_links() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="broker-page-link")


def page_link(name: str, language: str, **details) -> str:
    """A link that shows this page again in `language`: the language switch of a page rendered
    from a POST (the hub's answer cannot be posted twice). Signed, so nobody can forge a page
    with their own "Return to" link; it carries no identity data."""
    token = _page_links().dumps({"name": name, **details})
    return url_for("pages.page", token=token, **{SWITCH_PARAMETER: language})


def render_page(name: str, continue_url: str | None = None, service_name: str | None = None,
                reference: str | None = None, status: int | None = None,
                contact: str | None = None):
    """Renders a catalogue page. `service_name` is the council service that `continue_url` (the
    OIDC error redirect) returns to; `contact` is how to reach the council, where known."""
    page = PAGES[name]
    details = {"continue_url": continue_url, "service_name": service_name,
               "reference": reference, "status": status, "contact": contact,
               "council": current_council_id()}
    g.language_switch_url = page_link(name, other_language(current_language()), **details)
    way_back = None
    if continue_url is None and name in WAY_BACK_PAGES:
        remembered = remembered_council()
        if remembered and remembered[1].url:
            way_back = remembered[1].url, remembered[1].name.in_language(current_language())
    body = render_template("problem.html", page=page.translated(), name=name, continue_url=continue_url,
                           council_service=service_name, reference=reference, contact=contact,
                           way_back=way_back)
    return body, status or page.status, {"Cache-Control": "no-store"}


bp = Blueprint("pages", __name__)


@bp.get("/page/<token>")
def page(token: str):
    """A page again, in the language the resident switched to."""
    try:
        details = _page_links().loads(token, max_age=PAGE_LINK_MAX_AGE)
        name = details.pop("name")
        if name not in PAGES:
            raise BadData("unknown page")
    except (BadData, KeyError, TypeError, AttributeError):
        return render_page("session-expired")
    if isinstance(details.get("council"), str):
        use_council_brand(details["council"])
    return render_page(name, **{key: details.get(key) for key in
                                ("continue_url", "service_name", "reference", "status", "contact")})


def register_error_pages(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.errorhandler(404)
    def not_found(_exc):
        return render_page("not-found")

    @app.errorhandler(413)
    def too_large(_exc):
        return render_page("too-large")

    @app.errorhandler(StateUnavailable)
    def state_unavailable(exc):
        log.error("flow state unavailable: %s", exc)
        if request.endpoint in BACK_CHANNEL_ENDPOINTS:  # a council app's server, not a resident
            return jsonify(error="temporarily_unavailable",
                           error_description="the sign-in service's state store is unavailable"), \
                503, {"Cache-Control": "no-store", "Retry-After": "5"}
        return render_page("unavailable")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code and exc.code < 500:
            return render_page("invalid-request", status=exc.code)
        return render_page("unavailable", status=exc.code)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        reference = secrets.token_hex(4).upper()
        log.exception("unexpected error, reference %s", reference)
        return render_page("error", reference=reference)
