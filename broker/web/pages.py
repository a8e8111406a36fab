"""Every page a resident can meet, with what happened and what to do next.

One catalogue, so that every failure has its own clear page and no handler improvises wording.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext, ngettext
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from broker.errors import StateUnavailable
from broker.web.brand_pages import (
    brand_book,
    current_brand,
    current_council_id,
    remembered_council,
    use_council_brand,
)
from broker.web.design import current_language
from broker.web.i18n import SWITCH_PARAMETER, other_language

log = logging.getLogger(__name__)


PAGE_LINK_MAX_AGE = 3600
# Endpoints a council app's server calls: their errors are OAuth JSON, never a resident page.
BACK_CHANNEL_ENDPOINTS = ("oidc.token", "oidc.pushed_authorization_request", "oidc.userinfo")


def _l(message: str) -> str:
    """Marks a catalogue text for `make translations`; `translated` shows it in the page's language.

    The catalogue keeps the English text, so code and tests can compare with it."""
    return message


@dataclass(frozen=True)
class Page:
    """A heading, one sentence of what happened, what to do next, and the HTTP status.

    `contact_council`: the next step that can work is the council, so the page shows the
    council's contact details when it knows them."""

    title: str
    what_happened: str
    what_next: str
    status: int
    contact_council: bool = False

    def translated(self) -> Page:
        return Page(gettext(self.title), gettext(self.what_happened), gettext(self.what_next),
                    self.status, self.contact_council)


PAGES = {
    "cancelled": Page(
        _l("You cancelled signing in"),
        _l("You chose not to prove your identity, so you have not been signed in."),
        _l("You can go back to the council service and start again whenever you are ready."), 200),
    "authn-failed": Page(
        _l("We could not verify your identity"),
        _l("The identity provider could not confirm who you are."),
        _l("You can go back to the council service and try again. If you cannot prove your "
           "identity online, contact the council to use the service another way."), 200, True),
    # The identity provider's fraud event (Verify's levelX) and One Login's "identity not
    # proven": trying again will not help, the council can.
    "not-verified": Page(
        _l("We could not confirm your identity"),
        _l("Your identity check could not be completed online."),
        _l("Contact the council to use the service another way."), 200, True),
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
        _l("The council service tried to sign you in without asking you, but you are not "
           "signed in yet."),
        _l("Go back to the council service and choose to sign in."), 200),
    "hub-error": Page(
        _l("Sorry, there is a problem with the identity service"),
        _l("The national identity service could not complete your sign-in."),
        _l("Try again later. Go back to the council service to start again."), 502),
    # The answer was signed by the hub or One Login but failed our checks: signing in again
    # gives the same answer, so the next step is the council, not "start again".
    "rejected": Page(
        _l("Sorry, we could not check your sign-in"),
        _l("The answer we received from the identity service could not be trusted, so you "
           "have not been signed in. Trying again will not fix this."),
        _l("Contact the council to use the service another way. We have recorded the problem."),
        400, True),
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
        _l("Go back to the council service and try again. If it happens again, contact the council."),
        400, True),
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
        _l("Your identity is verified, but the council could not find your record from the "
           "details your identity check gave."),
        _l("The council asks this question to find your record, so that it can link it to "
           "your sign-in."), 200),
    "no-record": Page(
        _l("We could not find your council record"),
        _l("Your identity is verified, but the council could not find a record that matches it."),
        _l("Contact the council using the details below. They can help you use the service."),
        200, True),
    "consent": Page(
        _l("Do you want the council to create an account for you?"),
        _l("Your identity is verified, but the council does not have a record that matches it."),
        _l("The council can create a new account for you with the details from your identity "
           "check: your name, date of birth and address. If you say no, nothing is created and "
           "you will not be signed in."), 200),
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
# Pages that may not know the flow: they keep the brand of the council the resident started
# from (remembered in a cookie) and offer the way back to it.
WAY_BACK_PAGES = ("session-expired", "unavailable", "signed-out", "not-found", "too-many-requests",
                  "too-large", "error")
CONTACT_LABELS = {"phone": _l("Phone"), "email": _l("Email"), "address": _l("Address"),
                  "opening_hours": _l("Opening hours"), "web": _l("Website")}


def contact_lines(contact) -> list[str]:
    """A council's configured contact details, one line each, labelled in the page's language."""
    def label(key: str) -> str:
        return gettext(CONTACT_LABELS[key]) if key in CONTACT_LABELS else \
            key.replace("_", " ").capitalize()

    return [f"{label(key)}: {value}" for key, value in contact]


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
    OIDC error redirect) returns to; `contact` is how to reach the council, when the caller
    knows better than the council's brand (which gives it otherwise)."""
    page = PAGES[name]
    way_back = None
    if name in WAY_BACK_PAGES:
        remembered = remembered_council()
        if remembered:
            use_council_brand(remembered[0])
            if continue_url is None and remembered[1].url:
                way_back = remembered[1].url, remembered[1].name.in_language(current_language())
    details = {"continue_url": continue_url, "service_name": service_name,
               "reference": reference, "status": status, "contact": contact,
               "council": current_council_id()}
    g.language_switch_url = page_link(name, other_language(current_language()), **details)
    brand = current_brand()
    lines = []
    if page.contact_council and current_council_id() and brand is not None:
        lines = contact_lines(brand.contact)
    if not lines and contact:
        lines = [contact]
    council_name = brand.name.in_language(current_language()) \
        if brand is not None and current_council_id() else None
    body = render_template("problem.html", page=page.translated(), name=name,
                           continue_url=continue_url, council_service=service_name,
                           reference=reference, contact_lines=lines, council_name=council_name,
                           way_back=way_back)
    return body, status or page.status, {"Cache-Control": "no-store"}


bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class BrokerCookie:
    """One cookie the broker sets, for the cookies page. All are strictly necessary (PECR
    regulation 6(4)): the page lists them, and no banner asks for consent."""

    name: str
    purpose: str  # a catalogue text
    lifetime_seconds: int | None  # None: until the browser is closed


COOKIE_PURPOSES = {
    "session": _l("Keeps you signed in, so that you do not have to prove your identity again "
                  "for another council service."),
    "binding": _l("Makes sure a sign-in can only be finished in the browser that started it, "
                  "so that nobody else can finish it."),
    "language": _l("Remembers whether you chose English or Welsh."),
    "council": _l("Remembers which council you came from, so that we can show you the way back "
                  "to it if your sign-in expires."),
}


def install_cookies_page(app: Flask, cookies: list[BrokerCookie]) -> None:
    app.extensions["broker_cookies"] = cookies


def _lifetime(seconds: int | None) -> str:
    if seconds is None:
        return gettext("When you close your browser")
    if seconds % (365 * 24 * 3600) == 0:
        return ngettext("%(num)d year", "%(num)d years", seconds // (365 * 24 * 3600))
    if seconds % 3600 == 0:
        return ngettext("%(num)d hour", "%(num)d hours", seconds // 3600)
    return ngettext("%(num)d minute", "%(num)d minutes", max(1, seconds // 60))


@bp.get("/cookies")
def cookies():
    """Every cookie the broker sets, its purpose and how long it lasts."""
    remembered = remembered_council()
    if remembered:
        use_council_brand(remembered[0])
    rows = [(cookie.name, gettext(cookie.purpose), _lifetime(cookie.lifetime_seconds))
            for cookie in current_app.extensions.get("broker_cookies", [])]
    return render_template("cookies.html", cookies=rows), 200, {"Cache-Control": "no-cache"}


@bp.get("/")
def landing():
    """What someone who opens the broker's own address finds: not a 404, but what this
    service is and where to start (a council's website)."""
    book = brand_book()
    language = current_language()
    councils = sorted(((brand.name.in_language(language), brand.url)
                       for brand in (book.councils.values() if book else ()) if brand.url),
                      key=lambda council: council[0])
    return render_template("landing.html", councils=councils), 200, {
        "Cache-Control": "no-cache"}


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
